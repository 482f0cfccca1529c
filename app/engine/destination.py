"""The destination's load path: qemu_loadvm_state parsing the main channel in order, the
switchover-ack count (qemu_loadvm_state_switchover_ack_needed,
qemu_loadvm_approve_switchover) and the ack it sends on the return path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .devices import DeviceRuntime
from .stream import Record
from .trace import EventKind
from .vfio import VfioState

if TYPE_CHECKING:
    from .simulation import Simulation


@dataclass
class DestinationLoader:
    sim: Simulation
    ack_enabled: bool
    pending_num: int = 0
    # (time the source learns of it, message): a load error ends the migration.
    error: tuple[float, str] | None = None
    vm_running: bool = False
    started_ms: float = 0.0

    def on_load(self, record: Record) -> None:
        """Destination side of a main-channel record, at the time it is loaded."""
        sim = self.sim
        t = record.load_end_ms
        if self.error is not None:
            return
        if record.kind == "header":
            sim.event(
                t,
                EventKind.STATUS,
                "destination",
                "destination: incoming migration active; load_setup hooks run",
                "qemu_loadvm_state_setup",
                status="active",
            )
            for dev in sim.devs:
                sim.device_transition(dev, "destination", VfioState.RESUMING, t, "vfio_load_setup")
            if self.ack_enabled:
                self.pending_num = sum(1 for d in sim.devs if d.needs_ack)
                sim.event(
                    t,
                    EventKind.ACK_NEEDED,
                    "destination",
                    f"switchover ack pending num={self.pending_num}: "
                    f"{self.pending_num} device(s) must load their initial bytes first",
                    "qemu_loadvm_state_switchover_ack_needed",
                    pending_num=self.pending_num,
                )
        elif record.label == "OPEN_RETURN_PATH":
            sim.event(
                t,
                EventKind.OPEN_RETURN_PATH,
                "destination",
                "destination opened the return path",
                "loadvm_process_command",
            )
            if self.ack_enabled and self.pending_num == 0:
                self.send_ack(
                    t,
                    None,
                    "no device needs an ack: the destination acks as soon as the return path opens",
                )
        elif record.label == "PING":
            sim.event(
                t + sim.rp.latency_ms,
                EventKind.PONG,
                "source",
                "PONG 0x1 received on the return path",
                "source_return_path_thread",
            )
        elif record.label == "INIT_DATA_SENT":
            self.init_data_sent(record, t)

    def init_data_sent(self, record: Record, t: float) -> None:
        """vfio_load_state parses VFIO_MIG_FLAG_DEV_INIT_DATA_SENT: every initial byte before
        it was written into the device (and, image by image, loaded)."""
        sim = self.sim
        dev = next(d for d in sim.devs if d.name == record.device)
        dev.init_data_loaded_at_ms = t
        if not self.ack_enabled or not dev.needs_ack:
            message = "Received INIT_DATA_SENT but switchover ack is not used"
            sim.event(
                t,
                EventKind.ERROR,
                "destination",
                f"{dev.name}: {message}; load of migration failed: Invalid argument",
                "vfio_load_state",
                dev.name,
            )
            self.error = (
                t + sim.rp.latency_ms,
                f"destination: {message} (device {dev.name}); load of migration failed: Invalid argument",
            )
            sim.main.dest_dead = True
            return
        sim.event(
            t,
            EventKind.INIT_DATA_LOADED,
            "destination",
            f"{dev.name}: INIT_DATA_SENT processed: all its initial "
            "bytes are loaded into the device",
            "vfio_load_state",
            dev.name,
        )
        if sim.profile.reusable_ack:
            self.send_ack(
                t, dev, f"{dev.name} loaded its initial bytes (per-device ack, proposed 2026)"
            )
            return
        if self.pending_num <= 0:
            return
        self.pending_num -= 1
        sim.event(
            t,
            EventKind.APPROVE,
            "destination",
            f"switchover ack pending num={self.pending_num}",
            "qemu_loadvm_approve_switchover",
            dev.name,
            pending_num=self.pending_num,
        )
        if self.pending_num == 0:
            self.send_ack(t, None, "the last device needing an ack loaded its initial bytes")

    def send_ack(self, t: float, dev: DeviceRuntime | None, why: str) -> None:
        """migrate_send_rp_switchover_ack; the source's return-path thread sets
        switchover_acked one latency later."""
        sim = self.sim
        rp = sim.rp
        arrival = t + rp.latency_ms
        name = dev.name if dev else None
        sim.event(
            t,
            EventKind.ACK_SENT,
            "destination",
            f"SWITCHOVER_ACK sent on the return path: {why}",
            "migrate_send_rp_switchover_ack",
            name,
        )
        sim.event(
            arrival,
            EventKind.ACK_RECEIVED,
            "source",
            "SWITCHOVER_ACK received: switchover_acked = true "
            "(a gate, not a trigger: completion still needs pending <= threshold)",
            "source_return_path_thread_switchover_acked",
            name,
        )
        sim.ack_arrivals.append(arrival)
        if dev is not None:
            dev.ack_arrival_ms = arrival
        else:
            rp.ack_sent_ms = t
            rp.ack_arrival_ms = arrival
        if not sim.src_ack:
            return
        if dev is None:
            rp.open_gate(arrival, "the switchover ack arrived")
            return
        arrivals = [d.ack_arrival_ms for d in sim.devs if d.needs_ack]
        if all(a is not None for a in arrivals):
            rp.open_gate(
                max(a for a in arrivals if a is not None),
                "every device that needs an ack has a valid ack",
            )
