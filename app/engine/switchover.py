"""The switchover, one step per phase (migration_completion_precopy and the destination's
load and start). Downtime starts just before VM stop; with return-path it ends when the
destination's SHUT reaches the source (close_return_path_on_source joins that thread).

Device stop-copy data is serial per device: the final SAVE starts at the STOP_COPY
transition (at VM stop for pre-copy devices: vfio_vmstate_change ->
mlx5vf_pci_save_device_inc_data), read() waits until it is done, the bytes cross the link,
and the destination loads the image when its last byte has been written
(mlx5vf_resume_write -> mlx5vf_cmd_load_vhca_state). Without multifd the main channel carries
one device after the other (vfio_save_complete_precopy) and the destination loads them one
after the other; with multifd device state (10.0+) each device has a save thread and a load
thread, its data shares the multifd channels and the link with the others.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

from .clock import before
from .devices import HOST_COPY_BYTES_PER_MS, DeviceRuntime, Image, ImageKind, Piece
from .downtime import breakdown
from .explain import fmt_b
from .ram import NORMAL_PAGE_WIRE_BYTES, ZERO_PAGE_WIRE_BYTES
from .stream import MARKER_BYTES, Record, Stream
from .trace import Decision, EventKind, Phase, Step
from .vfio import VFIO_MIG_DATA_BUFFER_BYTES, VfioState

if TYPE_CHECKING:
    from .simulation import Simulation

CONFIG_STATE_BYTES = 4096

Span = tuple[str, float, float]
Reads = list[tuple[float, float]]


class Switchover:
    """Drives the simulation's parts through the completion; holds only what the
    downtime breakdown needs."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.serial: list[Span] = []
        self.device_reads: Reads = []

    def run(self) -> Generator[Step, None, None]:
        sim = self.sim
        guest = sim.scenario.guest
        ds = sim.t
        sim.result["switchover_started_at_ms"] = ds
        # Records still queued at the destination, and every later one, feed the breakdown.
        for stream in sim.streams:
            stream.prune(ds)
            stream.capture = stream.records[stream.head :]

        # Phase 1: VM stop. Pre-copy devices reach STOP_COPY here (their final SAVE starts).
        start = sim.t
        sim.advance_dirtying(sim.t)
        was_running = sim.src.vm_running
        sim.src.vm_running = False
        vcpu_ms = guest.vm_stop_ms + guest.vcpus * guest.vm_stop_ms_per_vcpu
        sim.event(
            sim.t,
            EventKind.VM_STOP,
            "source",
            "vCPUs stopped (RUN_STATE_FINISH_MIGRATE): downtime starts"
            if was_running
            else "RUN_STATE_FINISH_MIGRATE (the guest was already paused): QEMU's downtime starts",
            "migration_stop_vm",
        )
        if was_running:
            sim.t += vcpu_ms
        already_stopped = (VfioState.STOP, VfioState.STOP_COPY)
        if sim.profile.p2p_and_multi_device:
            for dev in sim.devs:
                if dev.src.p2p and dev.src.state not in already_stopped:
                    target = VfioState.PRE_COPY_P2P if dev.src.in_precopy else VfioState.RUNNING_P2P
                    sim.device_transition(
                        dev, "source", target, sim.t, "vfio_vmstate_change_prepare (P2P quiesce)"
                    )
        for dev in sim.devs:
            if dev.src.state in already_stopped:
                continue
            precopy = dev.src.in_precopy
            sim.t += dev.spec.stop_copy_enter_ms
            sim.device_transition(
                dev,
                "source",
                VfioState.STOP_COPY if precopy else VfioState.STOP,
                sim.t,
                "vfio_vmstate_change at VM stop",
            )
            if precopy:
                dev.start_final_save(sim.t)
        self.serial.append(("vm_stop", start, sim.t))
        pause = "pause-before-switchover" in sim.src_caps
        if pause:
            sim.set_status("pre-switchover")
        elif sim.profile.device_state_always:
            sim.set_status("device")
        scale = (
            (
                f" ({guest.vcpus} vCPU(s) x {guest.vm_stop_ms_per_vcpu:g} ms + {guest.vm_stop_ms:g} ms, then each "
                "device's transition)"
            )
            if was_running
            else ""
        )
        yield sim.make_step(
            start,
            Phase.VM_STOP,
            Decision(
                code="vm_stop",
                reason=f"VM stopped and devices moved to STOP_COPY/STOP in {sim.t - start:.1f} ms{scale}: "
                "this is inside the downtime; the devices' final SAVEs start now",
                qemu_function="migration_stop_vm",
            ),
        )

        if pause:
            start = sim.t
            sim.t += sim.scenario.params.pause_before_switchover_ms
            sim.event(
                sim.t,
                EventKind.MIGRATE_CONTINUE,
                "user",
                "migrate-continue received",
                "qmp_migrate_continue",
            )
            sim.set_status("device")
            self.serial.append(("pre_switchover_pause", start, sim.t))
            yield sim.make_step(
                start,
                Phase.PRE_SWITCHOVER,
                Decision(
                    code="pre_switchover",
                    reason="paused in pre-switchover with the VM already stopped: the wait counts as "
                    "downtime",
                    qemu_function="migration_maybe_pause",
                ),
            )

        # Phase 2: RAM complete: one more sync, then every dirty page, rate limit lifted.
        start = sim.t
        sim.window.budget_bytes = None
        if sim.profile.switchover_start_cmd:
            sim.write(8, "command", 0.0, label="SWITCHOVER_START")
        sim.t += sim.sync_cost_ms()
        sim.ram_sync("final sync at switchover")
        self.serial.append(("ram_final_sync", start, sim.t))
        window_start = sim.t
        ram_bytes = 0
        load_rate = sim.scenario.destination.ram_load_bytes_per_s / 1000.0
        chunks = []
        while sim.ram.remaining_pages:
            zero, normal = sim.ram.take(
                max(1, VFIO_MIG_DATA_BUFFER_BYTES // NORMAL_PAGE_WIRE_BYTES)
            )
            chunks.append(zero * ZERO_PAGE_WIRE_BYTES + normal * NORMAL_PAGE_WIRE_BYTES)
        if sim.channels.ram:
            for nbytes in chunks:
                sim.write_ram(nbytes, nbytes / load_rate)
                ram_bytes += nbytes
        else:
            # One channel: the same writes in one loop (Stream.write_chunks); the pages a
            # chunk takes do not depend on when the one before was written.
            sim.t = sim.main.write_chunks(sim.t, chunks, "ram", load_rate)
            for nbytes in chunks:
                sim.src.transferred += nbytes
                sim.src.ram_transferred += nbytes
                ram_bytes += nbytes
        yield sim.make_step(
            start,
            Phase.RAM_COMPLETE,
            Decision(
                code="ram_complete",
                reason=f"final sync and {fmt_b(ram_bytes)} of RAM sent without rate limit",
                qemu_function="ram_save_complete",
            ),
        )

        # Phase 3: each device's stop-copy image: saved, read, sent, loaded.
        if sim.multifd:
            yield from self.multifd_device_complete(window_start)
        else:
            yield from self.main_channel_device_complete()

        # Phase 4: non-iterable state (CPUs, devices, VFIO config space), then EOF.
        start = sim.t
        sim.write(
            guest.non_iterable_state_bytes,
            "cpu",
            guest.non_iterable_state_bytes / load_rate,
            label="CPU",
        )
        if not sim.multifd:  # with multifd the config state went over each device's channel
            for dev in sim.devs:
                sim.write(
                    CONFIG_STATE_BYTES,
                    "config",
                    dev.spec.dest_config_load_ms,
                    dev.name,
                    "CONFIG_STATE",
                )
        eof = sim.write(8, "eof", 0.0, label="EOF")
        flush_ms = sim.t
        # The destination joins its channels and device load threads before loadvm completes.
        others = [s for s in sim.streams if s is not sim.main]
        loaded_ms = max([eof.load_end_ms] + [s.dest_free_ms for s in others])
        critical = max(others, key=lambda s: s.dest_free_ms, default=None)
        if critical is None or critical.dest_free_ms <= eof.load_end_ms:
            critical = sim.main
        records: list[Record] = critical.capture or []
        sim.event(
            loaded_ms,
            EventKind.LOADVM_COMPLETED,
            "destination",
            "destination loaded the whole stream (dst-precopy-loadvm-completed)",
            "qemu_loadvm_state",
        )
        yield sim.make_step(
            start,
            Phase.NON_ITERABLE,
            Decision(
                code="non_iterable",
                reason="CPU and device config state sent, then EOF; the source waits for SHUT"
                if sim.rp.enabled
                else "CPU and device config state sent, then EOF",
                qemu_function="qemu_savevm_state_complete_precopy_non_iterable",
            ),
        )

        if not sim.rp.enabled:
            # Without a return path the source stops the clock once its sends are flushed.
            yield from self.complete(ds, flush_ms, (window_start, flush_ms), [], records)
            yield from self.destination_finish(loaded_ms)
            return
        yield from self.destination_finish(loaded_ms)
        started_ms = sim.dst.started_ms
        start = sim.t
        sim.t = max(sim.t, started_ms + sim.rp.latency_ms)
        sim.event(
            sim.t,
            EventKind.SHUT_RECEIVED,
            "source",
            "SHUT received: the return-path thread exits; downtime ends",
            "source_return_path_thread",
        )
        tail = [("dest_vm_start", loaded_ms, started_ms), ("return_path_shut", started_ms, sim.t)]
        yield from self.complete(ds, sim.t, (window_start, loaded_ms), tail, records, start)

    def read_stop_copy(
        self, dev: DeviceRuntime, t: float, stream: Stream | None
    ) -> tuple[int, float]:
        """The device's STOP_COPY stream, read() by read(): the rest of its pre-copy images
        (already saved: a copy), then the final image once its SAVE is done. Returns (bytes,
        the reader's clock afterwards)."""
        sim = self.sim
        total = 0
        while dev.data.images:
            head = dev.data.images[0]
            if (
                head.kind == ImageKind.FINAL
                and dev.final_ready_ms is not None
                and before(t, dev.final_ready_ms)
            ):
                # mlx5vf_save_read waits until the SAVE has filled its buffer.
                self.device_reads.append((t, dev.final_ready_ms))
                t = dev.final_ready_ms
            if head.left > VFIO_MIG_DATA_BUFFER_BYTES:
                left = head.left
                t = self.read_whole_chunks(dev, head, t, stream)
                total += left - head.left
                continue
            pieces = dev.read(min(VFIO_MIG_DATA_BUFFER_BYTES, head.left))
            read_start = t
            t += dev.read_cost_ms(pieces)
            self.device_reads.append((read_start, t))
            if stream is None:
                sim.t = t
            t = sim.write_device_pieces(dev, pieces, precopy=False, stream=stream, at_ms=t)
            total += sum(p.nbytes for p in pieces)
        return total, t

    def read_whole_chunks(
        self, dev: DeviceRuntime, head: Image, t: float, stream: Stream | None
    ) -> float:
        """The reads of `head` that do not complete it: each one whole buffer of the same
        image, so the same read cost, record size and destination cost (a copy) every time;
        written by Stream.write_reads with the operations of one read_stop_copy iteration
        each (records, device reads and counters byte-identical). Returns the reader's
        clock after the last write."""
        sim = self.sim
        chunk = VFIO_MIG_DATA_BUFFER_BYTES
        count = (head.left - 1) // chunk
        # DeviceRuntime.read_cost_ms and dest_cost_ms of one piece of `chunk` bytes of `head`.
        rate = HOST_COPY_BYTES_PER_MS if head.saved else dev.spec.read_bytes_per_s / 1000.0
        read_ms = 0.0 + chunk / rate
        piece = Piece(head.kind, chunk, False, head)
        cost = dev.dest_cost_ms(piece)
        nbytes = chunk + 2 * MARKER_BYTES
        target = sim.main if stream is None else stream
        t = target.write_reads(
            t,
            count,
            nbytes,
            head.kind.value,
            cost,
            dev.name,
            "DATA",
            chunk,
            read_ms,
            self.device_reads,
        )
        head.left -= count * chunk
        sim.src.transferred += count * nbytes
        sim.count_device_bytes(dev, count * chunk, precopy=False)
        if stream is None:
            sim.t = t
        return t

    def enter_stop_copy(self, dev: DeviceRuntime, t: float) -> float:
        """vfio_save_complete_precopy: a device not yet in STOP_COPY (no PRE_COPY) goes
        there now, which starts its SAVE."""
        if dev.src.state != VfioState.STOP_COPY:
            t += dev.spec.stop_copy_enter_ms
            self.sim.device_transition(
                dev, "source", VfioState.STOP_COPY, t, "vfio_save_complete_precopy"
            )
        dev.start_final_save(t)
        return t

    def main_channel_device_complete(self) -> Generator[Step, None, None]:
        """Devices one after another on the main channel (vfio_save_complete_precopy)."""
        sim = self.sim
        for dev in sim.devs:
            start = sim.t
            sim.t = self.enter_stop_copy(dev, sim.t)
            total, t = self.read_stop_copy(dev, sim.t, None)
            sim.t = max(sim.t, t)
            sim.write(8, "marker", 0.0, dev.name, "END_OF_STATE")
            yield sim.make_step(
                start,
                Phase.DEVICE_COMPLETE,
                Decision(
                    code="device_complete",
                    reason=f"{dev.name}: {fmt_b(total)} of stop-copy data: SAVE, then read and "
                    "sent; the destination loads the image when its last byte arrives (save, transfer and load are serial "
                    "per device)",
                    qemu_function="vfio_save_complete_precopy",
                ),
            )

    def multifd_device_complete(self, threads_start: float) -> Generator[Step, None, None]:
        """10.0+ multifd: one save thread per device reads its stop-copy data and queues it
        on a multifd channel (device i on channel i mod multifd-channels; channels and the
        link are shared); a load thread per device on the destination loads it. The main
        channel carries only a dummy END_OF_STATE per device
        (vfio_multifd_save_complete_precopy_thread)."""
        sim = self.sim
        start = sim.t
        finished: list[str] = []
        done_ms = threads_start
        for index, dev in enumerate(sim.devs):
            lane, stream = sim.channels.device_stream(index)
            t = self.enter_stop_copy(dev, threads_start)
            total, t = self.read_stop_copy(dev, t, stream)
            stream.write(
                t,
                CONFIG_STATE_BYTES,
                "config",
                dev.spec.dest_config_load_ms,
                dev.name,
                "CONFIG_STATE",
            )
            sim.src.transferred += CONFIG_STATE_BYTES
            sim.write(8, "marker", 0.0, dev.name, "END_OF_STATE")
            done_ms = max(done_ms, t)
            finished.append(
                f"{dev.name} {fmt_b(total)} on channel {lane}, read by {t:.0f} ms, "
                f"loaded by {stream.dest_free_ms:.0f} ms"
            )
        # The migration thread waits for every device save thread before the non-iterables.
        sim.t = max(sim.t, done_ms)
        yield sim.make_step(
            start,
            Phase.DEVICE_COMPLETE,
            Decision(
                code="device_complete",
                reason=f"multifd: device save threads in parallel over {len(sim.channels.lanes)} "
                "channel(s) sharing the link: " + "; ".join(finished),
                qemu_function="vfio_multifd_save_complete_precopy_thread",
            ),
        )

    def destination_finish(self, loaded_ms: float) -> Generator[Step, None, None]:
        sim = self.sim
        start = sim.t
        sim.t = max(sim.t, loaded_ms)
        yield sim.make_step(
            start,
            Phase.DEST_LOAD,
            Decision(
                code="dest_load",
                reason="the destination loads what is still queued, in stream order",
                qemu_function="qemu_loadvm_state",
            ),
        )
        start = sim.t
        sim.t += sim.scenario.guest.vm_start_ms
        for dev in sim.devs:
            sim.t += dev.spec.resume_exit_ms
            sim.device_transition(
                dev, "destination", VfioState.RUNNING, sim.t, "vm_start on the destination"
            )
        sim.dst.vm_running = True
        sim.dst.started_ms = sim.t
        # The guest stopped running at VM stop, or earlier if the user had paused it.
        guest_stopped = sim.result["switchover_started_at_ms"]
        if sim.src.guest_paused_at_ms is not None:
            guest_stopped = min(guest_stopped, sim.src.guest_paused_at_ms)
        sim.result["guest_downtime_ms"] = sim.t - guest_stopped
        sim.event(
            sim.t,
            EventKind.VM_START,
            "destination",
            "destination VM running (announce + vm_start done)",
            "process_incoming_migration_bh",
        )
        sim.event(
            sim.t,
            EventKind.STATUS,
            "destination",
            "destination migration status completed",
            "process_incoming_migration_bh",
            status="completed",
        )
        if sim.rp.enabled:
            sim.event(
                sim.t,
                EventKind.SHUT_SENT,
                "destination",
                "SHUT sent on the return path",
                "migration_incoming_state_destroy",
            )
        yield sim.make_step(
            start,
            Phase.VM_START,
            Decision(
                code="vm_start",
                reason="destination: announce, devices RESUMING -> RUNNING, vCPUs run",
                qemu_function="process_incoming_migration_bh",
            ),
        )

    def complete(
        self,
        ds: float,
        end_ms: float,
        window: tuple[float, float],
        tail: list[Span],
        records: list[Record],
        step_start: float | None = None,
    ) -> Generator[Step, None, None]:
        sim = self.sim
        start = sim.t if step_start is None else step_start
        sim.t = max(sim.t, end_ms)
        downtime = end_ms - ds
        sim.result.update(
            status="completed",
            reason=f"downtime {downtime:.1f} ms against a downtime-limit of {sim.downtime_limit_ms:.0f} ms",
            downtime_ms=downtime,
            total_time_ms=end_ms,
            # The breakdown follows the channel that finished last (the critical path).
            downtime_breakdown_ms=breakdown(
                self.serial, window, records, self.device_reads, tail, downtime
            ),
        )
        sim.set_status("completed", end_ms)
        if sim.profile.stop_at_cleanup:
            for dev in sim.devs:
                sim.device_transition(
                    dev,
                    "source",
                    VfioState.STOP,
                    end_ms,
                    "vfio_save_cleanup (after completion, outside downtime)",
                )
        yield sim.make_step(
            start,
            Phase.COMPLETED,
            Decision(
                code="completed",
                reason=str(sim.result["reason"]),
                qemu_function="migration_completion_end",
            ),
        )
