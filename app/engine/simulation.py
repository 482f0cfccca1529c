"""The source migration thread, step by step.

`Simulation(scenario)` runs QEMU's pre-copy migration as a generator of steps: the setup,
then one step per pass of `migration_iteration_run`, then one step per phase of the
switchover (switchover.py). Time is event driven: a pass takes as long as its sends, syncs
and device reads take; idle stretches are skipped to the next thing that can change.

The state lives in small named parts:
- `src` (source.py): the migration thread's clock, status and counters; `window` its
  bandwidth window (budget, threshold);
- `devs` (devices.py): each VFIO device's images, QEMU's cached view and both state machines;
- `channels` (stream.py): the main channel, the multifd channels and the devices' multifd
  streams, sharing one link;
- `dst` (destination.py): the destination's load path and its ack count;
- `rp` (returnpath.py): the return path and the switchover gate;
- `switchover` (switchover.py): the completion, a collaborator that drives the others.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator
from typing import Any

from .. import __version__
from .branch import next_time_keyed_ms, take_due
from .clock import EPS_MS, before, reached
from .collapse import SliceRun, collapse_passes, merge_slice_cut, release_slice_run
from .destination import DestinationLoader
from .devices import DeviceRuntime, ImageKind, Piece
from .eventlog import EventLog
from .explain import (
    GateInputs,
    ack_gate_detail,
    fmt_b,
    gate_inputs,
    gate_texts,
    ram_gate_detail,
    stall_text,
)
from .profiles import PROFILES
from .ram import NORMAL_PAGE_WIRE_BYTES, PAGE_BYTES, ZERO_PAGE_WIRE_BYTES, RamModel
from .returnpath import ReturnPath
from .scenario import Scenario
from .source import RateWindow, SourceThread
from .stream import MARKER_BYTES, Channels, Record, Stream, Wire
from .switchover import Switchover
from .trace import (
    Decision,
    DeviceStep,
    EventKind,
    Gate,
    Phase,
    Step,
    Summary,
    Trace,
    trusted,
)
from .vfio import VfioState

MAX_WAIT_MS = 50.0  # ram.c: ram_save_iterate gives up its slice after 50 ms
SECTION_HEADER_BYTES = 16
ENGINE_STEP_LIMIT = 200_000  # documented engine limit: a run ends as cancelled past it
# An image load this long is worth an event and a word in the step text.
NOTABLE_LOAD_MS = 10.0

StepGen = Generator[Step, None, bool]


# The decision of a step that a summary-only run counts but does not keep.
_UNEXPLAINED = Decision.model_construct(
    code="keep_iterating", reason="", qemu_function="migration_iteration_run"
)

# The fields make_step gives a Step (provenance keeps its default, as model_construct had it).
_STEP_FIELDS_GIVEN = frozenset(Step.model_fields) - {"provenance"}


def _decision(code: str, reason: str, qemu_function: str) -> Decision:
    return trusted(Decision, {"code": code, "reason": reason, "qemu_function": qemu_function})


# What a summary-only run yields for every step (pydantic fills a partial model_construct
# by inspecting signatures: far too slow to do per step).
_UNKEPT_STEP = Step.model_construct(index=-1)


class Simulation:
    def __init__(
        self,
        scenario: Scenario,
        max_steps: int | None = None,
        keep_steps: bool = True,
        collapse: bool | None = None,
    ) -> None:
        self.scenario = scenario
        # collapse: runs of alike passes become one step (collapse.py), with the same totals.
        # By default only summary-only runs collapse; a full trace keeps one step per pass
        # unless asked (the run page and its tests step through every pass).
        self.collapse = (not keep_steps) if collapse is None else collapse
        # Passes beyond the first that collapsed steps stand for: they count for the step limit,
        # so a run ends at the same pass whether or not its passes are collapsed.
        self.extra_passes = 0
        # keep_steps=False (sweeps): steps are counted, not built, and no explanation text
        # is written; decisions, events and the summary are those of the full run.
        self.keep_steps = keep_steps
        self.step_count = 0
        # What the gates of the last pass read (their texts are written from it).
        self.last_gate_inputs: GateInputs | None = None
        # An ack that arrived during the last pass, after its gate check (explained in text),
        # and when every ack sent reaches the source.
        self.late_ack_ms: float | None = None
        self.ack_arrivals: list[float] = []
        # A run that would need more steps ends as cancelled, with the reason, at this count.
        self.max_steps = min(max_steps or ENGINE_STEP_LIMIT, ENGINE_STEP_LIMIT)
        self.profile = PROFILES[scenario.qemu_profile]
        self.resolved_devices = scenario.resolved_devices()
        self.notes: list[str] = []
        g = scenario.guest
        self.ram = RamModel.create(
            g.ram_bytes,
            g.working_set_bytes,
            g.zero_page_fraction,
            g.dirty_rate_bytes_per_s,
            g.dirty_pattern,
            g.hot_set_fraction,
            g.hot_write_fraction,
        )
        caps = scenario.caps
        self.src_caps = set(caps.source)
        self.dst_caps = set(caps.destination)
        self.src_ack = "switchover-ack" in self.src_caps
        self.dst_ack = "switchover-ack" in self.dst_caps
        self.devs = [
            DeviceRuntime.create(spec, p2p_states=self.profile.p2p_and_multi_device)
            for spec in self.resolved_devices
        ]
        for dev in self.devs:
            if dev.reinit_queue and not self.profile.reusable_ack:
                self.notes.append(
                    f"{dev.name}: this QEMU does not opt into VFIO_PRECOPY_INFO_REINIT (proposed 2026): re-initialised "
                    "state goes with the stop-copy image and its load lands in the downtime"
                )
        # Channels: the main one, and with multifd the RAM channels (and at switchover, on
        # 10.0+, one stream per device's stop-copy state), all sharing one link.
        both_multifd = "multifd" in self.src_caps and "multifd" in self.dst_caps
        self.channels = Channels.create(
            Wire(scenario.link.bandwidth_bytes_per_s / 1000.0, scenario.link.latency_ms),
            scenario.link.socket_buffer_bytes,
            scenario.params.multifd_channels if both_multifd else 0,
        )
        # 10.0+: VFIO stop-copy data over the multifd channels (x-migration-multifd-transfer=auto).
        self.multifd = both_multifd and self.profile.multifd_device_state and bool(self.devs)
        if both_multifd and self.devs and not self.profile.multifd_device_state:
            self.notes.append(
                "multifd: RAM pages use the multifd channels; VFIO device state over multifd needs "
                "QEMU 10.0, so device data stays on the main channel"
            )
        self.log = EventLog()
        self.steps: list[Step] = []
        self.src = SourceThread()
        self.window = RateWindow(
            scenario.params.downtime_limit_ms,
            scenario.params.avail_switchover_bandwidth_bytes_per_s,
            expected_downtime_ms=scenario.params.downtime_limit_ms,
        )
        self.window.set_max_bandwidth(scenario.params.max_bandwidth_bytes_per_s)
        self.rp = ReturnPath(self.log, "return-path" in self.src_caps, scenario.link.latency_ms)
        self.dst = DestinationLoader(self, self.dst_ack)
        self.switchover = Switchover(self)
        # Pending user actions in the scenario's order (branch.take_due picks the due ones).
        self.actions = list(scenario.actions)
        # When each action applied, in the scenario's order (the summary's actions_at_ms).
        self.actions_at_ms: list[float | None] = [None] * len(scenario.actions)
        self._action_index = {id(a): i for i, a in enumerate(scenario.actions)}
        self.result: dict[str, Any] = {}
        # What made the last ordinary pass, when it can join a run of passes cut by the 50 ms
        # slice (collapse.merge_slice_cut); None otherwise. Window events the run closed.
        self.pass_shape: tuple[object, ...] | None = None
        self.windows_closed = 0
        # (step index, passes): close that held run after that many passes (a re-run that
        # places a step-keyed action right after it; collapse.merge_slice_cut).
        self.slice_close_at: tuple[int, int] | None = None
        self.slice_run: SliceRun | None = None  # the step merge_slice_cut holds open
        self._gen = self._run()
        if self.collapse and self.keep_steps:
            self._gen = merge_slice_cut(self, self._gen)
        self.done = False

    # ----------------------------------------------------------------- public API
    @property
    def t(self) -> float:
        """The source migration thread's clock (ms since `migrate`)."""
        return self.src.t

    @t.setter
    def t(self, value: float) -> None:
        self.src.t = value

    def step(self) -> Step | None:
        """Advance one step (a pass or a switchover phase); None once finished."""
        if self.done:
            return None
        try:
            return next(self._gen)
        except StopIteration:
            self.done = True
            # Events scheduled past the last step (e.g. a PONG after a failure) go to it.
            if self.step_count:
                self.log.flush(self.step_count - 1, None)
            return None

    def run(self) -> Trace:
        while self.step() is not None:
            pass
        return self.trace()

    def summary(self) -> Summary:
        from .summary import build_summary

        if not self.done:
            raise RuntimeError("the simulation has not finished; call run() or step() until None")
        return build_summary(self)

    def run_summary(self) -> Summary:
        while self.step() is not None:
            pass
        return self.summary()

    def trace(self) -> Trace:
        from .summary import build_summary

        if not self.keep_steps:
            raise RuntimeError("a summary-only simulation (keep_steps=False) has no trace")
        if not self.done:
            raise RuntimeError("the simulation has not finished; call run() or step() until None")
        resolved = self.scenario.model_dump(mode="json")
        resolved["devices"] = [d.model_dump(mode="json") for d in self.resolved_devices]
        return Trace(
            engine_version=__version__,
            title=self.scenario.title,
            qemu_profile=self.scenario.qemu_profile,
            scenario=self.scenario.model_dump(mode="json", exclude_unset=True),
            resolved=resolved,
            profile=self.profile.as_dict(),
            summary=build_summary(self),
            steps=self.steps,
            events=self.log.events,
            notes=self.notes + SIMPLIFICATIONS,
        )

    # ----------------------------------------------------------------- shared helpers
    @property
    def vm_running(self) -> bool:
        return self.src.vm_running

    @property
    def downtime_limit_ms(self) -> float:
        return self.window.downtime_limit_ms

    @property
    def main(self) -> Stream:
        """The main channel (qemu_loadvm_state parses it in order)."""
        return self.channels.main

    @property
    def streams(self) -> list[Stream]:
        return self.channels.all()

    def event(
        self,
        t: float,
        kind: str,
        side: str,
        detail: str,
        fn: str | None = None,
        device: str | None = None,
        **data: Any,
    ) -> None:
        self.log.add(t, kind, side, detail, fn, device, **data)

    def set_status(self, new: str, t: float | None = None) -> None:
        if new == self.src.status:
            return
        self.event(
            self.t if t is None else t,
            EventKind.STATUS,
            "source",
            f"migration status {self.src.status} -> {new}",
            "migrate_set_state",
            status=new,
            previous=self.src.status,
        )
        self.src.status = new

    def device_transition(
        self, dev: DeviceRuntime, side: str, target: VfioState, t: float, why: str
    ) -> None:
        machine = dev.src if side == "source" else dev.dst
        for old, new in machine.request(target):
            self.event(
                t,
                EventKind.DEVICE_STATE,
                side,
                f"{dev.name} ({side}): {old.value} -> {new.value}: {why}",
                "vfio_migration_set_state",
                dev.name,
                **{"from": old.value, "to": new.value},
            )

    def apply_actions(self) -> str | None:
        """Apply user actions due by now; return a cancel reason if the user cancelled."""
        if not self.actions:
            return None
        for action in take_due(self.actions, self.step_count, self.t):
            self.actions_at_ms[self._action_index[id(action)]] = self.t
            if action.kind == "cancel":
                when = self.t if action.at_ms is None else action.at_ms
                return f"migrate_cancel issued by the user at {when:.0f} ms"
            if action.kind == "pause_guest":
                self.pause_guest()
                continue
            changed = []
            if action.max_bandwidth_bytes_per_s is not None:
                self.window.set_max_bandwidth(action.max_bandwidth_bytes_per_s)
                changed.append(
                    f"max-bandwidth {fmt_b(action.max_bandwidth_bytes_per_s)}/s (applies now)"
                )
            if action.downtime_limit_ms is not None:
                self.window.downtime_limit_ms = action.downtime_limit_ms
                changed.append(f"downtime-limit {action.downtime_limit_ms:.0f} ms")
            if action.avail_switchover_bandwidth_bytes_per_s is not None:
                self.window.avail_bw_bytes_per_s = action.avail_switchover_bandwidth_bytes_per_s
                changed.append(
                    f"avail-switchover-bandwidth {fmt_b(action.avail_switchover_bandwidth_bytes_per_s)}/s"
                )
            self.event(
                self.t,
                EventKind.SET_PARAMETERS,
                "user",
                "migrate-set-parameters: "
                + ", ".join(changed)
                + "; the threshold is recomputed when the current window closes",
                "qmp_migrate_set_parameters",
                **{
                    k: v
                    for k, v in action.model_dump().items()
                    if v is not None and k not in ("at_ms", "after_step", "kind")
                },
            )
        return None

    def pause_guest(self) -> None:
        """QMP `stop` during migration: vCPUs stop, pre-copy devices go to STOP_COPY
        (vfio_vmstate_change with RUN_STATE_PAUSED), and migration_can_switchover no
        longer waits for the ack."""
        if not self.src.vm_running:
            return
        self.advance_dirtying(self.t)
        self.src.vm_running = False
        self.src.guest_paused_at_ms = self.t
        self.event(
            self.t,
            EventKind.GUEST_PAUSED,
            "user",
            "the user paused the guest (QMP stop): its dirtying stops, "
            "and switchover no longer waits for the ack",
            "qmp_stop",
        )
        for dev in self.devs:
            precopy = dev.src.in_precopy
            self.t += dev.spec.stop_copy_enter_ms
            self.device_transition(
                dev,
                "source",
                VfioState.STOP_COPY if precopy else VfioState.STOP,
                self.t,
                "vfio_vmstate_change (guest paused)",
            )
            if precopy:
                dev.start_final_save(self.t)
        if self.src_ack:
            self.rp.open_gate(
                self.t, "the guest is paused: migration_can_switchover is true without the ack"
            )

    def sync_cost_ms(self) -> float:
        gib = self.scenario.guest.ram_bytes / 1024**3
        return 0.05 + self.scenario.guest.bitmap_sync_ms_per_gib * gib

    def advance_dirtying(self, t: float) -> None:
        running = self.src.vm_running
        self.ram.advance(t, running)
        for dev in self.devs:
            if not dev.reinit_queue:
                # DeviceData.advance, which changes nothing unless t is later than last_ms,
                # and then only moves last_ms unless the device's data grows.
                data = dev.data
                if t > data.last_ms:
                    if data.dirty_rate_bytes_per_ms > 0 and running and dev.src.in_precopy:
                        data.advance(t, True)
                    else:
                        data.last_ms = t
                continue
            # DeviceRuntime.advance: the re-initialisations due, then the data's growth.
            for at_ms, init_bytes, load_ms in dev.advance(t, running, self.profile.reusable_ack):
                if self.profile.reusable_ack:
                    detail = (
                        f"{dev.name}: the driver re-initialised its pre-copy data: {fmt_b(init_bytes)} of new "
                        "initial bytes (VFIO_PRECOPY_INFO_REINIT, proposed 2026)"
                    )
                else:
                    detail = (
                        f"{dev.name}: the device re-initialised ({fmt_b(init_bytes)} of new state, "
                        f"{load_ms:.0f} ms to load), but this QEMU cannot be told (no VFIO_PRECOPY_INFO_REINIT "
                        "before the proposed 2026 series): the state goes with the stop-copy image and its load "
                        "lands in the downtime"
                    )
                self.event(
                    at_ms,
                    EventKind.REINIT,
                    "source",
                    detail,
                    None,
                    dev.name,
                    initial_bytes=init_bytes,
                )

    def acked(self, t: float) -> bool:
        """switchover_acked as the source's return-path thread has set it by time t."""
        if self.profile.reusable_ack and any(d.needs_ack for d in self.devs):
            needing = [d for d in self.devs if d.needs_ack]
            return all(d.ack_arrival_ms is not None and d.ack_arrival_ms <= t for d in needing)
        return self.rp.ack_arrival_ms is not None and self.rp.ack_arrival_ms <= t

    def can_switchover(self, t: float) -> bool:
        """migration_can_switchover."""
        return (not self.src_ack) or (not self.src.vm_running) or self.acked(t)

    def write(
        self,
        nbytes: int,
        kind: str,
        load_cost_ms: float,
        device: str | None = None,
        label: str = "",
        payload: int = 0,
    ) -> Record:
        """The migration thread writes one record into the main channel (it blocks while
        the channel is full)."""
        record = self.main.write(self.t, nbytes, kind, load_cost_ms, device, label, payload)
        self.t = record.write_ms
        self.src.transferred += nbytes
        return record

    def write_ram(self, nbytes: int, load_cost_ms: float) -> None:
        """RAM pages: the main channel, or with multifd the next multifd channel."""
        stream = self.channels.ram_stream()
        record = stream.write(self.t, nbytes, "ram", load_cost_ms)
        self.t = record.write_ms
        self.src.transferred += nbytes
        self.src.ram_transferred += nbytes

    def budget_exceeded(self) -> bool:
        if self.src.status not in ("active", "setup"):
            return False
        return self.window.exceeded(self.src.transferred)

    def device_loaded(self, name: str, t: float) -> tuple[int, int]:
        """(device bytes, initial bytes) loaded at the destination by t, over every channel."""
        data, init = 0, 0
        for stream in self.streams:
            d, i = stream.device_loaded(name, t)
            data, init = data + d, init + i
        return data, init

    def write_device_pieces(
        self,
        dev: DeviceRuntime,
        pieces: list[Piece],
        precopy: bool,
        stream: Stream | None = None,
        at_ms: float | None = None,
    ) -> float:
        """Device data goes into a channel as DEV_DATA_STATE records (tag + be64 size + the
        bytes); the destination pays a copy per piece and the image's load on the piece
        that completes it. Returns the writer's clock after the writes."""
        t = self.t if at_ms is None else at_ms
        for piece in pieces:
            nbytes = piece.nbytes + 2 * MARKER_BYTES
            cost = dev.dest_cost_ms(piece)
            if stream is None:
                record = self.write(
                    nbytes, piece.kind.value, cost, dev.name, "DATA", payload=piece.nbytes
                )
                t = self.t
            else:
                record = stream.write(
                    t, nbytes, piece.kind.value, cost, dev.name, "DATA", payload=piece.nbytes
                )
                t = record.write_ms
                self.src.transferred += nbytes
            self.count_device_bytes(dev, piece.nbytes, precopy)
            if piece.completes and dev.image_granular and piece.image.load_ms >= NOTABLE_LOAD_MS:
                what = {
                    ImageKind.INITIAL: "initial",
                    ImageKind.DIRTY: "incremental",
                    ImageKind.FINAL: "stop-copy",
                }
                self.event(
                    record.load_end_ms,
                    EventKind.IMAGE_LOADED,
                    "destination",
                    f"{dev.name}: {what[piece.kind]} image of {fmt_b(piece.image.total)} loaded in "
                    f"{piece.image.load_ms:.0f} ms by one synchronous load when its last byte arrived; the load "
                    "loop was blocked meanwhile",
                    "mlx5vf_cmd_load_vhca_state",
                    dev.name,
                    image=piece.kind.value,
                    image_bytes=piece.image.total,
                    load_ms=round(piece.image.load_ms, 3),
                )
        return t

    def count_device_bytes(self, dev: DeviceRuntime, part: int, precopy: bool) -> None:
        dev.sent_bytes += part
        self.src.vfio_transferred += part
        if precopy:
            dev.precopy_sent_bytes += part
        else:
            dev.stopcopy_sent_bytes += part

    # ----------------------------------------------------------------- main loop
    def _run(self) -> Iterator[Step]:
        failure = self.preflight()
        self.set_status("setup")
        if failure is not None:
            yield from self.finish("failed", failure, "migrate")
            return
        yield from self.setup()
        while True:
            if self.dst.error is not None and reached(self.t, self.dst.error[0]):
                yield from self.finish("failed", self.dst.error[1], "migration_detect_error")
                return
            if reached(self.t, self.scenario.max_time_ms):
                yield from self.cancel_at_limit(
                    f"max_time_ms ({self.scenario.max_time_ms:.0f} ms) reached"
                )
                return
            # Leave room for the switchover's steps (about six plus one per device).
            if self.step_count + self.extra_passes >= self.max_steps - (8 + len(self.devs)):
                yield from self.cancel_at_limit(
                    f"step limit ({self.max_steps} steps per run) reached at "
                    f"{self.t:.0f} ms of simulated time"
                )
                return
            cancelled = self.apply_actions()
            if cancelled is not None:
                yield from self.finish("cancelled", cancelled, "qmp_migrate_cancel")
                return
            collapsed = collapse_passes(self) if self.collapse else None
            if collapsed is not None:
                yield collapsed
                continue
            switch = yield from self.iteration_pass()
            if switch:
                yield from self.switchover.run()
                return

    def preflight(self) -> str | None:
        if ("multifd" in self.src_caps) != ("multifd" in self.dst_caps):
            return "multifd must be on at both ends: the destination cannot read the other side's channels"
        if self.src_ack and not self.rp.enabled:
            return "Capability 'switchover-ack' requires capability 'return-path' (source; migrate_caps_check)"
        if self.dst_ack and "return-path" not in self.dst_caps:
            return "Capability 'switchover-ack' requires capability 'return-path' (destination; migrate_caps_check)"
        for dev in self.devs:
            if not dev.spec.migratable:
                return f"{dev.name}: VFIO device doesn't support migration (a migration blocker; migrate refused)"
        if len(self.devs) > 1:
            if not self.profile.p2p_and_multi_device:
                return "Migration is currently not supported with multiple VFIO devices (QEMU 8.1 allows one)"
            if not all(d.spec.p2p for d in self.devs):
                return "Multiple VFIO devices migration is supported only if all of them support P2P migration"
        return None

    def setup(self) -> Iterator[Step]:
        start = self.t
        # update_iteration_initial_status runs before setup: the first window includes it.
        self.window.t0 = 0.0
        self.dst.on_load(self.write(SECTION_HEADER_BYTES, "header", 0.0, label="HEADER"))
        if self.rp.enabled:
            self.event(
                self.t,
                EventKind.OPEN_RETURN_PATH,
                "source",
                "MIG_CMD_OPEN_RETURN_PATH sent; return-path thread started",
                "migration_thread",
            )
            self.dst.on_load(self.write(MARKER_BYTES, "command", 0.0, label="OPEN_RETURN_PATH"))
            self.dst.on_load(self.write(MARKER_BYTES + 4, "command", 0.0, label="PING"))
            self.event(
                self.t, EventKind.PING, "source", "MIG_CMD_PING 0x1 sent", "qemu_savevm_send_ping"
            )
        # RAM setup: the initial bitmap sync; every page is dirty in the bitmap.
        self.t += self.scenario.guest.setup_ms + self.sync_cost_ms()
        self.src.dirty_sync_count = 1
        self.window.last_rate_ms = self.t
        self.ram.advance(self.t, False)
        self.event(
            self.t,
            EventKind.BITMAP_SYNC,
            "source",
            f"initial bitmap sync: all {fmt_b(self.ram.remaining_bytes)} of RAM dirty",
            "ram_save_setup",
            dirty_sync_count=1,
            remaining_bytes=self.ram.remaining_bytes,
        )
        waited = []
        for dev in self.devs:
            length = dev.query_stop_copy_length()
            if not dev.spec.stop_copy_query_fails:
                dev.chunk_bytes = max(1, min(dev.chunk_bytes, length))
            if dev.spec.precopy:
                save_ms = dev.setup_save_ms()
                self.t += dev.spec.precopy_enter_ms + save_ms
                self.advance_dirtying(self.t)
                self.device_transition(dev, "source", VfioState.PRE_COPY, self.t, "vfio_save_setup")
                if save_ms > 0:
                    waited.append(f"{dev.name} {save_ms:.0f} ms")
                    self.event(
                        self.t,
                        EventKind.DEVICE_SAVE,
                        "source",
                        f"{dev.name}: entering PRE_COPY saved the first "
                        f"full image ({fmt_b(dev.initial_total_bytes)}); the pre-copy info query waited "
                        f"{save_ms:.0f} ms for it, inside vfio_save_setup",
                        "mlx5vf_pci_save_device_data",
                        dev.name,
                        save_ms=round(save_ms, 3),
                    )
                dev.data.last_ms = self.t
                dev.refresh_estimates()
            self.write(
                SECTION_HEADER_BYTES + MARKER_BYTES * 2, "marker", 0.0, dev.name, "SETUP_STATE"
            )
        self.src.setup_time_ms = self.t
        self.set_status("active")
        if not self.src_ack:
            self.rp.open_gate(self.t, "switchover-ack is off on the source: nothing to wait for")
        reason = f"setup hooks ran (RAM bitmap, {len(self.devs)} VFIO device(s) to PRE_COPY): status active"
        if waited:
            reason += (
                "; vfio_save_setup waited for the devices' first SAVE ("
                + ", ".join(waited)
                + "), which also dilutes the first bandwidth window"
            )
        yield self.make_step(
            start,
            Phase.SETUP,
            Decision(code="setup", reason=reason, qemu_function="qemu_savevm_state_setup"),
        )

    # ----------------------------------------------------------------- one pass
    def iteration_pass(self) -> StepGen:
        """migration_iteration_run, then migration_rate_limit. Returns True to switch over."""
        start = self.t
        self.src.passes += 1
        # An ack the previous pass saw arrive after its gate check, seen from this one.
        late_ack_ms, self.late_ack_ms = self.late_ack_ms, None
        self.advance_dirtying(self.t)
        can = self.can_switchover(self.t)
        estimate = self.ram.remaining_bytes + sum(d.precopy_estimate() for d in self.devs)
        thr = self.window.threshold_bytes
        trigger = estimate <= thr if self.profile.exact_trigger_le else estimate < thr
        exact: int | None = None
        pending = estimate
        if trigger:
            exact = self.exact_query()
            pending = exact
            if self.profile.reusable_ack:
                # Proposed 2026: a REINIT seen by the exact query withdraws that device's
                # ack at once. Otherwise can_switchover stays the value taken at the top of
                # the pass, as in migration_iteration_run.
                can = self.can_switchover(self.t)
        ram_ok = pending <= thr if self.profile.complete_le else (pending == 0 or pending < thr)
        inputs = gate_inputs(self, estimate, exact, thr, ram_ok, can)
        # A summary-only run keeps what the gates read, not their texts.
        gates = self.gates(inputs) if self.keep_steps else []
        if ram_ok and can:
            self.event(
                self.t,
                EventKind.SWITCHOVER_DECIDED,
                "source",
                f"pending {fmt_b(pending)} within threshold "
                f"{fmt_b(thr)} and switchover permitted: stop the VM",
                "migration_thread_low_pending",
                pending_bytes=pending,
            )
            reason = gate_texts(gates, switch=True)
            if late_ack_ms is not None:
                reason += (
                    f" The ack arrived at {late_ack_ms:.1f} ms, during the previous pass: this "
                    "pass's gate check is the first to see it (migration_can_switchover is read "
                    "once per pass, at the top of migration_iteration_run)."
                )
            decision = (
                _decision("switchover", reason, "migration_iteration_run")
                if self.keep_steps
                else _UNEXPLAINED
            )
            yield self.make_step(
                start, Phase.ITERATE, decision, gates, estimate, exact, None, inputs
            )
            return True
        sent_before = self.src.transferred
        payload_before = self.src.ram_transferred + self.src.vfio_transferred
        vfio_before = self.src.vfio_transferred
        events_before = self.log.added
        windows_before = self.windows_closed
        stopped_by = self.iterate_handlers()
        sent = self.src.transferred - sent_before
        slept = self.rate_limit()
        # A pass that wrote only VFIO END_OF_STATE markers (read() said ENOMSG) moved no
        # data: QEMU spins through such passes, so it is idle like a pass that wrote nothing.
        moved = self.src.ram_transferred + self.src.vfio_transferred - payload_before
        idle = moved == 0 and exact is None and not slept
        if idle:
            self.skip_idle()
        if not self.keep_steps:
            yield self.make_step(
                start, Phase.ITERATE, _UNEXPLAINED, gates, None, None, None, inputs
            )
            return False
        code = "wait_for_ack" if ram_ok and not can else "keep_iterating"
        reason = gate_texts(gates, switch=False)
        if stopped_by:
            reason += f" This pass: {stopped_by}."
        if slept:
            reason += f" {slept}"
        stall = stall_text(self, can)
        if stall:
            reason += f" {stall}"
        if idle:
            code = "idle"
            reason += " Nothing to send: skip ahead to the next window or return-path message (QEMU busy-loops here)."
        arrived = [a for a in self.ack_arrivals if start < a <= self.t + EPS_MS]
        if not can and self.src_ack and arrived:
            late = min(arrived)
            reason += (
                f" An ack arrived during this pass, at {late:.1f} ms: QEMU reads "
                "migration_can_switchover once per pass, at the top of migration_iteration_run, "
                "so it counts from the next pass's gate check."
            )
            self.late_ack_ms = late
        decision = _decision(code, reason, "migration_iteration_run")
        # A pass cut by ram_save_iterate's 50 ms slice with pages left, no max-bandwidth, no
        # exact query, no device data and no event but window closes: what it decided on,
        # for collapse.merge_slice_cut to join it to alike passes.
        self.pass_shape = (
            (code, stopped_by, can, tuple((g.name, g.open) for g in gates))
            if self.collapse
            and exact is None
            and not slept
            and not idle
            and self.late_ack_ms is None
            and self.window.budget_bytes is None
            and self.src.vfio_transferred == vfio_before
            and self.ram.remaining_pages > 0
            and self.log.added - events_before == self.windows_closed - windows_before
            else None
        )
        yield self.make_step(start, Phase.ITERATE, decision, gates, estimate, exact, sent, inputs)
        return False

    def exact_query(self) -> int:
        """qemu_savevm_state_pending_exact: RAM bitmap sync, then every device's ioctls."""
        self.t += self.sync_cost_ms()
        self.advance_dirtying(self.t)
        self.ram_sync("exact pending query")
        total = self.ram.remaining_bytes
        for dev in self.devs:
            total += dev.query_stop_copy_length()
            if dev.src.in_precopy:
                if dev.reinit_pending_report and self.profile.reusable_ack:
                    dev.reinit_pending_report = False
                    dev.initial_data_sent = False
                    dev.ack_arrival_ms = None
                    self.rp.close_gate(self.t)
                    self.event(
                        self.t,
                        EventKind.REINIT,
                        "source",
                        f"{dev.name}: VFIO_PRECOPY_INFO_REINIT seen: initial "
                        "bytes must be sent again and acked again (proposed 2026)",
                        "vfio_query_precopy_size",
                        dev.name,
                    )
                dev.refresh_estimates()
                if self.profile.vfio_exact_double_count:
                    total += dev.init_est + dev.dirty_est
        return total

    def ram_sync(self, why: str) -> None:
        new_pages = self.sync_counters()
        self.sync_event(self.t, why, new_pages, self.src.dirty_sync_count, self.ram.remaining_bytes)

    def sync_counters(self) -> int:
        """migration_bitmap_sync: merge the log, count the sync, update the dirty-page rate
        once a second. Returns the newly dirty pages."""
        new_pages = self.ram.sync()
        self.src.dirty_sync_count += 1
        w = self.window
        w.dirty_bytes_last_sync = self.ram.remaining_bytes
        if reached(self.t, w.last_rate_ms + 1000.0):
            w.dirty_pages_rate = (
                self.ram.new_dirty_pages_period * 1000.0 / (self.t - w.last_rate_ms)
            )
            self.ram.new_dirty_pages_period = 0
            w.last_rate_ms = self.t
        return new_pages

    def sync_event(
        self, t: float, why: str, new_pages: int, count: int, remaining_bytes: int
    ) -> None:
        if not self.keep_steps:
            return  # a summary reads no bitmap-sync events
        self.event(
            t,
            EventKind.BITMAP_SYNC,
            "source",
            f"bitmap sync #{count} ({why}): "
            f"{fmt_b(new_pages * PAGE_BYTES)} newly dirty; {fmt_b(remaining_bytes)} to send "
            "(MIGRATION_PASS)",
            "migration_bitmap_sync_precopy",
            dirty_sync_count=count,
            remaining_bytes=remaining_bytes,
        )

    def iterate_handlers(self) -> str:
        """qemu_savevm_state_iterate: RAM first, then each VFIO device in pre-copy; the
        rate budget is checked before each handler; 8.x stops at the first 'not done'."""
        handlers: list[DeviceRuntime | None] = [None, *[d for d in self.devs if d.src.in_precopy]]
        for index, handler in enumerate(handlers):
            name = "RAM" if handler is None else handler.name
            if self.budget_exceeded():
                return f"rate budget used before {name}: handlers after it get nothing this pass"
            done = self.ram_iterate() if handler is None else self.vfio_iterate(handler)
            if self.profile.serialize_iterate and not done:
                if handlers[index + 1 :]:
                    return f"{name} returned 0 (not done): in 8.x the walk stops here, later devices are starved"
                return ""
        return ""

    def ram_iterate(self) -> bool:
        """ram_save_iterate: send pages until the budget is exceeded, the bitmap is empty
        (returns 1) or 50 ms passed (MAX_WAIT).

        Analytic: QEMU checks the budget and the clock between pages; the engine works out
        how many pages fit before whichever comes first (the budget's overshoot of less than
        a page, the slice ending while the source is blocked on a full channel) and writes
        them as one flow record per channel (Stream.flow), not one record per chunk."""
        src = self.src
        deadline = src.t + MAX_WAIT_MS
        ram = self.ram
        window = self.window
        budgeted = window.budget_bytes is not None and src.status in ("active", "setup")
        while True:
            bitmap_zero = ram.bitmap_zero
            total = ram.remaining_pages
            if total == 0:
                return True
            if (budgeted and window.exceeded(src.transferred)) or reached(src.t, deadline):
                return False
            per_page = (
                bitmap_zero * ZERO_PAGE_WIRE_BYTES + (total - bitmap_zero) * NORMAL_PAGE_WIRE_BYTES
            ) / total
            pages = total
            if budgeted:
                left = window.budget_left(src.transferred)
                assert left is not None
                # Pages are checked one by one: the budget is exceeded by the page that crosses it.
                pages = ram.pages_over_wire(left, total)[0]
            pages, sliced = self.pages_by_deadline(pages, per_page, deadline)
            zero, normal = ram.take(pages, total)
            nbytes = zero * ZERO_PAGE_WIRE_BYTES + normal * NORMAL_PAGE_WIRE_BYTES
            src.t = self.ram_flow(nbytes, commit=True)
            src.transferred += nbytes
            src.ram_transferred += nbytes
            if sliced:
                return ram.remaining_pages == 0

    def ram_flow(self, nbytes: int, commit: bool, now: float | None = None) -> float:
        """RAM pages written as one flow: over the main channel, or split over the multifd
        channels, whose records share the link (their bytes interleave on it). Returns when
        the source's last write returns; with commit=False nothing is written."""
        load_rate = self.scenario.destination.ram_load_bytes_per_s / 1000.0
        channels = self.channels
        if now is None:
            now = self.src.t
        link = channels.link
        if not channels.ram:
            # One channel: the loop below with one share, without its lists.
            if not nbytes:
                return now
            stream = channels.main
            tx_start = max(link.free_ms, stream.first_accept(now))
            if stream.lane is not None:
                tx_start = max(tx_start, stream.lane.free_ms)
            tx_end = tx_start + nbytes / link.bytes_per_ms
            if commit:
                return max(
                    now, stream.write_flow(now, nbytes, "ram", load_rate, tx_start, tx_end).write_ms
                )
            return max(now, stream.flow(now, nbytes, load_rate, tx_start, tx_end)[0])
        streams = channels.ram
        n = len(streams)
        order = [streams[(channels.next_ram + i) % n] for i in range(n)]
        shares = [nbytes // n + (1 if i < nbytes % n else 0) for i in range(n)]
        used = [(stream, share) for stream, share in zip(order, shares, strict=True) if share]
        if not used:
            return now
        tx_start = link.free_ms
        for stream, _ in used:
            tx_start = max(tx_start, stream.first_accept(now))
            if stream.lane is not None:
                tx_start = max(tx_start, stream.lane.free_ms)
        tx_end = tx_start + nbytes / link.bytes_per_ms
        done = now
        for stream, share in used:
            if commit:
                done = max(
                    done, stream.write_flow(now, share, "ram", load_rate, tx_start, tx_end).write_ms
                )
            else:
                done = max(done, stream.flow(now, share, load_rate, tx_start, tx_end)[0])
        if commit and channels.ram:
            channels.next_ram = (channels.next_ram + 1) % n
        return done

    def pages_by_deadline(self, pages: int, per_page: float, deadline: float) -> tuple[int, bool]:
        """How many of `pages` the source can write before the 50 ms slice ends (it is
        blocked while the channel is full); (pages, True) when the slice ends first."""
        if before(self.ram_flow(int(pages * per_page), commit=False), deadline):
            return pages, False
        guess = pages
        x = self.bytes_by_deadline(deadline)
        if x is not None:
            guess = min(pages, max(1, int(x // per_page)))
            if not before(self.ram_flow(int(guess * per_page), commit=False), deadline + EPS_MS):
                x = None
        if x is None:
            # Multifd, a dead destination, or a rounding miss: bisect on the pages.
            lo, hi = 1, guess
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if before(self.ram_flow(int(mid * per_page), commit=False), deadline + EPS_MS):
                    lo = mid
                else:
                    hi = mid - 1
            guess = lo
        return guess, True

    def bytes_by_deadline(self, deadline: float) -> float | None:
        """Closed form for one channel: the bytes a flow can hold when the source's last
        write returns at `deadline`. The source blocks until the destination has consumed
        all but `buffer_bytes`; the flow is consumed at the destination's load rate or, if
        slower, as the link delivers it. None for multifd (several channels)."""
        channels = self.channels
        stream = channels.main
        if channels.ram or stream.dest_dead:
            return None
        link = channels.link
        buffer = stream.buffer_bytes
        w0 = stream.written_bytes
        tx_start = max(link.free_ms, stream.first_accept(self.src.t))
        consumed = stream.loaded_bytes(deadline)
        if consumed < w0:
            return float(consumed + buffer - w0)
        load_start = max(tx_start + link.latency_ms, stream.dest_free_ms)
        span = deadline - load_start
        if span <= 0:
            return float(buffer)
        load_rate = self.scenario.destination.ram_load_bytes_per_s / 1000.0
        by_load = buffer + span * load_rate
        # Link-bound: (x - B)(a + x/L) = x * span, a = first arrival - load start (<= 0).
        a = tx_start + link.latency_ms - load_start
        p = 1.0 / link.bytes_per_ms
        q = a - buffer * p - span
        r = -a * buffer
        by_link = (-q + math.sqrt(max(0.0, q * q - 4 * p * r))) / (2 * p)
        return min(by_load, by_link)

    def vfio_iterate(self, dev: DeviceRuntime) -> bool:
        """vfio_save_iterate: one read() of at most the buffer size, then INIT_DATA_SENT
        or END_OF_STATE."""
        self.advance_dirtying(self.t)
        n = min(dev.chunk_bytes, dev.data.init_bytes + dev.data.dirty_bytes)
        if n <= 0:
            # read() fails with ENOMSG: vfio_update_estimated_pending_data(0) zeroes both.
            dev.init_est = 0
            dev.dirty_est = 0
        else:
            pieces = dev.read(n)
            self.t += dev.read_cost_ms(pieces)
            self.write_device_pieces(dev, pieces, precopy=True)
            taken = min(dev.init_est, n)
            dev.init_est -= taken
            dev.dirty_est = max(0, dev.dirty_est - (n - taken))
        if self.src_ack and dev.init_est == 0 and not dev.initial_data_sent:
            dev.initial_data_sent = True
            record = self.write(MARKER_BYTES, "marker", 0.0, dev.name, "INIT_DATA_SENT")
            dev.init_data_sent_at_ms = self.t
            self.event(
                self.t,
                EventKind.INIT_DATA_SENT,
                "source",
                f"{dev.name}: QEMU's local initial-bytes count "
                "reached 0: section ends with INIT_DATA_SENT",
                "vfio_save_iterate",
                dev.name,
            )
            self.dst.on_load(record)
        else:
            self.write(MARKER_BYTES, "marker", 0.0, dev.name, "END_OF_STATE")
        if self.profile.serialize_iterate:
            return True  # 8.x: vfio_save_iterate always returned 1
        return dev.init_est == 0 and dev.dirty_est == 0

    def rate_limit(self) -> str:
        """migration_rate_limit: close the window after >= 100 ms; sleep if over budget."""
        slept = ""
        wake = self.window.end_ms()
        if before(self.t, wake) and self.budget_exceeded():
            slept = f"Rate budget used: sleep {wake - self.t:.1f} ms until the window ends (migration_rate_limit)."
            self.t = wake
        if self.window.can_close(self.t):
            self.close_window()
        return slept

    def close_window(self) -> None:
        """migration_update_counters: bandwidth, threshold_size, expected downtime."""
        spent, bandwidth = self.window.close(self.t, self.src.transferred)
        self.window_event(self.t, spent, bandwidth, self.window.threshold_bytes)

    def window_event(self, t: float, spent: float, bandwidth: float, thr: float) -> None:
        if not self.keep_steps:
            return  # a summary reads no window events
        self.windows_closed += 1
        avail = self.window.avail_bw_bytes_per_s
        self.event(
            t,
            EventKind.WINDOW,
            "source",
            f"window of {spent:.0f} ms closed: measured {fmt_b(bandwidth * 1000)}/s, "
            f"threshold {fmt_b(thr)}" + (" (avail-switchover-bandwidth)" if avail else ""),
            "migration_update_counters",
            bandwidth_bytes_per_s=round(bandwidth * 1000, 3),
            threshold_bytes=round(thr, 3),
        )

    def skip_idle(self) -> None:
        """Nothing was sent and nothing synced: QEMU would spin; jump to the next moment
        something can change (window end, an ack or an error arriving, the time limit)."""
        candidates = [self.scenario.max_time_ms]
        if before(self.t, self.window.end_ms()) or self.src.transferred > self.window.bytes0:
            candidates.append(self.window.end_ms())
        for arrival in [self.rp.ack_arrival_ms] + [d.ack_arrival_ms for d in self.devs]:
            if arrival is not None and arrival > self.t:
                candidates.append(arrival)
        if self.dst.error is not None and self.dst.error[0] > self.t:
            candidates.append(self.dst.error[0])
        for dev in self.devs:
            if dev.reinit_queue:
                candidates.append(dev.reinit_queue[0][0])
        wake = next_time_keyed_ms(self.actions)
        if wake is not None:
            candidates.append(wake)
        self.t = max(self.t, min(candidates))
        if self.window.can_close(self.t):
            self.close_window()

    # ----------------------------------------------------------------- snapshots
    def gates(self, inputs: GateInputs) -> list[Gate]:
        return [
            trusted(
                Gate,
                {
                    "name": "ram_threshold",
                    "open": inputs.ram_ok,
                    "detail": ram_gate_detail(self, inputs),
                },
            ),
            trusted(
                Gate,
                {
                    "name": "switchover_ack",
                    "open": inputs.can,
                    "detail": ack_gate_detail(self, inputs),
                },
            ),
        ]

    def make_step(
        self,
        start: float,
        phase: Phase,
        decision: Decision,
        gates: list[Gate] | None = None,
        estimate: int | None = None,
        exact: int | None = None,
        pass_sent: int | None = None,
        inputs: GateInputs | None = None,
    ) -> Step:
        index = self.step_count
        self.step_count += 1
        self.last_gate_inputs = inputs
        t = self.t
        if not self.keep_steps:
            self.log.flush(index, t)
            return _UNKEPT_STEP
        streams = self.streams
        loaded = sum(stream.loaded_bytes(t) for stream in streams)
        written = sum(stream.written_bytes for stream in streams)
        reusable_ack = self.profile.reusable_ack
        running = self.src.vm_running
        devices = []
        for dev in self.devs:
            dev_loaded, init_loaded = self.device_loaded(dev.name, t)
            src_state = dev.src.state
            # The driver's figures as of the step's end: its data kept changing after the
            # pass last advanced it (while it sent and slept), and a re-initialisation due
            # by then has happened in the device; nothing is advanced here.
            now = dev.figures_at(t, running, reusable_ack)
            loaded_at = dev.init_data_loaded_at_ms
            ack_at = dev.ack_arrival_ms
            # Every field, in DeviceStep's order (see trace.trusted).
            devices.append(
                trusted(
                    DeviceStep,
                    {
                        "name": dev.name,
                        "src_state": src_state.value,
                        "dst_state": dev.dst.state.value,
                        "init_est_bytes": dev.init_est,
                        "dirty_est_bytes": dev.dirty_est,
                        "init_kernel_bytes": now.init_bytes,
                        "dirty_kernel_bytes": now.dirty_bytes,
                        "stop_copy_length_bytes": now.stop_copy_length_bytes
                        if src_state != VfioState.STOP
                        else 0,
                        "sent_bytes": dev.sent_bytes,
                        "loaded_bytes": dev_loaded,
                        "init_loaded_bytes": init_loaded,
                        "init_data_sent": dev.initial_data_sent,
                        "init_data_loaded": loaded_at is not None and loaded_at <= t,
                        "acked": (ack_at is not None and ack_at <= t) if reusable_ack else None,
                    },
                )
            )
        w = self.window
        bandwidth = w.bandwidth_bytes_per_ms
        expected = w.expected_downtime_ms
        # Built without validation (trace.trusted): the engine's own typed values; validating
        # every one of 100,000 steps would cost more than the simulation itself.
        step = trusted(
            Step,
            {
                "index": index,
                "t_ms": round(start, 3),
                "end_ms": round(t, 3),
                "phase": phase.value,
                "status": self.src.status,
                "vm_running": self.src.vm_running,
                "dst_vm_running": self.dst.vm_running,
                "ram_remaining_bytes": self.ram.remaining_bytes,
                # The log as of the step's end: the guest wrote on after the pass's last
                # advance (while it sent and slept); nothing is advanced here.
                "ram_dirty_unsynced_bytes": self.ram.log_pages_at(t, running) * PAGE_BYTES,
                "dirty_sync_count": self.src.dirty_sync_count,
                "bandwidth_bytes_per_s": None if bandwidth is None else round(bandwidth * 1000, 3),
                "threshold_bytes": round(w.threshold_bytes, 3),
                "pending_estimate_bytes": estimate,
                "pending_exact_bytes": exact,
                "expected_downtime_ms": None if expected is None else round(expected, 3),
                "can_switchover": self.can_switchover(t),
                "switchover_acked": self.acked(t),
                "transferred_bytes": self.src.transferred,
                "ram_transferred_bytes": self.src.ram_transferred,
                "vfio_transferred_bytes": self.src.vfio_transferred,
                "loaded_bytes": loaded,
                "in_flight_bytes": written - loaded,
                "pass_sent_bytes": pass_sent,
                "devices": devices,
                "gates": gates or [],
                "decision": decision,
                "provenance": "simulated",
            },
            set(_STEP_FIELDS_GIVEN),
        )
        self.log.flush(index, t)
        self.steps.append(step)
        return step

    # ----------------------------------------------------------------- endings
    def finish(self, status: str, reason: str, fn: str) -> Iterator[Step]:
        start = self.t
        if status == "cancelled":
            self.set_status("cancelling")
        self.set_status(status)
        if status == "failed":
            self.event(self.t, EventKind.ERROR, "source", reason, fn)
        for dev in self.devs:
            if dev.src.state != VfioState.RUNNING:
                # The migration notifier puts source devices back to RUNNING.
                self.device_transition(
                    dev, "source", VfioState.RUNNING, self.t, "migration failed or cancelled"
                )
        self.result = {"status": status, "reason": reason}
        step = self.make_step(
            start, Phase(status), Decision(code=status, reason=reason, qemu_function=fn)
        )
        self.log.flush(self.step_count - 1, None)
        yield step

    def cancel_at_limit(self, why: str) -> Iterator[Step]:
        # A run of passes cut by the slice held open ends here (its step comes first).
        released = release_slice_run(self)
        if released is not None:
            yield released
        inputs = self.last_gate_inputs
        held = [g.detail for g in self.gates(inputs) if not g.open] if inputs is not None else []
        reason = (
            f"{why} while switchover was still gated: "
            + ("; ".join(held) if held else "no gate held")
            + ". QEMU has no ack timeout: the migration would run until migrate_cancel."
        )
        yield from self.finish("cancelled", reason, "migrate_cancel")


SIMPLIFICATIONS = [
    "Simplified: channels share the link first come, first served; a multifd channel has no throughput limit of "
    "its own and no queue limit (x-migration-max-queued-buffers-size unlimited); the destination's main thread does "
    "not wait for the multifd channels at bitmap syncs.",
    "Simplified: RAM pages are counted, not tracked by address; pages of one pass are mixed in proportion.",
    "Simplified: idle spins of the migration thread are skipped to the next change.",
    "Simplified: the destination starts the VM itself (autostart on); postcopy is not modelled.",
]


def simulate(scenario: Scenario, max_steps: int | None = None, collapse: bool = False) -> Trace:
    """Run a scenario to the end and return its trace; with collapse=True runs of alike
    passes are one step each (collapse.py)."""
    return Simulation(scenario, max_steps=max_steps, collapse=collapse).run()


def simulate_summary(scenario: Scenario, max_steps: int | None = None) -> Summary:
    """Run a scenario to the end keeping no step records (sweeps), runs of alike passes
    collapsed: the same Summary as `simulate(scenario, max_steps).summary`, byte for byte."""
    return Simulation(scenario, max_steps=max_steps, keep_steps=False).run_summary()
