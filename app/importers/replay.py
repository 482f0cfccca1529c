"""Stage 3 of building a trace: replay the merged trace lines of both hosts in time order.

`Replay` holds what QEMU's state was at each line (status, devices, passes, named instants)
and has one handler per trace event it understands (`TRACE_HANDLERS`, `VFIO_HANDLERS`). Each
pre-copy pass (one `migrate_pending_estimate` to the next) is recorded as a `PassRecord` with
the figures at its end; the steps stage turns them into steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from app.engine.trace import DeviceStep, Event

from .inputs import ImportInputs
from .qmpevents import QmpEventLog
from .tracelog import INIT_DATA_SENT_ERROR, TraceLog, TraceRecord

INIT_DATA_SENT_TAG = 0xFFFFFFFFEF100005
RP_SHUT, RP_PONG, RP_SWITCHOVER_ACK = 1, 2, 7
VFIO_STATE_NAMES = {
    "stop": "STOP",
    "running": "RUNNING",
    "stop-copy": "STOP_COPY",
    "resuming": "RESUMING",
    "running-p2p": "RUNNING_P2P",
    "pre-copy": "PRE_COPY",
    "pre-copy-p2p": "PRE_COPY_P2P",
}
FinalStatus = Literal["completed", "failed", "cancelled"]
# The host a trace line or QMP event came from.
HostSide = Literal["source", "destination"]
# A switchover instant (ms) and how it is known: "measured" (checkpoint) or "derived".
Instant = tuple[float | None, str]


@dataclass
class DeviceRecord:
    """One VFIO device as the trace lines so far describe it (None: not logged yet)."""

    name: str
    src_state: str | None = None
    dst_state: str | None = None
    init_est: int | None = None
    dirty_est: int | None = None
    init_kernel: int | None = None
    dirty_kernel: int | None = None
    stop_copy: int | None = None
    sent: int | None = None
    loaded: int | None = None
    init_loaded: int | None = None
    init_data_sent: bool | None = None
    init_data_loaded: bool | None = None
    initial_bytes: int | None = None
    precopy: bool | None = None
    precopy_sent: int = 0
    stopcopy_sent: int = 0
    init_data_sent_at_ms: float | None = None
    init_data_loaded_at_ms: float | None = None

    def snapshot(self) -> DeviceStep:
        return DeviceStep(
            name=self.name,
            src_state=self.src_state,
            dst_state=self.dst_state,
            init_est_bytes=self.init_est,
            dirty_est_bytes=self.dirty_est,
            init_kernel_bytes=self.init_kernel,
            dirty_kernel_bytes=self.dirty_kernel,
            stop_copy_length_bytes=self.stop_copy,
            sent_bytes=self.sent,
            loaded_bytes=self.loaded,
            init_loaded_bytes=self.init_loaded,
            init_data_sent=self.init_data_sent,
            init_data_loaded=self.init_data_loaded,
        )


@dataclass
class PassRecord:
    """One pass of migration_iteration_run: what it saw at its start, and (once closed) the
    figures at its end."""

    start_ms: float
    estimate: int | None = None
    exact: int | None = None
    decided: int | None = None  # migration_thread_low_pending value
    window_bytes: int | None = None
    window_bw: float | None = None
    slept_ms: int | None = None
    threshold_at_start: float | None = None
    acked_at_start: bool = False
    status: str = "active"
    # Set when the pass ends (close_pass).
    end_ms: float | None = None
    end_status: str | None = None
    devices: list[DeviceStep] = field(default_factory=list)
    sync_count: int | None = None
    bandwidth_bytes_per_s: float | None = None
    threshold_bytes: float | None = None
    vfio_sent_bytes: int | None = None
    acked: bool | None = None

    @property
    def closed(self) -> bool:
        return self.end_ms is not None


Handler = Callable[["Replay", float, HostSide, TraceRecord], None]
VfioHandler = Callable[["Replay", float, HostSide, DeviceRecord, TraceRecord], None]


@dataclass
class Replay:
    t0_us: int
    offset_us: int
    untimed: bool
    ack_in_use: bool | None
    status: str = "none"
    dst_status: str | None = None
    sync_count: int = 0
    setup_sync_count: int | None = None
    bandwidth_bytes_per_s: float | None = None
    threshold_bytes: float | None = None
    vfio_sent_total: int = 0
    acked: bool = False
    vm_stopped: bool = False
    devices: dict[str, DeviceRecord] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)  # named instants (ms), first occurrence
    checkpoints: dict[str, float] = field(default_factory=dict)
    handler_downtimes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    passes: list[PassRecord] = field(default_factory=list)
    iterable_ids: set[str] = field(default_factory=set)
    after_stop_sections: list[tuple[str, float, float | None]] = field(default_factory=list)
    section_open: dict[str, float] = field(default_factory=dict)
    # (t_ms, device snapshots, vfio bytes sent) after each VFIO line once the VM stopped, so
    # every switchover phase shows the devices as they were at its end.
    late_snapshots: list[tuple[float, list[DeviceStep], int]] = field(default_factory=list)
    # Devices whose destination refused INIT_DATA_SENT (switchover-ack off there).
    init_errors: set[str | None] = field(default_factory=set)

    # ------------------------------------------------------------ bookkeeping

    def mark(self, name: str, t_ms: float) -> None:
        self.marks.setdefault(name, t_ms)

    def device(self, name: str) -> DeviceRecord:
        if name not in self.devices:
            self.devices[name] = DeviceRecord(name=name)
        return self.devices[name]

    def snapshots(self) -> list[DeviceStep]:
        return [device.snapshot() for device in self.devices.values()]

    def event(
        self,
        t_ms: float,
        kind: str,
        side: HostSide,
        detail: str,
        fn: str | None,
        device: str | None = None,
        **data: Any,
    ) -> None:
        self.events.append(
            Event(
                t_ms=round(t_ms, 3),
                step=0,
                kind=kind,
                side=side,
                device=device,
                detail=detail,
                qemu_function=fn,
                data=data,
            )
        )

    def close_pass(self, end_ms: float) -> None:
        if not self.passes or self.passes[-1].closed:
            return
        last = self.passes[-1]
        last.end_ms = end_ms
        last.end_status = self.status
        last.devices = self.snapshots()
        last.sync_count = self.sync_count
        last.bandwidth_bytes_per_s = self.bandwidth_bytes_per_s
        last.threshold_bytes = self.threshold_bytes
        last.vfio_sent_bytes = self.vfio_sent_total
        last.acked = self.acked

    # ------------------------------------------------------------ the replay

    def add_devices_seen(self, inputs: ImportInputs) -> None:
        """Every device any file names, in name order (so every step lists the same devices)."""
        names: set[str] = set()
        for log in (inputs.src_trace, inputs.dst_trace):
            if log is not None:
                names.update(
                    r.fields["device"]
                    for r in log.records
                    if r.name.startswith("vfio_") and r.fields.get("device")
                )
        for events in (inputs.src_events, inputs.dst_events):
            if events is not None:
                names.update(e.data["device-id"] for e in events.named("VFIO_MIGRATION"))
        for name in sorted(names):
            self.device(name)

    def timeline(self, inputs: ImportInputs) -> list[tuple[float, HostSide, TraceRecord]]:
        """Both hosts' trace lines on the source clock, in time order."""
        out: list[tuple[float, int, int, HostSide, TraceRecord]] = []
        traces: tuple[tuple[HostSide, TraceLog | None, int], ...] = (
            ("source", inputs.src_trace, 0),
            ("destination", inputs.dst_trace, self.offset_us),
        )
        for side, log, shift in traces:
            if log is None:
                continue
            for r in log.records:
                if self.untimed or r.t_us is None:
                    t_ms = float(r.line)
                else:
                    t_ms = (r.t_us - shift - self.t0_us) / 1000.0
                out.append((t_ms, 0 if side == "source" else 1, r.line, side, r))
        # VFIO_MIGRATION events join the timeline as state lines (so every step's device snapshot
        # has them) for devices whose trace on that side has no state lines of its own.
        event_logs: tuple[tuple[HostSide, QmpEventLog | None, int, TraceLog | None], ...] = (
            ("source", inputs.src_events, 0, inputs.src_trace),
            ("destination", inputs.dst_events, self.offset_us, inputs.dst_trace),
        )
        for side, events, shift, log in event_logs:
            if events is None or self.untimed:
                continue
            traced = {
                r.fields.get("device")
                for r in (log.records if log is not None else [])
                if r.name in ("vfio_migration_set_state", "vfio_migration_set_device_state")
            }
            for e in events.named("VFIO_MIGRATION"):
                if e.data["device-id"] in traced:
                    continue
                state = VFIO_STATE_NAMES.get(e.data["device-state"], e.data["device-state"].upper())
                record = TraceRecord(
                    line=e.line,
                    t_us=e.t_us,
                    pid=None,
                    name="vfio_migration_set_device_state",
                    fields={"device": e.data["device-id"], "state": state, "qmp": True},
                )
                out.append(
                    (
                        (e.t_us - shift - self.t0_us) / 1000.0,
                        0 if side == "source" else 1,
                        e.line,
                        side,
                        record,
                    )
                )
        # Stable: time, then source before destination at equal times, then file order.
        out.sort(key=lambda item: (item[0], item[1], item[2]))
        return [(t, side, r) for t, _, _, side, r in out]

    def run(self, inputs: ImportInputs) -> None:
        """Replay every trace line, then fill in what only the QMP events say."""
        self.add_devices_seen(inputs)
        merged = self.timeline(inputs)
        self.init_errors = {
            r.fields.get("device")
            for _, _, r in merged
            if r.name == "error_report" and INIT_DATA_SENT_ERROR in r.fields["message"]
        }
        for t_ms, side, record in merged:
            self.apply(t_ms, side, record)
        self.close_pass(self.marks.get("low_pending", self.marks.get("end_of_log", 0.0)))
        self.apply_qmp_events(inputs)
        self.add_vm_stop_start_events()

    def apply(self, t: float, side: HostSide, record: TraceRecord) -> None:
        if record.name.startswith("vfio_"):
            device = self.device(record.fields["device"])
            vfio_handler = VFIO_HANDLERS.get(record.name)
            if vfio_handler is not None:
                vfio_handler(self, t, side, device, record)
            if self.vm_stopped:
                self.late_snapshots.append((t, self.snapshots(), self.vfio_sent_total))
            return
        handler = TRACE_HANDLERS.get(record.name)
        if handler is not None:
            handler(self, t, side, record)

    # ------------------------------------------------------------ migration thread

    def on_set_state(self, t: float, side: HostSide, r: TraceRecord) -> None:
        state = r.fields["state"]
        if side == "source":
            self.status = state
            self.mark(f"src_{state}", t)
            if state in ("cancelling", "cancelled", "failed", "completed"):
                self.close_pass(t)
        else:
            self.dst_status = state
            self.mark(f"dst_{state}", t)
        self.event(
            t, "status", side, f"{side} status -> {state}", "migrate_set_state", status=state
        )

    def on_pending_estimate(self, t: float, side: HostSide, r: TraceRecord) -> None:
        if side != "source":
            return
        if self.passes:
            self.close_pass(t)
        else:
            self.setup_sync_count = self.sync_count
        self.passes.append(
            PassRecord(
                start_ms=t,
                estimate=r.fields["pending"],
                threshold_at_start=self.threshold_bytes,
                acked_at_start=self.acked,
                status=self.status,
            )
        )
        if self.acked and "switchover_permitted" not in self.marks and self.ack_in_use:
            self.mark("switchover_permitted", t)
            self.event(
                t,
                "switchover_permitted",
                "source",
                "first pass that sees the ack: can_switchover is true from here",
                "migration_can_switchover",
            )

    def on_pending_exact(self, t: float, side: HostSide, r: TraceRecord) -> None:
        if side == "source" and self.passes:
            self.passes[-1].exact = r.fields["pending"]

    def on_low_pending(self, t: float, side: HostSide, r: TraceRecord) -> None:
        if side != "source":
            return
        pending = r.fields["pending"]
        if self.passes:
            self.passes[-1].decided = pending
        self.mark("low_pending", t)
        self.close_pass(t)
        self.event(
            t,
            "switchover_decided",
            "source",
            f"pending {pending} bytes is below the threshold: switch over",
            "migration_iteration_run",
            pending_bytes=pending,
        )

    def on_transferred(self, t: float, side: HostSide, r: TraceRecord) -> None:
        if side != "source":
            return
        f = r.fields
        bw = f["bandwidth"] * 1000.0  # bytes/ms -> bytes/s
        self.bandwidth_bytes_per_s = bw
        self.threshold_bytes = float(f["max_size"])
        if self.passes and not self.passes[-1].closed:
            self.passes[-1].window_bytes = f["transferred"]
            self.passes[-1].window_bw = bw
        data = {
            "bandwidth_bytes_per_s": bw,
            "threshold_bytes": float(f["max_size"]),
            "window_bytes": f["transferred"],
            "time_spent_ms": f["time_spent"],
        }
        if f.get("switchover_bw"):
            data["switchover_bandwidth_bytes_per_s"] = f["switchover_bw"] * 1000.0
        self.event(
            t,
            "window",
            "source",
            f"window closed: {f['transferred']} bytes in {f['time_spent']} ms",
            "migration_update_counters",
            **data,
        )

    def on_rate_limit(self, t: float, side: HostSide, r: TraceRecord) -> None:
        if side == "source" and self.passes:
            self.passes[-1].slept_ms = r.fields["ms"]

    def on_sync_start(self, t: float, side: HostSide, r: TraceRecord) -> None:
        if side != "source":
            return
        self.sync_count += 1
        if self.vm_stopped:
            self.mark("final_sync_start", t)

    def on_sync_end(self, t: float, side: HostSide, r: TraceRecord) -> None:
        if side != "source":
            return
        if self.vm_stopped:
            self.mark("final_sync_end", t)
        pages = r.fields["dirty_pages"]
        self.event(
            t,
            "bitmap_sync",
            "source",
            f"dirty bitmap sync #{self.sync_count}: {pages} dirty pages in this rate period",
            "migration_bitmap_sync",
            dirty_pages=pages,
            sync_count=self.sync_count,
        )

    def on_section_start(self, t: float, side: HostSide, r: TraceRecord) -> None:
        if side != "source":
            return
        if self.vm_stopped:
            self.section_open[r.fields["idstr"]] = t
        elif self.status in ("active", "setup"):
            self.iterable_ids.add(r.fields["idstr"])

    def on_section_end(self, t: float, side: HostSide, r: TraceRecord) -> None:
        if side == "source" and self.vm_stopped:
            idstr = r.fields["idstr"]
            self.after_stop_sections.append((idstr, self.section_open.pop(idstr, t), t))

    def on_vm_stop(self, t: float, side: HostSide, r: TraceRecord) -> None:
        if side != "source":
            return
        if not self.vm_stopped:
            self.late_snapshots.append((t, self.snapshots(), self.vfio_sent_total))
        self.vm_stopped = True
        self.mark("vm_stopped", t)

    def on_checkpoint(self, t: float, side: HostSide, r: TraceRecord) -> None:
        name = r.fields["checkpoint"]
        self.checkpoints.setdefault(name, t)
        if name == "src-downtime-start":
            self.vm_stopped = True

    def on_handler_downtime(self, t: float, side: HostSide, r: TraceRecord) -> None:
        f = r.fields
        self.handler_downtimes.append(
            {
                "side": side,
                "kind": "save" if r.name.endswith("save") else "load",
                "type": f["type"],
                "idstr": f["idstr"],
                "instance_id": f["instance_id"],
                "downtime_ms": f["downtime_us"] / 1000.0,
                "at_ms": round(t, 3),
            }
        )

    def on_migrate_error(self, t: float, side: HostSide, r: TraceRecord) -> None:
        self.errors.append(f"{side}: {r.fields['error']}")
        self.event(t, "error", side, r.fields["error"], r.name)

    def on_error_report(self, t: float, side: HostSide, r: TraceRecord) -> None:
        f = r.fields
        self.errors.append(f"{side}: {f['message']}")
        self.event(
            t, "error", side, f["message"], "error_report", device=f.get("device"), level=f["level"]
        )

    # ------------------------------------------------------------ stream and return path

    def on_open_return_path(self, t: float, side: HostSide, r: TraceRecord) -> None:
        if r.name == "loadvm_process_command" and r.fields["com"] != "OPEN_RETURN_PATH":
            return
        src = side == "source"
        self.event(
            t,
            "open_return_path",
            side,
            "MIG_CMD_OPEN_RETURN_PATH " + ("sent" if src else "processed"),
            "qemu_savevm_send_open_return_path" if src else "loadvm_process_command",
        )

    def on_ping(self, t: float, side: HostSide, r: TraceRecord) -> None:
        value = r.fields["value"]
        self.event(
            t,
            "ping",
            side,
            f"PING {value:#x} " + ("sent" if side == "source" else "processed"),
            r.name,
            value=value,
        )

    def on_pong(self, t: float, side: HostSide, r: TraceRecord) -> None:
        value = r.fields["value"]
        self.event(
            t,
            "pong",
            "source",
            f"PONG {value:#x} received",
            "source_return_path_thread",
            value=value,
        )

    def on_send_rp_message(self, t: float, side: HostSide, r: TraceRecord) -> None:
        if side == "source":
            return
        msg_type = r.fields["msg_type"]
        kind = {RP_SHUT: "shut_sent", RP_PONG: "pong", RP_SWITCHOVER_ACK: "ack_sent"}.get(msg_type)
        if kind is None:
            return
        label = {
            "shut_sent": "SHUT sent on the return path",
            "pong": "PONG sent",
            "ack_sent": "SWITCHOVER_ACK sent: every device approved",
        }[kind]
        if kind == "ack_sent":
            self.mark("ack_sent", t)
        self.event(t, kind, "destination", label, "migrate_send_rp_message", msg_type=msg_type)

    def on_ack_received(self, t: float, side: HostSide, r: TraceRecord) -> None:
        self.acked = True
        self.mark("ack_received", t)
        self.event(
            t,
            "ack_received",
            "source",
            "SWITCHOVER_ACK received: switchover_acked = true",
            "source_return_path_thread",
        )

    def on_shut_received(self, t: float, side: HostSide, r: TraceRecord) -> None:
        value = r.fields["value"]
        self.mark("shut_received", t)
        detail = (
            "SHUT received: the destination finished"
            if value == 0
            else f"SHUT received with error {value:#x}: the destination failed"
        )
        self.event(t, "shut_received", "source", detail, "source_return_path_thread", value=value)

    def on_return_path_bad_end(self, t: float, side: HostSide, r: TraceRecord) -> None:
        self.event(
            t, "error", "source", "return path ended with an error", "source_return_path_thread"
        )

    # ------------------------------------------------------------ VFIO devices

    def set_device_state(
        self, t: float, side: HostSide, device: DeviceRecord, state: str, fn: str
    ) -> None:
        old = device.src_state if side == "source" else device.dst_state
        if old == state:
            return
        if side == "source":
            device.src_state = state
            if state.startswith("PRE_COPY"):
                device.precopy = True
        else:
            device.dst_state = state
        self.event(
            t,
            "device_state",
            side,
            f"{device.name}: {old or '?'} -> {state}",
            fn,
            device=device.name,
            **{"from": old, "to": state},
        )

    def on_vfio_device_state(
        self, t: float, side: HostSide, device: DeviceRecord, r: TraceRecord
    ) -> None:
        self.set_device_state(
            t,
            side,
            device,
            r.fields["state"],
            "vfio_migration_send_event" if r.fields.get("qmp") else r.name,
        )

    def on_vfio_set_state(
        self, t: float, side: HostSide, device: DeviceRecord, r: TraceRecord
    ) -> None:
        # 8.1 prints the state reached; 9.1+ prints the request ("new state"), confirmed later
        # by vfio_migration_set_device_state, which then wins (same value: no second event).
        self.set_device_state(t, side, device, r.fields["state"] or r.fields["new_state"], r.name)

    def on_vfio_pending_estimate(
        self, t: float, side: HostSide, device: DeviceRecord, r: TraceRecord
    ) -> None:
        if side != "source":
            return
        device.init_est, device.dirty_est = r.fields["init"], r.fields["dirty"]
        if device.initial_bytes is None and device.init_est is not None:
            device.initial_bytes = device.init_est

    def on_vfio_pending_exact(
        self, t: float, side: HostSide, device: DeviceRecord, r: TraceRecord
    ) -> None:
        if side != "source":
            return
        f = r.fields
        device.stop_copy = f["stopcopy"]
        device.init_kernel, device.dirty_kernel = f["init"], f["dirty"]
        device.init_est, device.dirty_est = f["init"], f["dirty"]
        if device.initial_bytes is None:
            device.initial_bytes = f["init"]

    def on_vfio_save_block(
        self, t: float, side: HostSide, device: DeviceRecord, r: TraceRecord
    ) -> None:
        if side != "source":
            return
        size = max(0, r.fields["data_size"])
        device.sent = (device.sent or 0) + size
        self.vfio_sent_total += size
        if self.vm_stopped:
            device.stopcopy_sent += size
        else:
            device.precopy_sent += size

    def on_vfio_save_iterate(
        self, t: float, side: HostSide, device: DeviceRecord, r: TraceRecord
    ) -> None:
        if side != "source":
            return
        f = r.fields
        device.precopy = True
        device.init_est, device.dirty_est = f["init"], f["dirty"]
        if device.sent is None:
            device.sent = 0
        if self.ack_in_use and f["init"] == 0 and not device.init_data_sent:
            device.init_data_sent = True
            device.init_data_sent_at_ms = t
            self.event(
                t,
                "init_data_sent",
                "source",
                f"{device.name}: initial bytes all read; section ends with INIT_DATA_SENT (derived: precopy initial size 0)",
                "vfio_save_iterate",
                device=device.name,
            )
        elif device.init_data_sent is None and self.ack_in_use:
            device.init_data_sent = False

    def on_vfio_load_state(
        self, t: float, side: HostSide, device: DeviceRecord, r: TraceRecord
    ) -> None:
        if (
            side == "source"
            or r.fields["data"] != INIT_DATA_SENT_TAG
            or device.name in self.init_errors
        ):
            return
        device.init_data_loaded = True
        device.init_data_loaded_at_ms = t
        self.event(
            t,
            "init_data_loaded",
            "destination",
            f"{device.name}: INIT_DATA_SENT processed, device approves switchover",
            "vfio_load_state",
            device=device.name,
        )

    def on_vfio_load_data(
        self, t: float, side: HostSide, device: DeviceRecord, r: TraceRecord
    ) -> None:
        if side == "source":
            return
        size = max(0, r.fields["size"])
        device.loaded = (device.loaded or 0) + size
        if not device.init_data_loaded and self.ack_in_use:
            device.init_loaded = (device.init_loaded or 0) + size
        if device.init_data_loaded is None and self.ack_in_use:
            device.init_data_loaded = False

    def on_vfio_save_setup(
        self, t: float, side: HostSide, device: DeviceRecord, r: TraceRecord
    ) -> None:
        if side == "source" and device.sent is None:
            device.sent = 0

    def on_vfio_complete_precopy(
        self, t: float, side: HostSide, device: DeviceRecord, r: TraceRecord
    ) -> None:
        if side == "source":
            self.mark("vfio_complete_" + device.name, t)

    # ------------------------------------------------------------ after the trace lines

    def apply_qmp_events(self, inputs: ImportInputs) -> None:
        """QMP events fill what the traces did not give (and STOP/RESUME instants)."""
        sides: tuple[tuple[HostSide, QmpEventLog | None, int], ...] = (
            ("source", inputs.src_events, 0),
            ("destination", inputs.dst_events, self.offset_us),
        )
        trace_status = {e.side for e in self.events if e.kind == "status"}
        trace_syncs = any(e.kind == "bitmap_sync" for e in self.events)
        for side, log, shift in sides:
            if log is None:
                continue
            for e in log.events:
                t = (e.t_us - shift - self.t0_us) / 1000.0
                if e.name == "STOP" and side == "source":
                    self.mark("qmp_stop", t)
                elif e.name == "RESUME" and side == "destination":
                    self.mark("qmp_resume", t)
                elif e.name == "MIGRATION":
                    status = e.data["status"]
                    self.mark(f"qmp_{'src' if side == 'source' else 'dst'}_{status}", t)
                    if side not in trace_status:
                        self.event(
                            t,
                            "status",
                            side,
                            f"{side} status -> {status} (QMP event)",
                            "migrate_set_state",
                            status=status,
                        )
                elif e.name == "MIGRATION_PASS" and side == "source" and not trace_syncs:
                    self.event(
                        t,
                        "bitmap_sync",
                        "source",
                        f"dirty bitmap sync #{e.data['pass']} (QMP MIGRATION_PASS)",
                        "migration_bitmap_sync",
                        sync_count=e.data["pass"],
                    )

    def add_vm_stop_start_events(self) -> None:
        """One vm_stop and one vm_start event, from the best source available."""
        # (kind, side, candidate instants best first: (t_ms, how it is known, derived?))
        choices: tuple[tuple[str, HostSide, tuple[tuple[float | None, str, bool], ...]], ...] = (
            (
                "vm_stop",
                "source",
                (
                    (self.checkpoints.get("src-vm-stopped"), "checkpoint src-vm-stopped", False),
                    (self.marks.get("vm_stopped"), "migration_completion_vm_stop", False),
                    (self.marks.get("qmp_stop"), "QMP STOP", False),
                ),
            ),
            (
                "vm_start",
                "destination",
                (
                    (
                        self.checkpoints.get("dst-precopy-bh-vm-started"),
                        "checkpoint dst-precopy-bh-vm-started",
                        False,
                    ),
                    (self.marks.get("qmp_resume"), "QMP RESUME", False),
                    (
                        self.marks.get("dst_completed"),
                        "derived: destination status completed right after vm_start",
                        True,
                    ),
                ),
            ),
        )
        for kind, side, options in choices:
            for t, how, derived in options:
                if t is not None:
                    what = "source VM stopped" if kind == "vm_stop" else "destination VM running"
                    fn = "migration_stop_vm" if kind == "vm_stop" else "vm_start"
                    if derived:
                        self.event(t, kind, side, f"{what} ({how})", fn, derived=True)
                    else:
                        self.event(t, kind, side, f"{what} ({how})", fn)
                    break

    # ------------------------------------------------------------ what the replay found

    def switchover_instants(self) -> dict[str, Instant]:
        """Switchover instants (ms) with 'measured' (checkpoint) or 'derived' (nearest trace line)."""
        cp, m = self.checkpoints, self.marks

        def pick(*options: Instant) -> Instant:
            for value, how in options:
                if value is not None:
                    return value, how
            return None, ""

        iterable_end: float | None = None
        ram_end: float | None = None
        for idstr, _start, end in self.after_stop_sections:
            if idstr in self.iterable_ids:
                iterable_end = end
                if idstr == "ram":
                    ram_end = end
        non_iterable_end = max(
            (end for _, _, end in self.after_stop_sections if end is not None), default=None
        )
        return {
            "start": pick(
                (cp.get("src-downtime-start"), "measured"),
                (m.get("low_pending"), "derived"),
                (m.get("qmp_stop"), "derived"),
            ),
            "vm_stopped": pick(
                (cp.get("src-vm-stopped"), "measured"),
                (m.get("vm_stopped"), "derived"),
                (m.get("qmp_stop"), "derived"),
            ),
            "ram_saved": pick((ram_end, "derived")),
            "iterable_saved": pick(
                (cp.get("src-iterable-saved"), "measured"), (iterable_end, "derived")
            ),
            "non_iterable_saved": pick(
                (cp.get("src-non-iterable-saved"), "measured"),
                (m.get("rp_end_before"), "derived"),
                (non_iterable_end, "derived"),
            ),
            "dst_loaded": pick(
                (cp.get("dst-precopy-loadvm-completed"), "measured"),
                (m.get("dst_loadvm_done"), "derived"),
            ),
            "dst_started": pick(
                (cp.get("dst-precopy-bh-vm-started"), "measured"),
                (m.get("qmp_resume"), "measured"),
                (m.get("dst_completed"), "derived"),
            ),
            "end": pick(
                (cp.get("src-downtime-end"), "measured"),
                (m.get("rp_end_after"), "derived"),
                (m.get("shut_received"), "derived"),
                (m.get("src_completed"), "derived"),
                (m.get("qmp_src_completed"), "derived"),
            ),
        }

    def final_status(self, inputs: ImportInputs) -> FinalStatus:
        candidates = [
            self.status if inputs.src_trace is not None and self.status != "none" else None
        ]
        if inputs.src_events is not None:
            statuses = [e.data["status"] for e in inputs.src_events.named("MIGRATION")]
            candidates.append(statuses[-1] if statuses else None)
        if inputs.query is not None and inputs.query.samples:
            candidates.append(inputs.query.samples[-1].status)
        if inputs.info is not None:
            candidates.append(inputs.info.status)
        for value in candidates:
            if value == "completed":
                return "completed"
            if value == "failed":
                return "failed"
            if value in ("cancelled", "cancelling"):
                return "cancelled"
        if any("failed" in str(v) for v in (self.dst_status,)) or self.errors:
            return "failed"
        # The files end while the migration was still running: the model has no "incomplete"
        # status, so it is shown as cancelled with the reason saying so.
        return "cancelled"


