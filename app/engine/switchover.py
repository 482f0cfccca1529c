"""The switchover, one step per phase (migration_completion_precopy and the destination's
load and start). Downtime starts just before VM stop; with return-path it ends when the
destination's SHUT reaches the source (close_return_path_on_source joins that thread).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .devices import device_records
from .downtime import breakdown
from .explain import fmt_b
from .ram import NORMAL_PAGE_WIRE_BYTES, ZERO_PAGE_WIRE_BYTES
from .stream import MARKER_BYTES, Stream
from .trace import Decision, Step
from .vfio import VFIO_MIG_DATA_BUFFER_BYTES, VfioState

if TYPE_CHECKING:
    from .simulation import Simulation

CONFIG_STATE_BYTES = 4096


class SwitchoverMixin:
    def switchover(self: Simulation) -> Iterator[Step]:  # type: ignore[misc]
        guest = self.scenario.guest
        ds = self.t
        self.result["switchover_started_at_ms"] = ds
        # Records still queued at the destination, and every later one, feed the breakdown.
        self.stream.prune(ds)
        self.stream.capture = self.stream.records[self.stream.head:]
        serial: list[tuple[str, float, float]] = []

        # Phase 1: VM stop. Devices reach STOP_COPY here, not in save_complete.
        start = self.t
        self.advance_dirtying(self.t)
        was_running = self.vm_running
        self.vm_running = False
        self.event(self.t, "vm_stop", "source", "vCPUs stopped (RUN_STATE_FINISH_MIGRATE): downtime starts"
                   if was_running else "RUN_STATE_FINISH_MIGRATE (the guest was already paused): QEMU's downtime starts",
                   "migration_stop_vm")
        if was_running:
            self.t += guest.vm_stop_ms
        already_stopped = (VfioState.STOP, VfioState.STOP_COPY)
        if self.profile.p2p_and_multi_device:
            for dev in self.devs:
                if dev.src.p2p and dev.src.state not in already_stopped:
                    target = VfioState.PRE_COPY_P2P if dev.src.in_precopy else VfioState.RUNNING_P2P
                    self.device_transition(dev, "source", target, self.t, "vfio_vmstate_change_prepare (P2P quiesce)")
        for dev in self.devs:
            if dev.src.state in already_stopped:
                continue
            target = VfioState.STOP_COPY if dev.src.in_precopy else VfioState.STOP
            self.t += dev.spec.stop_copy_enter_ms
            self.device_transition(dev, "source", target, self.t, "vfio_vmstate_change at VM stop")
        serial.append(("vm_stop", start, self.t))
        pause = "pause-before-switchover" in self.src_caps
        if pause:
            self.set_status("pre-switchover")
        elif self.profile.device_state_always:
            self.set_status("device")
        yield self.make_step(start, "vm_stop", Decision(
            code="vm_stop", reason=f"VM stopped and devices moved to STOP_COPY/STOP in {self.t - start:.1f} ms: this is inside "
            "the downtime", qemu_function="migration_stop_vm"))

        if pause:
            start = self.t
            self.t += self.scenario.params.pause_before_switchover_ms
            self.event(self.t, "migrate_continue", "user", "migrate-continue received", "qmp_migrate_continue")
            self.set_status("device")
            serial.append(("pre_switchover_pause", start, self.t))
            yield self.make_step(start, "pre_switchover", Decision(
                code="pre_switchover", reason="paused in pre-switchover with the VM already stopped: the wait counts as downtime",
                qemu_function="migration_maybe_pause"))

        # Phase 2: RAM complete: one more sync, then every dirty page, rate limit lifted.
        start = self.t
        self.budget_bytes = None
        if self.profile.switchover_start_cmd:
            self.write(8, "command", 0.0, label="SWITCHOVER_START")
        self.t += self.sync_cost_ms()
        self.ram_sync("final sync at switchover")
        serial.append(("ram_final_sync", start, self.t))
        window_start = self.t
        ram_bytes = 0
        load_rate = self.scenario.destination.ram_load_bytes_per_s / 1000.0
        while self.ram.remaining_pages:
            zero, normal = self.ram.take(max(1, VFIO_MIG_DATA_BUFFER_BYTES // NORMAL_PAGE_WIRE_BYTES))
            nbytes = zero * ZERO_PAGE_WIRE_BYTES + normal * NORMAL_PAGE_WIRE_BYTES
            self.write(nbytes, "ram", nbytes / load_rate)
            self.ram_transferred += nbytes
            ram_bytes += nbytes
        yield self.make_step(start, "ram_complete", Decision(
            code="ram_complete", reason=f"final sync and {fmt_b(ram_bytes)} of RAM sent without rate limit",
            qemu_function="ram_save_complete"))

        # Phase 3: each device's stop-copy data, read from the device then sent.
        if self.multifd:
            device_reads, critical = yield from self.multifd_device_complete(window_start)
        else:
            device_reads = yield from self.main_channel_device_complete()
            critical = None

        # Phase 4: non-iterable state (CPUs, devices, VFIO config space), then EOF.
        start = self.t
        self.write(guest.non_iterable_state_bytes, "cpu", guest.non_iterable_state_bytes / load_rate, label="CPU")
        if not self.multifd:  # with multifd the config state went over each device's channel
            for dev in self.devs:
                self.write(CONFIG_STATE_BYTES, "config", dev.spec.dest_config_load_ms, dev.name, "CONFIG_STATE")
        eof = self.write(8, "eof", 0.0, label="EOF")
        flush_ms = self.t
        # The destination joins its device load threads before loadvm completes.
        loaded_ms = max([eof.load_end_ms] + [side.dest_free_ms for side in self.side_streams])
        if critical is not None and critical.dest_free_ms <= eof.load_end_ms:
            critical = None
        records = (critical.capture if critical is not None else self.stream.capture) or []
        self.event(loaded_ms, "loadvm_completed", "destination", "destination loaded the whole stream "
                   "(dst-precopy-loadvm-completed)", "qemu_loadvm_state")
        yield self.make_step(start, "non_iterable", Decision(
            code="non_iterable", reason="CPU and device config state sent, then EOF; the source waits for SHUT"
            if self.return_path else "CPU and device config state sent, then EOF",
            qemu_function="qemu_savevm_state_complete_precopy_non_iterable"))

        if not self.return_path:
            # Without a return path the source stops the clock once its sends are flushed.
            yield from self.complete(ds, flush_ms, serial, (window_start, flush_ms), device_reads, [], records=records)
            yield from self.destination_finish(loaded_ms)
            return
        yield from self.destination_finish(loaded_ms)
        start_ms = loaded_ms
        started_ms = self.dst_started_ms
        start = self.t
        self.t = max(self.t, started_ms + self.stream.latency_ms)
        self.event(self.t, "shut_received", "source", "SHUT received: the return-path thread exits; downtime ends",
                   "source_return_path_thread")
        tail = [("dest_vm_start", start_ms, started_ms), ("return_path_shut", started_ms, self.t)]
        yield from self.complete(ds, self.t, serial, (window_start, loaded_ms), device_reads, tail, start, records=records)

    def main_channel_device_complete(self: Simulation) -> Iterator[Step]:  # type: ignore[misc]
        """Devices one after another on the main channel (vfio_save_complete_precopy)."""
        device_reads: list[tuple[float, float]] = []
        for dev in self.devs:
            start = self.t
            self.enter_stop_copy(dev)
            total, chunks = self.stop_copy_chunks(dev)
            for n, init_part, dirty_part, rest_part in chunks:
                read_start = self.t
                self.t += n / (dev.spec.read_bytes_per_s / 1000.0)
                device_reads.append((read_start, self.t))
                self.write_device_data(dev, init_part, dirty_part, rest_part, precopy=False)
            self.write(8, "marker", 0.0, dev.name, "END_OF_STATE")
            yield self.make_step(start, "device_complete", Decision(
                code="device_complete", reason=f"{dev.name}: {fmt_b(total)} of stop-copy data read from the device and sent",
                qemu_function="vfio_save_complete_precopy"))
        return device_reads

    def multifd_device_complete(self: Simulation, threads_start: float) -> Iterator[Step]:  # type: ignore[misc]
        """10.0+ multifd: one save thread per device reads its stop-copy data in parallel
        and sends it over its own multifd channel; a load thread per device on the
        destination writes it into the device. The main channel carries only a dummy
        END_OF_STATE per device (vfio_multifd_save_complete_precopy_thread)."""
        start = self.t
        share = self.stream.link_bytes_per_ms / len(self.devs)
        device_reads: list[tuple[float, float]] = []
        finished: list[str] = []
        done_ms = threads_start
        for dev in self.devs:
            side = Stream(link_bytes_per_ms=share, latency_ms=self.stream.latency_ms, buffer_bytes=2**62, capture=[])
            self.side_streams.append(side)
            self.enter_stop_copy(dev)
            t = threads_start
            total, chunks = self.stop_copy_chunks(dev)
            for n, init_part, dirty_part, rest_part in chunks:
                read_start = t
                t += n / (dev.spec.read_bytes_per_s / 1000.0)
                device_reads.append((read_start, t))
                for kind, part, cost in device_records(dev, init_part, dirty_part, rest_part):
                    side.write(t, part + 2 * MARKER_BYTES, kind, cost, dev.name, "DATA", payload=part)
                    self.transferred += part + 2 * MARKER_BYTES
                    self.count_device_bytes(dev, part, precopy=False)
            side.write(t, CONFIG_STATE_BYTES, "config", dev.spec.dest_config_load_ms, dev.name, "CONFIG_STATE")
            self.transferred += CONFIG_STATE_BYTES
            self.write(8, "marker", 0.0, dev.name, "END_OF_STATE")
            done_ms = max(done_ms, t)
            finished.append(f"{dev.name} {fmt_b(total)} read by {t:.0f} ms, loaded by {side.dest_free_ms:.0f} ms")
        # The migration thread waits for every device save thread before the non-iterables.
        self.t = max(self.t, done_ms)
        yield self.make_step(start, "device_complete", Decision(
            code="device_complete", reason="multifd: device save threads in parallel: " + "; ".join(finished),
            qemu_function="vfio_multifd_save_complete_precopy_thread"))
        critical = max(self.side_streams, key=lambda side: side.dest_free_ms)
        return device_reads, critical

    def enter_stop_copy(self: Simulation, dev: Any) -> None:  # type: ignore[misc]
        if dev.src.state != VfioState.STOP_COPY:
            self.t += dev.spec.stop_copy_enter_ms
            self.device_transition(dev, "source", VfioState.STOP_COPY, self.t, "vfio_save_complete_precopy")

    def stop_copy_chunks(self: Simulation, dev: Any) -> tuple[int, list[tuple[int, int, int, int]]]:  # type: ignore[misc]
        """The device's STOP_COPY stream in read() chunks: (n, initial, dirty, rest) bytes."""
        truth = dev.truth
        total = int(truth.init_bytes + truth.dirty_bytes) + truth.stop_copy_bytes
        chunks = []
        sent = 0
        while sent < total:
            n = min(VFIO_MIG_DATA_BUFFER_BYTES, total - sent)
            init_part, dirty_part = truth.read(n)
            chunks.append((n, init_part, dirty_part, n - init_part - dirty_part))
            sent += n
        truth.stop_copy_bytes = 0
        return total, chunks

    def destination_finish(self: Simulation, loaded_ms: float) -> Iterator[Step]:  # type: ignore[misc]
        start = self.t
        self.t = max(self.t, loaded_ms)
        yield self.make_step(start, "dest_load", Decision(
            code="dest_load", reason="the destination loads what is still queued, in stream order",
            qemu_function="qemu_loadvm_state"))
        start = self.t
        self.t += self.scenario.guest.vm_start_ms
        for dev in self.devs:
            self.t += dev.spec.resume_exit_ms
            self.device_transition(dev, "destination", VfioState.RUNNING, self.t, "vm_start on the destination")
        self.dst_vm_running = True
        self.dst_started_ms = self.t
        # The guest stopped running at VM stop, or earlier if the user had paused it.
        guest_stopped = self.result["switchover_started_at_ms"]
        if self.guest_paused_at_ms is not None:
            guest_stopped = min(guest_stopped, self.guest_paused_at_ms)
        self.result["guest_downtime_ms"] = self.t - guest_stopped
        self.event(self.t, "vm_start", "destination", "destination VM running (announce + vm_start done)", "process_incoming_migration_bh")
        self.event(self.t, "status", "destination", "destination migration status completed", "process_incoming_migration_bh",
                   status="completed")
        if self.return_path:
            self.event(self.t, "shut_sent", "destination", "SHUT sent on the return path", "migration_incoming_state_destroy")
        yield self.make_step(start, "vm_start", Decision(
            code="vm_start", reason="destination: announce, devices RESUMING -> RUNNING, vCPUs run",
            qemu_function="process_incoming_migration_bh"))

    def complete(self: Simulation, ds: float, end_ms: float, serial: list[tuple[str, float, float]],  # type: ignore[misc]
                 window: tuple[float, float], device_reads: list[tuple[float, float]],
                 tail: list[tuple[str, float, float]], step_start: float | None = None,
                 records: list[Any] | None = None) -> Iterator[Step]:
        start = self.t if step_start is None else step_start
        self.t = max(self.t, end_ms)
        downtime = end_ms - ds
        # The breakdown follows the channel that finished last (the critical path).
        records = records if records is not None else (self.stream.capture or [])
        self.result.update(
            status="completed",
            reason=f"downtime {downtime:.1f} ms against a downtime-limit of {self.downtime_limit_ms:.0f} ms",
            downtime_ms=downtime,
            total_time_ms=end_ms,
            downtime_breakdown_ms=breakdown(serial, window, records, device_reads, tail, downtime),
        )
        self.set_status("completed", end_ms)
        if self.profile.stop_at_cleanup:
            for dev in self.devs:
                self.device_transition(dev, "source", VfioState.STOP, end_ms, "vfio_save_cleanup (after completion, "
                                       "outside downtime)")
        step = self.make_step(start, "completed", Decision(code="completed", reason=self.result["reason"],
                                                           qemu_function="migration_completion_end"))
        yield step
