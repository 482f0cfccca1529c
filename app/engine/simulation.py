"""The source migration thread, step by step.

`Simulation(scenario)` runs QEMU's pre-copy migration as a generator of steps: the setup,
then one step per pass of `migration_iteration_run`, then one step per phase of the
switchover (see switchover.py). Time is event driven: a pass takes as long as its sends,
syncs and device reads take; idle stretches are skipped to the next thing that can change.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .. import __version__
from .devices import DeviceRuntime, device_records
from .eventlog import EventLog
from .explain import fmt_b, gate_texts
from .profiles import PROFILES
from .ram import NORMAL_PAGE_WIRE_BYTES, PAGE_BYTES, RamModel
from .scenario import Scenario
from .stream import MARKER_BYTES, Stream
from .switchover import SwitchoverMixin
from .trace import Decision, DeviceStep, Gate, Step, Trace
from .vfio import VfioState
from .clock import before, reached

BUFFER_DELAY_MS = 100.0  # migration/migration-stats.h
MAX_WAIT_MS = 50.0  # ram.c: ram_save_iterate gives up its slice after 50 ms
SECTION_HEADER_BYTES = 16
ENGINE_STEP_LIMIT = 200_000  # documented engine limit: a run ends as cancelled past it


class Simulation(SwitchoverMixin):
    def __init__(self, scenario: Scenario, max_steps: int | None = None) -> None:
        self.scenario = scenario
        # A run that would need more steps ends as cancelled, with the reason, at this count.
        self.max_steps = min(max_steps or ENGINE_STEP_LIMIT, ENGINE_STEP_LIMIT)
        self.profile = PROFILES[scenario.qemu_profile]
        self.resolved_devices = scenario.resolved_devices()
        self.notes: list[str] = []
        g = scenario.guest
        self.ram = RamModel.create(g.ram_bytes, g.working_set_bytes, g.zero_page_fraction, g.dirty_rate_bytes_per_s, g.dirty_pattern)
        self.stream = Stream(
            link_bytes_per_ms=scenario.link.bandwidth_bytes_per_s / 1000.0,
            latency_ms=scenario.link.latency_ms,
            buffer_bytes=scenario.link.socket_buffer_bytes,
        )
        self.devs = [DeviceRuntime.create(spec, p2p_states=self.profile.p2p_and_multi_device) for spec in self.resolved_devices]
        for dev in self.devs:
            if dev.reinit_queue and not self.profile.reusable_ack:
                self.notes.append(
                    f"{dev.name}: re-initialisation events ignored: VFIO_PRECOPY_INFO_REINIT needs the proposed 2026 profile"
                )
                dev.reinit_queue = []
        caps = scenario.caps
        self.src_caps = set(caps.source)
        self.dst_caps = set(caps.destination)
        self.return_path = "return-path" in self.src_caps
        self.src_ack = "switchover-ack" in self.src_caps
        self.dst_ack = "switchover-ack" in self.dst_caps
        # 10.0+: VFIO stop-copy data over multifd channels (x-migration-multifd-transfer=auto).
        self.multifd = ("multifd" in self.src_caps and "multifd" in self.dst_caps
                        and self.profile.multifd_device_state and bool(self.devs))
        if "multifd" in self.src_caps and not self.profile.multifd_device_state:
            self.notes.append("multifd: VFIO device state over multifd channels needs QEMU 10.0; RAM over multifd "
                              "is not modelled, so the capability has no effect on this profile")
        # Per-device multifd channels used at switchover (empty otherwise).
        self.side_streams: list[Stream] = []
        self.log = EventLog()
        self.steps: list[Step] = []
        self.t = 0.0
        self.status = "none"
        self.vm_running = True
        self.dst_vm_running = False
        # Bandwidth accounting (migration_update_counters).
        self.window_t0 = 0.0
        self.window_bytes0 = 0
        self.rate_start_bytes = 0
        self.bandwidth_bytes_per_ms: float | None = None
        self.threshold_bytes = 0.0
        self.expected_downtime_ms: float | None = scenario.params.downtime_limit_ms
        self.dirty_pages_rate: float | None = None
        self.dirty_bytes_last_sync = 0
        self.last_rate_ms = 0.0
        # Parameters a user may change during the migration (migrate-set-parameters).
        self.downtime_limit_ms = scenario.params.downtime_limit_ms
        self.avail_bw_bytes_per_s = scenario.params.avail_switchover_bandwidth_bytes_per_s
        self.budget_bytes: float | None = None
        self.set_max_bandwidth(scenario.params.max_bandwidth_bytes_per_s)
        self.actions = sorted(scenario.actions, key=lambda a: a.at_ms)
        self.guest_paused_at_ms: float | None = None
        # Counters.
        self.transferred = 0
        self.ram_transferred = 0
        self.vfio_transferred = 0
        self.dirty_sync_count = 0
        self.passes = 0
        self.setup_time_ms: float | None = None
        # Switchover-ack (legacy: one latched ack; 2026: per device).
        self.dst_pending_num = 0
        self.ack_arrival_ms: float | None = None
        self.ack_sent_ms: float | None = None
        self.gate_open_since: float | None = None
        self.gate_event: Any = None
        self.dst_error: tuple[float, str] | None = None
        self.result: dict[str, Any] = {}
        self.dst_started_ms = 0.0
        self._gen = self._run()
        self.done = False

    # ----------------------------------------------------------------- public API
    def step(self) -> Step | None:
        """Advance one step (a pass or a switchover phase); None once finished."""
        if self.done:
            return None
        try:
            return next(self._gen)
        except StopIteration:
            self.done = True
            # Events scheduled past the last step (e.g. a PONG after a failure) go to it.
            if self.steps:
                self.log.flush(len(self.steps) - 1, None)
            return None

    def run(self) -> Trace:
        while self.step() is not None:
            pass
        return self.trace()

    def trace(self) -> Trace:
        from .summary import build_summary

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

    # ----------------------------------------------------------------- helpers
    def event(self, t: float, kind: str, side: str, detail: str, fn: str | None = None, device: str | None = None, **data: Any) -> None:
        self.log.add(t, kind, side, detail, fn, device, **data)

    def set_status(self, new: str, t: float | None = None) -> None:
        if new == self.status:
            return
        self.event(self.t if t is None else t, "status", "source", f"migration status {self.status} -> {new}", "migrate_set_state", status=new, previous=self.status)
        self.status = new

    def device_transition(self, dev: DeviceRuntime, side: str, target: VfioState, t: float, why: str) -> None:
        machine = dev.src if side == "source" else dev.dst
        for old, new in machine.request(target):
            self.event(t, "device_state", side, f"{dev.name} ({side}): {old.value} -> {new.value}: {why}",
                       "vfio_migration_set_state", dev.name, **{"from": old.value, "to": new.value})

    def set_max_bandwidth(self, bytes_per_s: int) -> None:
        """migration_rate_set: a per-100 ms budget of max-bandwidth / 10 (0: no limit)."""
        self.budget_bytes = bytes_per_s / 10.0 if bytes_per_s > 0 else None

    def apply_actions(self) -> str | None:
        """Apply user actions due by now; return a cancel reason if the user cancelled."""
        while self.actions and self.actions[0].at_ms <= self.t:
            action = self.actions.pop(0)
            if action.kind == "cancel":
                return f"migrate_cancel issued by the user at {action.at_ms:.0f} ms"
            if action.kind == "pause_guest":
                self.pause_guest()
                continue
            changed = []
            if action.max_bandwidth_bytes_per_s is not None:
                self.set_max_bandwidth(action.max_bandwidth_bytes_per_s)
                changed.append(f"max-bandwidth {fmt_b(action.max_bandwidth_bytes_per_s)}/s (applies now)")
            if action.downtime_limit_ms is not None:
                self.downtime_limit_ms = action.downtime_limit_ms
                changed.append(f"downtime-limit {action.downtime_limit_ms:.0f} ms")
            if action.avail_switchover_bandwidth_bytes_per_s is not None:
                self.avail_bw_bytes_per_s = action.avail_switchover_bandwidth_bytes_per_s
                changed.append(f"avail-switchover-bandwidth {fmt_b(action.avail_switchover_bandwidth_bytes_per_s)}/s")
            self.event(self.t, "set_parameters", "user", "migrate-set-parameters: " + ", ".join(changed) +
                       "; the threshold is recomputed when the current window closes", "qmp_migrate_set_parameters",
                       **{k: v for k, v in action.model_dump().items() if v is not None and k not in ("at_ms", "kind")})
        return None

    def pause_guest(self) -> None:
        """QMP `stop` during migration: vCPUs stop, pre-copy devices go to STOP_COPY
        (vfio_vmstate_change with RUN_STATE_PAUSED), and migration_can_switchover no
        longer waits for the ack."""
        if not self.vm_running:
            return
        self.advance_dirtying(self.t)
        self.vm_running = False
        self.guest_paused_at_ms = self.t
        self.event(self.t, "guest_paused", "user", "the user paused the guest (QMP stop): its dirtying stops, and "
                   "switchover no longer waits for the ack", "qmp_stop")
        for dev in self.devs:
            target = VfioState.STOP_COPY if dev.src.in_precopy else VfioState.STOP
            self.t += dev.spec.stop_copy_enter_ms
            self.device_transition(dev, "source", target, self.t, "vfio_vmstate_change (guest paused)")
        if self.src_ack:
            self.open_gate(self.t, "the guest is paused: migration_can_switchover is true without the ack")

    def sync_cost_ms(self) -> float:
        gib = self.scenario.guest.ram_bytes / 1024**3
        return 0.05 + self.scenario.guest.bitmap_sync_ms_per_gib * gib

    def advance_dirtying(self, t: float) -> None:
        self.ram.advance(t, self.vm_running)
        for dev in self.devs:
            while dev.reinit_queue and dev.reinit_queue[0][0] <= t and dev.src.in_precopy:
                at_ms, init_bytes = dev.reinit_queue.pop(0)
                dev.truth.advance(at_ms, True)
                dev.truth.init_bytes = float(init_bytes)
                dev.truth.dirty_bytes = 0.0
                dev.initial_total_bytes += init_bytes
                dev.reinit_pending_report = True
                self.event(at_ms, "reinit", "source", f"{dev.name}: the driver re-initialised its pre-copy data: "
                           f"{fmt_b(init_bytes)} of new initial bytes (VFIO_PRECOPY_INFO_REINIT, proposed 2026)", None, dev.name,
                           initial_bytes=init_bytes)
            dev.truth.advance(t, dev.src.in_precopy and self.vm_running)

    def acked(self, t: float) -> bool:
        """switchover_acked as the source's return-path thread has set it by time t."""
        if self.profile.reusable_ack and any(d.needs_ack for d in self.devs):
            needing = [d for d in self.devs if d.needs_ack]
            return all(d.ack_arrival_ms is not None and d.ack_arrival_ms <= t for d in needing)
        return self.ack_arrival_ms is not None and self.ack_arrival_ms <= t

    def can_switchover(self, t: float) -> bool:
        """migration_can_switchover."""
        return (not self.src_ack) or (not self.vm_running) or self.acked(t)

    def write(self, nbytes: int, kind: str, load_cost_ms: float, device: str | None = None, label: str = "", payload: int = 0) -> Any:
        record = self.stream.write(self.t, nbytes, kind, load_cost_ms, device, label, payload)
        self.t = record.write_ms
        self.transferred += nbytes
        return record

    def budget_exceeded(self) -> bool:
        """migration_rate_exceeded: bytes since the window start > max-bandwidth / 10."""
        if self.budget_bytes is None or self.status not in ("active", "setup"):
            return False
        return self.transferred - self.rate_start_bytes > self.budget_bytes

    def device_loaded(self, name: str, t: float) -> tuple[int, int]:
        """(device bytes, initial bytes) loaded at the destination by t, over every channel."""
        data, init = 0, 0
        for stream in (self.stream, *self.side_streams):
            d, i = stream.device_loaded(name, t)
            data, init = data + d, init + i
        return data, init

    # ----------------------------------------------------------------- destination
    def on_dest_load(self, record: Any) -> None:
        """Destination side of a record, at the time it is loaded (qemu_loadvm_state)."""
        t = record.load_end_ms
        if self.dst_error is not None:
            return
        if record.kind == "header":
            self.event(t, "status", "destination", "destination: incoming migration active; load_setup hooks run",
                       "qemu_loadvm_state_setup", status="active")
            for dev in self.devs:
                self.device_transition(dev, "destination", VfioState.RESUMING, t, "vfio_load_setup")
            if self.dst_ack:
                self.dst_pending_num = sum(1 for d in self.devs if d.needs_ack)
                self.event(t, "ack_needed", "destination", f"switchover ack pending num={self.dst_pending_num}: "
                           f"{self.dst_pending_num} device(s) must load their initial bytes first",
                           "qemu_loadvm_state_switchover_ack_needed", pending_num=self.dst_pending_num)
        elif record.label == "OPEN_RETURN_PATH":
            self.event(t, "open_return_path", "destination", "destination opened the return path", "loadvm_process_command")
            if self.dst_ack and self.dst_pending_num == 0:
                self.send_ack(t, None, "no device needs an ack: the destination acks as soon as the return path opens")
        elif record.label == "PING":
            self.event(t + self.stream.latency_ms, "pong", "source", "PONG 0x1 received on the return path",
                       "source_return_path_thread")
        elif record.label == "INIT_DATA_SENT":
            dev = next(d for d in self.devs if d.name == record.device)
            dev.init_data_loaded_at_ms = t
            if not self.dst_ack or not dev.needs_ack:
                message = "Received INIT_DATA_SENT but switchover ack is not used"
                self.event(t, "error", "destination", f"{dev.name}: {message}; load of migration failed: Invalid argument",
                           "vfio_load_state", dev.name)
                self.dst_error = (t + self.stream.latency_ms, f"destination: {message} (device {dev.name}); load of migration failed: Invalid argument")
                self.stream.dest_dead = True
                return
            self.event(t, "init_data_loaded", "destination", f"{dev.name}: INIT_DATA_SENT processed: all its initial bytes are "
                       "loaded into the device", "vfio_load_state", dev.name)
            if self.profile.reusable_ack:
                self.send_ack(t, dev, f"{dev.name} loaded its initial bytes (per-device ack, proposed 2026)")
                return
            if self.dst_pending_num <= 0:
                return
            self.dst_pending_num -= 1
            self.event(t, "approve", "destination", f"switchover ack pending num={self.dst_pending_num}",
                       "qemu_loadvm_approve_switchover", dev.name, pending_num=self.dst_pending_num)
            if self.dst_pending_num == 0:
                self.send_ack(t, None, "the last device needing an ack loaded its initial bytes")

    def send_ack(self, t: float, dev: DeviceRuntime | None, why: str) -> None:
        arrival = t + self.stream.latency_ms
        name = dev.name if dev else None
        self.event(t, "ack_sent", "destination", f"SWITCHOVER_ACK sent on the return path: {why}",
                   "migrate_send_rp_switchover_ack", name)
        self.event(arrival, "ack_received", "source", "SWITCHOVER_ACK received: switchover_acked = true "
                   "(a gate, not a trigger: completion still needs pending <= threshold)",
                   "source_return_path_thread_switchover_acked", name)
        if dev is not None:
            dev.ack_arrival_ms = arrival
        else:
            self.ack_sent_ms = t
            self.ack_arrival_ms = arrival
        if self.src_ack:
            if dev is None:
                self.open_gate(arrival, "the switchover ack arrived")
            else:
                arrivals = [d.ack_arrival_ms for d in self.devs if d.needs_ack]
                if all(a is not None for a in arrivals):
                    self.open_gate(max(a for a in arrivals if a is not None),
                                   "every device that needs an ack has a valid ack")

    # ----------------------------------------------------------------- main loop
    def _run(self) -> Iterator[Step]:
        failure = self.preflight()
        self.set_status("setup")
        if failure is not None:
            yield from self.finish("failed", failure, "migrate")
            return
        yield from self.setup()
        while True:
            if self.dst_error is not None and self.t >= self.dst_error[0]:
                yield from self.finish("failed", self.dst_error[1], "migration_detect_error")
                return
            if self.t >= self.scenario.max_time_ms:
                yield from self.cancel_at_limit(f"max_time_ms ({self.scenario.max_time_ms:.0f} ms) reached")
                return
            # Leave room for the switchover's steps (about six plus one per device).
            if len(self.steps) >= self.max_steps - (8 + len(self.devs)):
                yield from self.cancel_at_limit(f"step limit ({self.max_steps} steps per run) reached at "
                                                f"{self.t:.0f} ms of simulated time")
                return
            cancelled = self.apply_actions()
            if cancelled is not None:
                yield from self.finish("cancelled", cancelled, "qmp_migrate_cancel")
                return
            switch = yield from self.iteration_pass()
            if switch:
                yield from self.switchover()
                return

    def preflight(self) -> str | None:
        if ("multifd" in self.src_caps) != ("multifd" in self.dst_caps):
            return "multifd must be on at both ends: the destination cannot read the other side's channels"
        if self.src_ack and not self.return_path:
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
        self.window_t0 = 0.0
        record = self.write(SECTION_HEADER_BYTES, "header", 0.0, label="HEADER")
        self.on_dest_load(record)
        if self.return_path:
            self.event(self.t, "open_return_path", "source", "MIG_CMD_OPEN_RETURN_PATH sent; return-path thread started",
                       "migration_thread")
            self.on_dest_load(self.write(MARKER_BYTES, "command", 0.0, label="OPEN_RETURN_PATH"))
            self.on_dest_load(self.write(MARKER_BYTES + 4, "command", 0.0, label="PING"))
            self.event(self.t, "ping", "source", "MIG_CMD_PING 0x1 sent", "qemu_savevm_send_ping")
        # RAM setup: the initial bitmap sync; every page is dirty in the bitmap.
        self.t += self.scenario.guest.setup_ms + self.sync_cost_ms()
        self.dirty_sync_count = 1
        self.last_rate_ms = self.t
        self.ram.advance(self.t, False)
        self.event(self.t, "bitmap_sync", "source", f"initial bitmap sync: all {fmt_b(self.ram.remaining_bytes)} of RAM dirty",
                   "ram_save_setup", dirty_sync_count=1, remaining_bytes=self.ram.remaining_bytes)
        for dev in self.devs:
            length = dev.query_stop_copy_length()
            dev.chunk_bytes = max(1, min(dev.chunk_bytes, length)) if not dev.spec.stop_copy_query_fails else dev.chunk_bytes
            if dev.spec.precopy:
                self.t += dev.spec.precopy_enter_ms
                self.advance_dirtying(self.t)
                self.device_transition(dev, "source", VfioState.PRE_COPY, self.t, "vfio_save_setup")
                dev.truth.last_ms = self.t
                dev.init_est = int(dev.truth.init_bytes)
                dev.dirty_est = int(dev.truth.dirty_bytes)
            self.write(SECTION_HEADER_BYTES + MARKER_BYTES * 2, "marker", 0.0, dev.name, "SETUP_STATE")
        self.setup_time_ms = self.t
        self.set_status("active")
        if not self.src_ack:
            self.open_gate(self.t, "switchover-ack is off on the source: nothing to wait for")
        yield self.make_step(start, "setup", Decision(
            code="setup", reason=f"setup hooks ran (RAM bitmap, {len(self.devs)} VFIO device(s) to PRE_COPY): status active",
            qemu_function="qemu_savevm_state_setup"))

    def open_gate(self, t: float, why: str) -> None:
        """Record the moment switchover becomes permitted (scheduled at its own time, which
        may be in the future: an ack that is still on the return path)."""
        if self.gate_open_since is None:
            self.gate_open_since = t
            self.gate_event = self.log.add(t, "switchover_permitted", "source", f"switchover permitted from now on: {why}",
                                           "migration_can_switchover")

    def close_gate(self, t: float) -> None:
        """2026 profile: a re-initialised device invalidates its ack."""
        if self.gate_open_since is None:
            return
        if self.gate_open_since > t and self.gate_event is not None:
            self.gate_event.cancelled = True
        else:
            self.event(t, "switchover_blocked", "source", "switchover no longer permitted: a device re-initialised and needs "
                       "a fresh ack (proposed 2026)", "migration_can_switchover")
        self.gate_open_since = None
        self.gate_event = None

    # ----------------------------------------------------------------- one pass
    def iteration_pass(self) -> Iterator[Step]:
        """migration_iteration_run, then migration_rate_limit. Returns True to switch over."""
        start = self.t
        self.passes += 1
        self.advance_dirtying(self.t)
        can = self.can_switchover(self.t)
        ram_est = self.ram.remaining_bytes
        estimate = ram_est + sum(d.precopy_estimate() for d in self.devs)
        thr = self.threshold_bytes
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
        if self.profile.complete_le:
            ram_ok = pending <= thr
        else:
            ram_ok = pending == 0 or pending < thr
        gates = self.gates(ram_ok, can, estimate, exact, thr)
        if ram_ok and can:
            self.event(self.t, "switchover_decided", "source", f"pending {fmt_b(pending)} within threshold {fmt_b(thr)} and "
                       "switchover permitted: stop the VM", "migration_thread_low_pending", pending_bytes=pending)
            decision = Decision.model_construct(code="switchover", reason=gate_texts(gates, switch=True), qemu_function="migration_iteration_run")
            yield self.make_step(start, "iterate", decision, gates, estimate, exact)
            return True
        sent_before = self.transferred
        payload_before = self.ram_transferred + self.vfio_transferred
        stopped_by = self.iterate_handlers()
        sent = self.transferred - sent_before
        slept = self.rate_limit()
        # A pass that wrote only VFIO END_OF_STATE markers (read() said ENOMSG) moved no
        # data: QEMU spins through such passes, so it is idle like a pass that wrote nothing.
        idle = self.ram_transferred + self.vfio_transferred == payload_before and exact is None and not slept
        if idle:
            self.skip_idle()
        code = "wait_for_ack" if ram_ok and not can else "keep_iterating"
        reason = gate_texts(gates, switch=False)
        if stopped_by:
            reason += f" This pass: {stopped_by}."
        if slept:
            reason += f" {slept}"
        if idle:
            code = "idle"
            reason += " Nothing to send: skip ahead to the next window or return-path message (QEMU busy-loops here)."
        yield self.make_step(start, "iterate", Decision.model_construct(code=code, reason=reason, qemu_function="migration_iteration_run"),
                             gates, estimate, exact, pass_sent=sent)
        return False

    def exact_query(self) -> int:
        """qemu_savevm_state_pending_exact: RAM bitmap sync, then every device's ioctls."""
        self.t += self.sync_cost_ms()
        self.advance_dirtying(self.t)
        self.ram_sync("exact pending query")
        total = self.ram.remaining_bytes
        for dev in self.devs:
            length = dev.query_stop_copy_length()
            total += length
            if dev.src.in_precopy:
                if dev.reinit_pending_report and self.profile.reusable_ack:
                    dev.reinit_pending_report = False
                    dev.initial_data_sent = False
                    dev.ack_arrival_ms = None
                    self.close_gate(self.t)
                    self.event(self.t, "reinit", "source", f"{dev.name}: VFIO_PRECOPY_INFO_REINIT seen: initial bytes must be "
                               "sent again and acked again (proposed 2026)", "vfio_query_precopy_size", dev.name)
                dev.init_est = int(dev.truth.init_bytes)
                dev.dirty_est = int(dev.truth.dirty_bytes)
                if self.profile.vfio_exact_double_count:
                    total += dev.init_est + dev.dirty_est
        return total

    def ram_sync(self, why: str) -> None:
        new_pages = self.ram.sync()
        self.dirty_sync_count += 1
        self.dirty_bytes_last_sync = self.ram.remaining_bytes
        if self.t - self.last_rate_ms >= 1000.0:
            self.dirty_pages_rate = self.ram.new_dirty_pages_period * 1000.0 / (self.t - self.last_rate_ms)
            self.ram.new_dirty_pages_period = 0
            self.last_rate_ms = self.t
        self.event(self.t, "bitmap_sync", "source", f"bitmap sync #{self.dirty_sync_count} ({why}): {fmt_b(new_pages * PAGE_BYTES)} "
                   f"newly dirty; {fmt_b(self.ram.remaining_bytes)} to send (MIGRATION_PASS)", "migration_bitmap_sync_precopy",
                   dirty_sync_count=self.dirty_sync_count, remaining_bytes=self.ram.remaining_bytes)

    def iterate_handlers(self) -> str:
        """qemu_savevm_state_iterate: RAM first, then each VFIO device in pre-copy; the
        rate budget is checked before each handler; 8.x stops at the first 'not done'."""
        handlers: list[DeviceRuntime | None] = [None] + [d for d in self.devs if d.src.in_precopy]
        for handler in handlers:
            name = "RAM" if handler is None else handler.name
            if self.budget_exceeded():
                return f"rate budget used before {name}: handlers after it get nothing this pass"
            done = self.ram_iterate() if handler is None else self.vfio_iterate(handler)
            if self.profile.serialize_iterate and not done:
                rest = handlers[handlers.index(handler) + 1:]
                if rest:
                    return f"{name} returned 0 (not done): in 8.x the walk stops here, later devices are starved"
                return ""
        return ""

    def ram_iterate(self) -> bool:
        """ram_save_iterate: send pages until the budget is exceeded, the bitmap is empty
        (returns 1) or 50 ms passed (MAX_WAIT)."""
        start = self.t
        load_rate = self.scenario.destination.ram_load_bytes_per_s / 1000.0
        while True:
            if self.ram.remaining_pages == 0:
                return True
            if self.budget_exceeded() or self.t - start >= MAX_WAIT_MS:
                return False
            per_page = self.ram.wire_bytes_per_page()
            limit_pages = max(1, int(1024**2 // per_page))
            if self.budget_bytes is not None:
                left = self.budget_bytes - (self.transferred - self.rate_start_bytes)
                limit_pages = min(limit_pages, max(1, int(left // per_page) + 1))
            zero, normal = self.ram.take(limit_pages)
            nbytes = zero * 9 + normal * NORMAL_PAGE_WIRE_BYTES
            self.write(nbytes, "ram", nbytes / load_rate)
            self.ram_transferred += nbytes

    def vfio_iterate(self, dev: DeviceRuntime) -> bool:
        """vfio_save_iterate: one read() of at most the buffer size, then INIT_DATA_SENT
        or END_OF_STATE."""
        self.advance_dirtying(self.t)
        n = int(min(dev.chunk_bytes, dev.truth.init_bytes + dev.truth.dirty_bytes))
        if n <= 0:
            # read() fails with ENOMSG: vfio_update_estimated_pending_data(0) zeroes both.
            dev.init_est = 0
            dev.dirty_est = 0
        else:
            self.t += n / (dev.spec.read_bytes_per_s / 1000.0)
            init_part, dirty_part = dev.truth.read(n)
            self.write_device_data(dev, init_part, dirty_part, 0, precopy=True)
            taken = min(dev.init_est, n)
            dev.init_est -= taken
            dev.dirty_est = max(0, dev.dirty_est - (n - taken))
        if self.src_ack and dev.init_est == 0 and not dev.initial_data_sent:
            dev.initial_data_sent = True
            record = self.write(MARKER_BYTES, "marker", 0.0, dev.name, "INIT_DATA_SENT")
            dev.init_data_sent_at_ms = self.t
            self.event(self.t, "init_data_sent", "source", f"{dev.name}: QEMU's local initial-bytes count reached 0: "
                       "section ends with INIT_DATA_SENT", "vfio_save_iterate", dev.name)
            self.on_dest_load(record)
        else:
            self.write(MARKER_BYTES, "marker", 0.0, dev.name, "END_OF_STATE")
        if self.profile.serialize_iterate:
            return True  # 8.x: vfio_save_iterate always returned 1
        return dev.init_est == 0 and dev.dirty_est == 0

    def write_device_data(self, dev: DeviceRuntime, init_part: int, dirty_part: int, rest_part: int, precopy: bool) -> None:
        """Device data goes into the stream as DEV_DATA_STATE records; the destination
        pays the slow initial-bytes cost for the initial part."""
        for kind, part, cost in device_records(dev, init_part, dirty_part, rest_part):
            # DEV_DATA_STATE tag + be64 size, then the raw bytes.
            self.write(part + 2 * MARKER_BYTES, kind, cost, dev.name, "DATA", payload=part)
            self.count_device_bytes(dev, part, precopy)

    def count_device_bytes(self, dev: DeviceRuntime, part: int, precopy: bool) -> None:
        dev.sent_bytes += part
        self.vfio_transferred += part
        if precopy:
            dev.precopy_sent_bytes += part
        else:
            dev.stopcopy_sent_bytes += part

    def rate_limit(self) -> str:
        """migration_rate_limit: close the window after >= 100 ms; sleep if over budget."""
        slept = ""
        wake = self.window_end_ms()
        if before(self.t, wake) and self.budget_exceeded():
            slept = f"Rate budget used: sleep {wake - self.t:.1f} ms until the window ends (migration_rate_limit)."
            self.t = wake
        if reached(self.t, wake):
            self.close_window()
        return slept

    def close_window(self) -> None:
        """migration_update_counters: bandwidth, threshold_size, expected downtime."""
        spent = self.t - self.window_t0
        moved = self.transferred - self.window_bytes0
        bandwidth = moved / spent if spent > 0 else 0.0
        avail = self.avail_bw_bytes_per_s
        effective = avail / 1000.0 if avail else bandwidth
        self.bandwidth_bytes_per_ms = bandwidth
        self.threshold_bytes = effective * self.downtime_limit_ms
        if self.dirty_pages_rate is not None and moved > 10000 and effective > 0:
            self.expected_downtime_ms = self.dirty_bytes_last_sync / effective
        self.event(self.t, "window", "source", f"window of {spent:.0f} ms closed: measured {fmt_b(bandwidth * 1000)}/s, threshold "
                   f"{fmt_b(self.threshold_bytes)}" + (" (avail-switchover-bandwidth)" if avail else ""),
                   "migration_update_counters", bandwidth_bytes_per_s=round(bandwidth * 1000, 3),
                   threshold_bytes=round(self.threshold_bytes, 3))
        self.window_t0 = self.t
        self.window_bytes0 = self.transferred
        self.rate_start_bytes = self.transferred

    def skip_idle(self) -> None:
        """Nothing was sent and nothing synced: QEMU would spin; jump to the next moment
        something can change (window end, an ack or an error arriving, the time limit)."""
        candidates = [self.scenario.max_time_ms]
        if before(self.t, self.window_end_ms()) or self.transferred > self.window_bytes0:
            candidates.append(self.window_end_ms())
        for arrival in [self.ack_arrival_ms] + [d.ack_arrival_ms for d in self.devs]:
            if arrival is not None and arrival > self.t:
                candidates.append(arrival)
        if self.dst_error is not None and self.dst_error[0] > self.t:
            candidates.append(self.dst_error[0])
        for dev in self.devs:
            if dev.reinit_queue:
                candidates.append(dev.reinit_queue[0][0])
        if self.actions:
            candidates.append(self.actions[0].at_ms)
        target = max(self.t, min(candidates))
        self.t = target
        if reached(self.t, self.window_end_ms()):
            self.close_window()

    def window_end_ms(self) -> float:
        """The moment the current bandwidth window may close (BUFFER_DELAY after its start)."""
        return self.window_t0 + BUFFER_DELAY_MS

    # ----------------------------------------------------------------- snapshots
    def gates(self, ram_ok: bool, can: bool, estimate: int, exact: int | None, thr: float) -> list[Gate]:
        from .explain import ack_gate_detail, ram_gate_detail

        return [
            Gate.model_construct(name="ram_threshold", open=ram_ok, detail=ram_gate_detail(self, estimate, exact, thr, ram_ok)),
            Gate.model_construct(name="switchover_ack", open=can, detail=ack_gate_detail(self, can)),
        ]

    def make_step(self, start: float, phase: str, decision: Decision, gates: list[Gate] | None = None,
                  estimate: int | None = None, exact: int | None = None, pass_sent: int | None = None) -> Step:
        index = len(self.steps)
        t = self.t
        streams = [self.stream, *self.side_streams]
        loaded = sum(stream.loaded_bytes(t) for stream in streams)
        written = sum(stream.written_bytes for stream in streams)
        devices = []
        for dev in self.devs:
            dev_loaded, init_loaded = self.device_loaded(dev.name, t)
            devices.append(DeviceStep.model_construct(
                name=dev.name,
                src_state=dev.src.state.value,
                dst_state=dev.dst.state.value,
                init_est_bytes=dev.init_est,
                dirty_est_bytes=dev.dirty_est,
                init_kernel_bytes=int(dev.truth.init_bytes),
                dirty_kernel_bytes=int(dev.truth.dirty_bytes),
                stop_copy_length_bytes=dev.query_stop_copy_length() if dev.src.state != VfioState.STOP else 0,
                sent_bytes=dev.sent_bytes,
                loaded_bytes=dev_loaded,
                init_loaded_bytes=init_loaded,
                init_data_sent=dev.initial_data_sent,
                init_data_loaded=dev.init_data_loaded_at_ms is not None and dev.init_data_loaded_at_ms <= t,
                acked=(dev.ack_arrival_ms is not None and dev.ack_arrival_ms <= t) if self.profile.reusable_ack else None,
            ))
        # model_construct: the engine builds these from typed values; validating every one
        # of 100,000 steps would cost more than the simulation itself.
        step = Step.model_construct(
            index=index,
            t_ms=round(start, 3),
            end_ms=round(t, 3),
            phase=phase,
            status=self.status,
            vm_running=self.vm_running,
            dst_vm_running=self.dst_vm_running,
            ram_remaining_bytes=self.ram.remaining_bytes,
            ram_dirty_unsynced_bytes=self.ram.log_bytes,
            dirty_sync_count=self.dirty_sync_count,
            bandwidth_bytes_per_s=None if self.bandwidth_bytes_per_ms is None else round(self.bandwidth_bytes_per_ms * 1000, 3),
            threshold_bytes=round(self.threshold_bytes, 3),
            pending_estimate_bytes=estimate,
            pending_exact_bytes=exact,
            expected_downtime_ms=None if self.expected_downtime_ms is None else round(self.expected_downtime_ms, 3),
            can_switchover=self.can_switchover(t),
            switchover_acked=self.acked(t),
            transferred_bytes=self.transferred,
            ram_transferred_bytes=self.ram_transferred,
            vfio_transferred_bytes=self.vfio_transferred,
            loaded_bytes=loaded,
            in_flight_bytes=written - loaded,
            pass_sent_bytes=pass_sent,
            devices=devices,
            gates=gates or [],
            decision=decision,
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
            self.event(self.t, "error", "source", reason, fn)
        for dev in self.devs:
            if dev.src.state not in (VfioState.RUNNING,):
                # The migration notifier puts source devices back to RUNNING.
                self.device_transition(dev, "source", VfioState.RUNNING, self.t, "migration failed or cancelled")
        self.result = {"status": status, "reason": reason}
        step = self.make_step(start, status, Decision(code=status, reason=reason, qemu_function=fn))
        self.log.flush(step.index, None)
        yield step

    def cancel_at_limit(self, why: str) -> Iterator[Step]:
        last = self.steps[-1] if self.steps else None
        held = [g.detail for g in (last.gates if last else []) if not g.open]
        reason = f"{why} while switchover was still gated: " + ("; ".join(held) if held else "no gate held") + \
            ". QEMU has no ack timeout: the migration would run until migrate_cancel."
        yield from self.finish("cancelled", reason, "migrate_cancel")


SIMPLIFICATIONS = [
    "Simplified: RAM always uses the main channel; with multifd (10.0+) only VFIO stop-copy data uses per-device "
    "channels, which share the link equally and have no queue limit (x-migration-max-queued-buffers-size unlimited).",
    "Simplified: RAM pages are counted, not tracked by address; pages of one pass are mixed in proportion.",
    "Simplified: idle spins of the migration thread are skipped to the next change.",
    "Simplified: the destination starts the VM itself (autostart on); postcopy is not modelled.",
]


def simulate(scenario: Scenario, max_steps: int | None = None) -> Trace:
    """Run a scenario to the end and return its trace."""
    return Simulation(scenario, max_steps=max_steps).run()