def _marker(name: str, only_side: HostSide | None) -> Handler:
    """A handler that only notes the first time a line appears (as the named instant), on
    `only_side` or (None) on either host."""

    def handle(replay: Replay, t: float, side: HostSide, r: TraceRecord) -> None:
        if only_side is None or side == only_side:
            replay.mark(name, t)

    return handle


def ack_in_use(inputs: ImportInputs) -> bool | None:
    """True when any line shows switchover-ack at work; None when no file says."""
    for log in (inputs.src_trace, inputs.dst_trace):
        if log is None:
            continue
        for r in log.records:
            if r.name in (
                "source_return_path_thread_switchover_acked",
                "loadvm_state_switchover_ack_needed",
                "loadvm_approve_switchover",
            ):
                return True
            if r.name == "error_report" and INIT_DATA_SENT_ERROR in r.fields["message"]:
                return True  # the source sent INIT_DATA_SENT: it had switchover-ack on
    return None


# Trace event name -> handler. A name not listed is parsed but changes nothing here.
TRACE_HANDLERS: dict[str, Handler] = {
    "migrate_set_state": Replay.on_set_state,
    "migrate_pending_estimate": Replay.on_pending_estimate,
    "migrate_pending_exact": Replay.on_pending_exact,
    "migration_thread_low_pending": Replay.on_low_pending,
    "migrate_transferred": Replay.on_transferred,
    "migration_rate_limit_pre": Replay.on_rate_limit,
    "migration_bitmap_sync_start": Replay.on_sync_start,
    "migration_bitmap_sync_end": Replay.on_sync_end,
    "savevm_section_start": Replay.on_section_start,
    "savevm_section_end": Replay.on_section_end,
    "savevm_send_open_return_path": Replay.on_open_return_path,
    "loadvm_process_command": Replay.on_open_return_path,
    "savevm_send_ping": Replay.on_ping,
    "loadvm_process_command_ping": Replay.on_ping,
    "source_return_path_thread_pong": Replay.on_pong,
    "migrate_send_rp_message": Replay.on_send_rp_message,
    "source_return_path_thread_switchover_acked": Replay.on_ack_received,
    "source_return_path_thread_shut": Replay.on_shut_received,
    "source_return_path_thread_bad_end": Replay.on_return_path_bad_end,
    "migration_completion_vm_stop": Replay.on_vm_stop,
    "migration_return_path_end_before": _marker("rp_end_before", "source"),
    "migration_return_path_end_after": _marker("rp_end_after", "source"),
    "savevm_send_switchover_start": _marker("switchover_start_sent", "source"),
    "loadvm_state_switchover_ack_needed": _marker("dst_ack_needed", None),
    "qemu_loadvm_state_post_main": _marker("dst_loadvm_done", "destination"),
    "vmstate_downtime_checkpoint": Replay.on_checkpoint,
    "vmstate_downtime_save": Replay.on_handler_downtime,
    "vmstate_downtime_load": Replay.on_handler_downtime,
    "migrate_error": Replay.on_migrate_error,
    "migrate_fd_error": Replay.on_migrate_error,
    "error_report": Replay.on_error_report,
}
VFIO_HANDLERS: dict[str, VfioHandler] = {
    "vfio_migration_set_device_state": Replay.on_vfio_device_state,
    "vfio_migration_set_state": Replay.on_vfio_set_state,
    "vfio_state_pending_estimate": Replay.on_vfio_pending_estimate,
    "vfio_state_pending_exact": Replay.on_vfio_pending_exact,
    "vfio_save_block": Replay.on_vfio_save_block,
    "vfio_save_iterate": Replay.on_vfio_save_iterate,
    "vfio_load_state": Replay.on_vfio_load_state,
    "vfio_load_state_device_data": Replay.on_vfio_load_data,
    "vfio_save_setup": Replay.on_vfio_save_setup,
    "vfio_save_complete_precopy": Replay.on_vfio_complete_precopy,
}
