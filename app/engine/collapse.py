"""Runs of alike passes, shown as one step.

A migration that never converges because a device's reported stop-copy size never fits
(`stop-copy-query-fails`, an ack that collapsed the measured bandwidth) spins through
`migration_iteration_run` thousands of times per simulated second: every pass takes the
exact pending query (a bitmap sync), sends the few pages the guest dirtied meanwhile,
gets ENOMSG from every device and finds the same gates. Those passes differ only in how
many whole pages the dirty log held, so the engine shows such a run as one step that says
how many passes it stands for and why they are alike. The other long runs are a big
guest's rounds under max-bandwidth: every pass sends its window's budget of RAM, starves
the devices and sleeps until the window ends (`budget_bound_passes`).

Exact, not estimated: the passes are still advanced one by one, but only on the counters
(`RamModel.log_pages_at`, then the same `advance_dirtying`, `sync_counters` and
`RateWindow.close` as a pass), without stream records, step records or per-pass events;
their bytes go into one settled record per channel, and the last pass of the run writes
its records and events as any pass does. Every total (time, bytes, syncs, passes, windows)
is what the uncollapsed run gives (`Simulation(..., collapse=False)`,
tests/engine/test_collapse.py). The run stops before anything that could make a pass
different: an ack, error, action or re-initialisation due, max_time_ms, the step limit
(each collapsed pass counts), the budget binding, a window threshold that opens the RAM
gate, or the channels not being idle between passes.
"""

from __future__ import annotations

import math
from math import exp
from typing import TYPE_CHECKING

from .branch import next_time_keyed_ms
from .clock import EPS_MS, before, reached
from .explain import GateInputs, device_gate_inputs, gate_texts, stall_text
from .ram import NORMAL_PAGE_WIRE_BYTES, PAGE_BYTES, ZERO_PAGE_WIRE_BYTES
from .source import BUFFER_DELAY_MS
from .stream import MARKER_BYTES, Record
from .trace import Decision, Event, Gate, Phase, Step, trusted
from .units import format_bytes as fmt_b

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .devices import DeviceData, DeviceRuntime
    from .simulation import Simulation

MAX_WAIT_MS = 50.0  # ram_save_iterate's slice (simulation.MAX_WAIT_MS)

SYNC_WHY = "exact pending query"
NORMAL_OVER_ZERO = NORMAL_PAGE_WIRE_BYTES - ZERO_PAGE_WIRE_BYTES  # a normal page's extra bytes


def _horizon(sim: Simulation) -> float:
    """The first moment at which something other than the passes themselves changes."""
    t = sim.t
    moments = [sim.scenario.max_time_ms]
    if sim.dst.error is not None:
        moments.append(sim.dst.error[0])
    action_ms = next_time_keyed_ms(sim.actions)
    if action_ms is not None:
        moments.append(action_ms)
    for arrival in [sim.rp.ack_arrival_ms] + [d.ack_arrival_ms for d in sim.devs]:
        if arrival is not None and arrival > t:
            moments.append(arrival)
    for dev in sim.devs:
        if dev.reinit_queue:
            moments.append(dev.reinit_queue[0][0])
    return min(moments)


class _Run:
    """What a run of passes has added up so far."""

    __slots__ = (
        "code",
        "deferred",
        "last",
        "last_drain",
        "last_sync",
        "pages_high",
        "pages_low",
        "passes",
        "prev_sync",
        "sent",
        "settled",
        "settled_end_ms",
        "settled_first_ms",
        "syncs_first",
        "syncs_new",
        "windows",
    )

    def __init__(self, n_streams: int, start: float) -> None:
        self.code = ""
        self.passes = 0
        self.sent = 0
        # Passes whose bytes are loaded before the next pass writes are added up per channel
        # (one settled record each); a pass writing into a busy channel writes its records.
        self.settled = [0] * n_streams
        self.settled_first_ms: float | None = None
        self.settled_end_ms = start
        self.deferred: int | None = None  # pages of the last pass, if its writes wait
        # The last pass: its sync time, threshold, exact pending, RAM gate, what the main
        # channel was loading at its gates (None if deferred), pages.
        self.last: tuple[float, float, int, bool, Record | None, int] | None = None
        self.last_drain = 0.0
        self.syncs_first = 0
        self.syncs_new = 0
        self.prev_sync: tuple[float, int, int] | None = None  # t, count, remaining bytes
        self.last_sync: tuple[float, int, int, int] = (start, 0, 0, 0)  # ... and new pages
        self.windows: list[tuple[float, float, float, float]] = []  # t, spent, bw, threshold
        self.pages_low = -1
        self.pages_high = -1

    def settle_deferred(self, sim: Simulation) -> None:
        """The last pass's bytes are loaded before the next pass writes: add them up."""
        if self.deferred is not None and self.last is not None:
            _settle(sim, self.deferred, self.settled)
            if self.settled_first_ms is None:
                self.settled_first_ms = self.last[0]
            self.settled_end_ms = self.last[0] + self.last_drain
            self.deferred = None

    def synced(
        self,
        first_count: int,
        last: tuple[float, int, int, int],
        new_pages: int,
        before_last: tuple[float, int, int] | None = None,
    ) -> None:
        """The syncs of one or more passes: the count of the first, the last one (t, count,
        new pages, remaining bytes), all their new pages, and the sync before the last (t,
        count, remaining bytes) when there were several."""
        if self.passes == 0:
            self.syncs_first = first_count
        if before_last is not None:
            self.prev_sync = before_last
        elif self.passes:
            self.prev_sync = (self.last_sync[0], self.last_sync[1], self.last_sync[3])
        self.syncs_new += new_pages
        self.last_sync = last

    def counted(self, passes: int, moved: int, low: int, high: int) -> None:
        self.sent += moved
        self.passes += passes
        self.pages_low = low if self.pages_low < 0 else min(self.pages_low, low)
        self.pages_high = max(self.pages_high, high)


def collapse_passes(sim: Simulation) -> Step | None:
    """Advance a run of alike passes and return its one step, or None (no run starts here:
    the caller runs an ordinary pass)."""
    ram = sim.ram
    src = sim.src
    if src.status != "active":
        return None
    if ram.remaining_pages:
        return budget_bound_passes(sim)
    if ram.last_ms != sim.t:
        # Guest writes not yet counted up to now would make the first pass differ.
        return None
    precopy = [d for d in sim.devs if d.src.in_precopy]
    for dev in precopy:
        data = dev.data
        if (
            data.dirty_rate_bytes_per_ms > 0
            or data.init_bytes
            or data.dirty_bytes
            or dev.init_est
            or dev.dirty_est
            or dev.reinit_pending_report
            or (sim.src_ack and not dev.initial_data_sent)
        ):
            return None  # a device would send data or a marker of its own
    start = sim.t
    streams = sim.streams
    profile = sim.profile
    window = sim.window
    channels = sim.channels
    link = channels.link
    buffer = min(stream.buffer_bytes for stream in channels.ram or [channels.main])
    load_rate = sim.scenario.destination.ram_load_bytes_per_s / 1000.0
    sync_ms = sim.sync_cost_ms()
    markers = MARKER_BYTES * len(precopy)
    stop_copy = sum(d.query_stop_copy_length() for d in sim.devs)
    budget = window.budget_bytes
    horizon = _horizon(sim)
    step_room = sim.max_steps - (8 + len(sim.devs)) - (sim.step_count + sim.extra_passes)
    can = sim.can_switchover(start)
    running = src.vm_running
    trigger_le = profile.exact_trigger_le
    complete_le = profile.complete_le
    run = _Run(len(streams), start)
    t = start
    while run.passes < step_room and not reached(t, horizon):
        t_sync = t + sync_ms  # the pass writes right after its sync
        if not before(t_sync, horizon):
            break
        thr = window.threshold_bytes
        # The estimate is 0 (RAM drained, devices' caches 0): the exact query is taken.
        if not (thr >= 0 if trigger_le else thr > 0):
            break
        pages = ram.log_pages_at(t_sync, running)
        exact = pages * PAGE_BYTES + stop_copy
        ram_ok = exact <= thr if complete_le else (exact == 0 or exact < thr)
        if ram_ok and can:
            break  # this pass switches over
        code = "wait_for_ack" if ram_ok else "keep_iterating"
        if run.code and code != run.code:
            break
        ram_bytes = pages * NORMAL_PAGE_WIRE_BYTES
        moved = ram_bytes + markers
        if budget is not None and src.transferred + moved - window.rate_start_bytes > budget:
            break  # the budget would bind (pages held back, a device starved or a sleep)
        # Idle channels that drain this pass's bytes before the next pass writes: its bytes
        # can be added up; otherwise they are written as the pass writes them.
        drain_ms = link.latency_ms + moved / link.bytes_per_ms + ram_bytes / load_rate
        quiet = (
            run.settled_end_ms <= t_sync
            and ram_bytes <= buffer
            and drain_ms <= sync_ms - EPS_MS
            and all(stream.idle_by(t_sync) for stream in streams)
        )
        if (
            pages
            and not quiet
            and not before(sim.ram_flow(ram_bytes, commit=False, now=t_sync), t_sync + MAX_WAIT_MS)
        ):
            break  # the 50 ms slice would end inside the send (idle channels take it at once)
        run.code = code
        run.settle_deferred(sim)
        # Quiet passes on the main channel, as many as stay so, on the counters alone.
        if (
            quiet
            and not channels.ram
            and _quiet_passes(sim, run, horizon, step_room, stop_copy, thr, buffer, sync_ms)
        ):
            t = sim.t
            continue
        # One pass, on the counters, with the arithmetic of iteration_pass.
        src.passes += 1
        sim.t = t_sync
        sim.advance_dirtying(t_sync)
        new_pages = sim.sync_counters()
        count = src.dirty_sync_count
        run.synced(count, (t_sync, count, new_pages, ram.remaining_bytes), new_pages)
        # The devices' estimates stay 0 (their data is empty); every synced page is sent.
        for pool in ram.pools:
            pool.bitmap = 0
        src.transferred += moved
        src.ram_transferred += ram_bytes
        loading: Record | None = None
        if quiet:
            run.deferred = pages
        else:
            _flush(sim, run)
            loading = sim.main.loading_at(t_sync) if sim.devs else None
            _write_pass(sim, pages, precopy)
        if window.can_close(sim.t):
            spent, bandwidth = window.close(sim.t, src.transferred)
            run.windows.append((sim.t, spent, bandwidth, window.threshold_bytes))
        run.last = (t_sync, thr, exact, ram_ok, loading, pages)
        run.last_drain = drain_ms
        run.counted(1, moved, pages, pages)
        t = sim.t
    if run.last is None:
        return None
    return _step(sim, run, start, can, stop_copy, sync_ms, precopy)


def _quiet_passes(
    sim: Simulation,
    run: _Run,
    horizon: float,
    step_room: int,
    stop_copy: int,
    thr: float,
    buffer: int,
    sync_ms: float,
) -> bool:
    """Passes whose bytes the main channel drains before the next pass, inside one rate
    window and one dirty-rate period: RamModel.advance and sync, sync_counters and the
    counters of iteration_pass inlined, operation for operation, so every float is the
    one the pass would compute. Stops before a pass that would differ, and before the
    window closes (the general loop takes that pass). Returns False if it ran no pass."""
    ram = sim.ram
    src = sim.src
    window = sim.window
    link = sim.channels.link
    profile = sim.profile
    pools = [p for p in ram.pools if p.pages != 0]
    # Pools the guest writes (RamModel.advance skips the others, and all while it is paused).
    writing = [src.vm_running and p.writes_per_ms > 0 for p in pools]
    sequential = ram.pattern == "sequential"
    devices = [d for d in sim.devs if d.src.in_precopy]
    markers = MARKER_BYTES * len(devices)
    load_rate = sim.scenario.destination.ram_load_bytes_per_s / 1000.0
    wire = NORMAL_PAGE_WIRE_BYTES
    latency = link.latency_ms
    bytes_per_ms = link.bytes_per_ms
    budget = window.budget_bytes
    rate_start = window.rate_start_bytes
    # Stop before the horizon, the window's end and the next dirty-rate update
    # (clock.before / clock.reached, inlined).
    stop_ms = min(horizon, window.end_ms(), window.last_rate_ms + 1000.0) - EPS_MS
    complete_le = profile.complete_le
    code = run.code
    room = step_room - run.passes
    drain_room = sync_ms - EPS_MS
    t = sim.t
    transferred = src_sent0 = src.transferred
    done = 0
    logs = [p.log for p in pools]
    settled = ram_sent = new_total = 0
    settled_end = first_sync = 0.0
    low, high = 1 << 62, -1
    previous = (0.0, 0)
    prev_sync, prev_pages, prev_moved, prev_drain = 0.0, 0, 0, 0.0
    prev_exact, prev_ram_ok = 0, False
    while done < room:
        t_sync = t + sync_ms
        if t_sync >= stop_ms:
            break
        # RamModel.advance then sync, into an empty bitmap.
        dt = t_sync - t
        new_logs = []
        pages = 0
        for pool, log, writes_pool in zip(pools, logs, writing, strict=True):
            if writes_pool:
                writes = pool.writes_per_ms * dt
                w = float(pool.pages)
                log = min(w, log + writes) if sequential else w - (w - log) * math.exp(-writes / w)
            k = int(log)
            pages += k
            new_logs.append(log - k)
        exact = pages * PAGE_BYTES + stop_copy
        ram_ok = exact <= thr if complete_le else (exact == 0 or exact < thr)
        # "wait_for_ack" means the ack gate holds: RAM must keep fitting; else keep not fitting.
        if ram_ok != (code == "wait_for_ack"):
            break
        ram_bytes = pages * wire
        moved = ram_bytes + markers
        if budget is not None and transferred + moved - rate_start > budget:
            break
        drain_ms = latency + moved / bytes_per_ms + ram_bytes / load_rate
        if ram_bytes > buffer or drain_ms > drain_room:
            break
        # The pass: the one before it is loaded by now, its bytes are added up.
        if done:
            settled += prev_moved
            settled_end = prev_sync + prev_drain
        logs = new_logs
        transferred += moved
        ram_sent += ram_bytes
        new_total += pages
        if done:
            previous = (prev_sync, prev_pages)
        else:
            first_sync = t_sync
        low = min(low, pages)
        high = max(high, pages)
        prev_sync, prev_pages, prev_moved, prev_drain = t_sync, pages, moved, drain_ms
        prev_exact, prev_ram_ok = exact, ram_ok
        t = t_sync
        done += 1
    if not done:
        return False
    # Write back, as the passes would have left things.
    for pool, log in zip(pools, logs, strict=True):
        pool.log = log
    if t > ram.last_ms:
        ram.last_ms = t
    for dev in sim.devs:
        dev.data.last_ms = max(dev.data.last_ms, t)
    count0 = src.dirty_sync_count
    src.passes += done
    src.dirty_sync_count += done
    src.ram_transferred += ram_sent
    src.transferred = transferred
    ram.new_dirty_pages_period += new_total
    if done > 1:
        if run.settled_first_ms is None:
            run.settled_first_ms = first_sync
        run.settled[0] += settled
        run.settled_end_ms = settled_end
    before_last = (previous[0], count0 + done - 1, previous[1] * PAGE_BYTES) if done > 1 else None
    last_sync = (prev_sync, count0 + done, prev_pages, prev_pages * PAGE_BYTES)
    run.synced(count0 + 1, last_sync, new_total, before_last)
    run.deferred = prev_pages
    run.last = (prev_sync, thr, prev_exact, prev_ram_ok, None, prev_pages)
    run.last_drain = prev_drain
    run.counted(done, transferred - src_sent0, low, high)
    window.dirty_bytes_last_sync = run.last_sync[3]
    sim.t = t
    return True


def _step(
    sim: Simulation,
    run: _Run,
    start: float,
    can: bool,
    stop_copy: int,
    sync_ms: float,
    precopy: list[DeviceRuntime],
) -> Step:
    """Write the run's last pass and its events, and make the run's one step."""
    assert run.last is not None
    t_sync, thr, exact, ram_ok, loading, pages = run.last
    # The earlier passes' bytes, then (if deferred) the last pass's own writes.
    _flush(sim, run)
    if run.deferred is not None:
        loading = sim.main.loading_at(t_sync) if sim.devs else None
        _write_pass(sim, run.deferred, precopy)
    if run.prev_sync is not None:
        t_prev, count_prev, remaining_prev = run.prev_sync
        sim.sync_event(
            t_prev,
            f"{SYNC_WHY}, syncs #{run.syncs_first}-#{count_prev} of {run.passes - 1} collapsed passes",
            run.syncs_new - run.last_sync[2],
            count_prev,
            remaining_prev,
        )
    t_last, count, new_pages, remaining = run.last_sync
    for t_window, spent, bandwidth, threshold in run.windows:
        if t_window < t_last:
            sim.window_event(t_window, spent, bandwidth, threshold)
    sim.sync_event(t_last, SYNC_WHY, new_pages, count, remaining)
    for t_window, spent, bandwidth, threshold in run.windows:
        if t_window >= t_last:
            sim.window_event(t_window, spent, bandwidth, threshold)
    inputs = GateInputs(
        t_sync,
        0,
        exact,
        thr,
        ram_ok,
        can,
        pages * PAGE_BYTES,
        sim.src.vm_running,
        sim.rp.ack_arrival_ms,
        tuple(
            (
                d.ack_arrival_ms,
                d.init_data_loaded_at_ms,
                d.initial_data_sent,
                0,
                d.initial_total_bytes,
            )
            for d in sim.devs
        ),
        loading,
    )
    sim.extra_passes += run.passes - 1
    gates = sim.gates(inputs) if sim.keep_steps else []
    decision = _decision(sim, gates, run, can, sync_ms, len(precopy))
    return sim.make_step(start, Phase.ITERATE, decision, gates, 0, exact, run.sent, inputs)


def budget_bound_passes(sim: Simulation) -> Step | None:
    """Passes that each send the window's max-bandwidth budget of RAM, starve the devices
    after it and sleep until the window ends: a big guest's long first rounds (the pending
    estimate above the threshold, no exact query), or later rounds whose every pass takes
    the exact query and still finds a gate closed. Each pass runs on the counters with the
    pass's own arithmetic (advance_dirtying, the exact query's sync_counters and device
    queries, RamModel.pages_over_wire and take, Stream.flow into channels idle again by the next
    window, RateWindow.close); their bytes go into one settled record, the last pass writes
    its own. A pass found different after its exact query is rolled back (_Snapshot)."""
    src = sim.src
    window = sim.window
    channels = sim.channels
    budget = window.budget_bytes
    if budget is None or channels.ram:
        return None
    main = channels.main
    link = channels.link
    start = sim.t
    if not main.idle_by(start) or any(d.reinit_pending_report for d in sim.devs):
        return None
    ram = sim.ram
    profile = sim.profile
    precopy_all = [d for d in sim.devs if d.src.in_precopy]
    load_rate = sim.scenario.destination.ram_load_bytes_per_s / 1000.0
    sync_ms = sim.sync_cost_ms()
    horizon = _horizon(sim)
    step_room = sim.max_steps - (8 + len(sim.devs)) - (sim.step_count + sim.extra_passes)
    can = sim.can_switchover(start)
    buffer = main.buffer_bytes
    latency = link.latency_ms
    passes = 0
    sent = 0
    low, high = -1, -1
    settled = 0
    settled_first: float | None = None
    settled_end = start
    windows: list[tuple[float, float, float, float]] = []
    syncs: list[tuple[float, int, int, int]] = []  # t, count, new pages, remaining bytes
    shape: tuple[bool, str] | None = None  # exact query taken, decision code
    # The last pass: its gate time, estimate, exact pending, threshold, RAM gate, RAM bytes
    # pending at its gates, bytes it wrote, when they are loaded, and its sleep.
    last: tuple[float, int, int | None, float, bool, int, int, float, float] | None = None
    t = start
    # Loop constants. No device changes state, no action applies and no ack arrives before
    # the horizon: the devices in pre-copy, the guest's running state and can_switchover stay
    # those of the first pass, and no re-initialisation is due (the horizon is before it),
    # so Simulation.advance_dirtying reduces to the RAM's and each device data's advance.
    running = src.vm_running
    dirtying = [(d.data, d.src.in_precopy and running) for d in sim.devs]
    pools = ram.pools
    exact_trigger_le = profile.exact_trigger_le
    # QEMU's cached device estimates change only when the exact query refreshes them.
    device_estimate = sum(d.init_est + d.dirty_est for d in precopy_all)
    horizon_eps = horizon - EPS_MS  # clock.reached(x, horizon) is x >= horizon_eps
    sequential = ram.pattern == "sequential"
    per_ms = link.bytes_per_ms
    # The passes run on locals first (_local_passes); the loop below goes on from where they
    # stopped (a pass they would not take; hot/cold pools).
    ahead = _local_passes(
        sim, horizon_eps, step_room, device_estimate, dirtying, load_rate, can, sync_ms
    )
    if ahead is not None:
        passes, sent, low, high = ahead.passes, ahead.sent, ahead.low, ahead.high
        settled, settled_first, settled_end = ahead.settled, ahead.settled_first, ahead.settled_end
        windows, last, t = ahead.windows, ahead.last, sim.t
        shape, syncs, device_estimate = ahead.shape, ahead.syncs, ahead.device_estimate
    while passes < step_room:
        wake = window.t0 + BUFFER_DELAY_MS  # RateWindow.end_ms
        # not before(wake, horizon) or not before(t, wake) or reached(t, horizon)
        if wake >= horizon_eps or t >= wake - EPS_MS or t >= horizon_eps:
            break
        # The top of the pass: the same advance the pass makes first (harmless if the pass
        # then turns out different: iteration_pass makes it again with nothing left to do).
        # RamModel.advance, inlined (the same operations).
        dt = t - ram.last_ms
        if dt > 0:
            ram.last_ms = t
            if running:
                for pool in pools:
                    if pool.pages == 0 or pool.writes_per_ms <= 0:
                        continue
                    writes = pool.writes_per_ms * dt
                    w = float(pool.pages)
                    if sequential:
                        pool.log = min(w, pool.log + writes)
                    else:
                        pool.log = w - (w - pool.log) * exp(-writes / w)
        for data, dirty in dirtying:
            # DeviceData.advance, inlined; without dirtying it only moves last_ms.
            if dirty and t > data.last_ms and data.dirty_rate_bytes_per_ms > 0:
                accum = data.dirty_accum
                cap = max(data.dirty_max_bytes, accum)
                data.dirty_accum = min(
                    cap, accum + data.dirty_rate_bytes_per_ms * (t - data.last_ms)
                )
            if t > data.last_ms:
                data.last_ms = t
        total = ram.bitmap_zero + ram.bitmap_cold
        for pool in pools:
            total += pool.bitmap
        estimate = total * PAGE_BYTES + device_estimate
        thr = window.threshold_bytes
        trigger = estimate <= thr if exact_trigger_le else estimate < thr
        if (budget_used := src.transferred - window.rate_start_bytes) > budget or (
            shape is not None and shape[0] != trigger
        ):
            break
        snapshot: _Snapshot | None = None
        exact: int | None = None
        ram_ok = False
        new_pages = 0
        t_gate = t
        if trigger:
            t_gate = t + sync_ms
            if t_gate >= wake - EPS_MS:  # not clock.before(t_gate, wake)
                break
            snapshot = _Snapshot(sim)
            # Simulation.exact_query, without its event (kept for the end).
            sim.t = t_gate
            sim.advance_dirtying(t_gate)
            new_pages = sim.sync_counters()
            total = ram.remaining_pages
            exact = total * PAGE_BYTES
            for dev in sim.devs:
                exact += dev.query_stop_copy_length()
                if dev.src.in_precopy:
                    dev.refresh_estimates()
                    if profile.vfio_exact_double_count:
                        exact += dev.init_est + dev.dirty_est
            device_estimate = sum(d.init_est + d.dirty_est for d in precopy_all)
            ram_ok = exact <= thr if profile.complete_le else (exact == 0 or exact < thr)
        code = "wait_for_ack" if ram_ok and not can else "keep_iterating"
        left = budget - budget_used  # RateWindow.budget_left
        if (ram_ok and can) or (shape is not None and shape[1] != code) or not total:
            if snapshot is not None:
                snapshot.restore(sim)
            break
        # ram_iterate decides on the slice with its estimate of the bytes (per_page), as it does.
        pages, nbytes, per_page = ram.pages_over_wire(left, total)
        # Stream.flow (Simulation.ram_flow) into a channel whose every byte is consumed by
        # now, inlined operation for operation: the write-return time for the slice estimate,
        # then the pass's own flow (the written-bytes offsets cancel out).
        probe_bytes = int(pages * per_page)
        over = probe_bytes - buffer
        probe = t_gate
        if over > 0:
            tx_end = t_gate + probe_bytes / per_ms
            load_start = t_gate + latency
            # max(a, b) as `b if b > a else a`, the same value without a call.
            load_end = load_start + probe_bytes / load_rate
            if (b := tx_end + latency) > load_end:
                load_end = b
            probe = load_start + over / probe_bytes * (load_end - load_start)
            if t_gate > probe:
                probe = t_gate
        tx_end = t_gate + nbytes / per_ms
        load_start = t_gate + latency
        load_end = load_start + nbytes / load_rate
        if (b := tx_end + latency) > load_end:
            load_end = b
        over = nbytes - buffer
        accept = t_gate
        if over > 0:
            accept = load_start + over / nbytes * (load_end - load_start)
            if t_gate > accept:
                accept = t_gate
            if accept > tx_end:
                tx_end = accept
        drained = tx_end if tx_end > load_end else load_end  # max(load_end, tx_end)
        if (
            pages >= total  # the bitmap empties
            or src.transferred + nbytes - window.rate_start_bytes <= budget  # not crossed
            # clock.reached: the 50 ms slice ends in the send, the write outlasts the window
            or probe >= t_gate + MAX_WAIT_MS - EPS_MS
            or accept >= wake - EPS_MS
            or drained > wake  # the next pass would find the channel busy
        ):
            if snapshot is not None:
                snapshot.restore(sim)
            break
        # The pass.
        shape = (trigger, code)
        if last is not None:
            settled += last[6]
            settled_first = last[0] if settled_first is None else settled_first
            if last[7] > settled_end:
                settled_end = last[7]
        ram_bytes = total * PAGE_BYTES
        if trigger:
            syncs.append((t_gate, src.dirty_sync_count, new_pages, ram_bytes))
        src.passes += 1
        ram.take_part(pages, total)
        src.transferred += nbytes
        src.ram_transferred += nbytes
        sim.t = wake
        spent, bandwidth = window.close(wake, src.transferred)
        windows.append((wake, spent, bandwidth, window.threshold_bytes))
        last = (
            t_gate,
            estimate,
            exact,
            thr,
            ram_ok,
            ram_bytes,
            nbytes,
            drained,
            wake - accept,
        )
        sent += nbytes
        if low < 0 or pages < low:
            low = pages
        if pages > high:
            high = pages
        passes += 1
        t = wake
    if last is None or shape is None:
        return None
    t_gate, estimate, exact, thr, ram_ok, ram_bytes, nbytes, _, sleep_ms = last
    slept = (
        f"Rate budget used: sleep {sleep_ms:.1f} ms until the window ends (migration_rate_limit)."
    )
    if settled:
        assert settled_first is not None
        main.append_settled(settled, "ram", settled_end, settled_first + latency, settled_end)
    loading = main.loading_at(t_gate) if sim.devs else None
    main.write_flow(t_gate, nbytes, "ram", load_rate, t_gate, t_gate + nbytes / link.bytes_per_ms)
    if len(syncs) > 1:
        earlier = syncs[:-1]
        sim.sync_event(
            earlier[-1][0],
            f"{SYNC_WHY}, syncs #{earlier[0][1]}-#{earlier[-1][1]} of {len(earlier)} collapsed passes",
            sum(x[2] for x in earlier),
            earlier[-1][1],
            earlier[-1][3],
        )
    t_sync = syncs[-1][0] if syncs else None
    for t_window, spent, bandwidth, threshold in windows:
        if t_sync is None or t_window < t_sync:
            sim.window_event(t_window, spent, bandwidth, threshold)
    if syncs:
        t_last, count, new_pages, remaining = syncs[-1]
        sim.sync_event(t_last, SYNC_WHY, new_pages, count, remaining)
        for t_window, spent, bandwidth, threshold in windows:
            if t_window >= t_last:
                sim.window_event(t_window, spent, bandwidth, threshold)
    inputs = GateInputs(
        t_gate,
        estimate,
        exact,
        thr,
        ram_ok,
        can,
        ram_bytes,
        src.vm_running,
        sim.rp.ack_arrival_ms,
        # init_est is the cache the last pass's gates read: nothing changes it after (the
        # devices are starved).
        device_gate_inputs(sim.devs),
        loading,
    )
    sim.extra_passes += passes - 1
    gates = sim.gates(inputs) if sim.keep_steps else []
    decision = _budget_decision(
        sim, gates, shape, can, passes, low, high, slept, precopy_all, sync_ms
    )
    return sim.make_step(start, Phase.ITERATE, decision, gates, estimate, exact, sent, inputs)


class _Ahead:
    """What _local_passes ran: the accumulators budget_bound_passes goes on with."""

    __slots__ = (
        "device_estimate",
        "high",
        "last",
        "low",
        "passes",
        "sent",
        "settled",
        "settled_end",
        "settled_first",
        "shape",
        "syncs",
        "windows",
    )

    def __init__(
        self,
        passes: int,
        sent: int,
        low: int,
        high: int,
        settled: int,
        settled_first: float | None,
        settled_end: float,
        windows: list[tuple[float, float, float, float]],
        last: tuple[float, int, int | None, float, bool, int, int, float, float],
        shape: tuple[bool, str],
        syncs: list[tuple[float, int, int, int]],
        device_estimate: int,
    ) -> None:
        self.passes = passes
        self.sent = sent
        self.low = low
        self.high = high
        self.settled = settled
        self.settled_first = settled_first
        self.settled_end = settled_end
        self.windows = windows
        self.last = last
        self.shape = shape
        self.syncs = syncs
        self.device_estimate = device_estimate


def _local_passes(
    sim: Simulation,
    horizon_eps: float,
    step_room: int,
    device_estimate: int,
    dirtying: list[tuple[DeviceData, bool]],
    load_rate: float,
    can: bool,
    sync_ms: float,
) -> _Ahead | None:
    """budget_bound_passes' passes on local variables, for a guest with one pool of working
    set (uniform or sequential writes): RamModel.advance and sync, sync_counters, the exact
    query's device figures, DeviceData.advance, RamModel.pages_over_wire and take_part, and
    RateWindow.close inlined, operation for operation, so every float and integer is the
    one the loop in budget_bound_passes computes; the state is written back at the end. A
    pass that takes the exact query computes it on copies and keeps them only if the pass
    goes ahead (the loop's _Snapshot, without one). Stops before the first pass that loop
    would not take (the same tests); None if it ran no pass.

    The channel's tests (Stream.flow into an idle channel: the 50 ms slice does not end in
    the send, the write returns and the bytes are loaded before the window ends) are taken
    once for the most bytes a pass can write: each of those times grows with the bytes, and
    a pass starts where the last one's window ended. A margin far above the floats' rounding
    makes the answer the one the exact test gives; a pass too close to a limit stops the
    run (the loop in budget_bound_passes takes it exactly). The times the step keeps (the
    last pass's, and when the earlier ones are loaded: they grow pass by pass, each loaded
    before the next window starts) are computed exactly at the end (_idle_flow)."""
    ram = sim.ram
    pools = ram.pools
    if len(pools) != 1:
        return None  # hot/cold pools: the loop in budget_bound_passes takes them
    src = sim.src
    window = sim.window
    link = sim.channels.link
    budget = window.budget_bytes
    assert budget is not None
    buffer = sim.channels.main.buffer_bytes
    latency = link.latency_ms
    per_ms = link.bytes_per_ms
    # The most bytes a pass writes: pages_over_wire lets through the page that crosses
    # `left` (<= budget), and one page more adds at most a page per bucket of normal pages;
    # the slice's estimate (pages x the average wire bytes) is above that by at most as much.
    most_bytes = budget + 2 * 3 * NORMAL_PAGE_WIRE_BYTES
    margin = 1e-9 * (abs(horizon_eps) + 1000.0)
    accept_ms, drained_ms = _idle_flow(0.0, most_bytes, buffer, latency, per_ms, load_rate)
    if accept_ms + margin >= (MAX_WAIT_MS - EPS_MS):
        return None  # the slice may end in the send: the loop in budget_bound_passes tests it
    # A pass needs this much of its window left (accept < wake - EPS, drained <= wake).
    need_ms = max(accept_ms + EPS_MS, drained_ms) + margin
    profile = sim.profile
    exact_trigger_le = profile.exact_trigger_le
    complete_le = profile.complete_le
    double_count = profile.vfio_exact_double_count
    sequential = ram.pattern == "sequential"
    keep_windows = sim.keep_steps  # a summary-only run writes no window events
    # The window: RateWindow.close's inputs that no pass changes, and its state.
    avail = window.avail_bw_bytes_per_s
    avail_per_ms = avail / 1000.0
    limit_ms = window.downtime_limit_ms
    rate, rate_ms = window.dirty_pages_rate, window.last_rate_ms
    dirty_last_sync = window.dirty_bytes_last_sync
    t0, bytes0, rate_start = window.t0, window.bytes0, window.rate_start_bytes
    thr = window.threshold_bytes
    expected = window.expected_downtime_ms
    # The bitmap, the dirty log and the syncs.
    pool = pools[0]
    zero, cold, bits, log = ram.bitmap_zero, ram.bitmap_cold, pool.bitmap, pool.log
    pool_pages = pool.pages
    writes_per_ms = pool.writes_per_ms
    w = float(pool_pages)
    period = ram.new_dirty_pages_period
    count = src.dirty_sync_count
    # RamModel.advance writes the pool only while the guest runs.
    writing = src.vm_running and pool_pages != 0 and writes_per_ms > 0
    ram_last = ram.last_ms
    # The device data DeviceData.advance makes grow; the others only see last_ms move.
    growing = [data for data, dirty in dirtying if dirty and data.dirty_rate_bytes_per_ms > 0]
    # The exact query's device figures (query_stop_copy_length, refresh_estimates): the
    # devices are starved, so only a growing device's dirty data changes them. Fixed part:
    fixed_exact = fixed_estimate = 0
    # ... and per growing device: the device, its stop-copy length without the dirty data
    # grown (None if it does not count it), initial bytes, dirty bytes in images, in pre-copy.
    grown_figures: list[tuple[DeviceRuntime, int | None, int, int, bool]] = []
    refreshed: list[tuple[DeviceRuntime, int, int]] = []  # what refresh_estimates sets
    for dev in sim.devs:
        data = dev.data
        precopy = dev.src.in_precopy
        init_bytes = data.init_bytes
        if any(data is g for g in growing):
            dirty_images = data.dirty_image_bytes()
            spec = dev.spec
            base = (
                None
                if spec.stop_copy_query_fails or spec.reported_stop_copy_bytes is not None
                else spec.stop_copy_bytes + init_bytes + dirty_images + data.final_extra_bytes
            )
            if base is None:
                fixed_exact += dev.query_stop_copy_length()
            grown_figures.append((dev, base, init_bytes, dirty_images, precopy))
            continue
        fixed_exact += dev.query_stop_copy_length()
        if precopy:
            dirty_bytes = data.dirty_bytes
            refreshed.append((dev, init_bytes, dirty_bytes))
            fixed_estimate += init_bytes + dirty_bytes
            if double_count:
                fixed_exact += init_bytes + dirty_bytes
    grown_last: list[tuple[float, float]] = []  # the growing devices at the last query
    transferred, ram_transferred = src.transferred, src.ram_transferred
    t = start = sim.t
    advanced: float | None = None  # the clock of the last advance (a pass that stops made it)
    passes = sent = 0
    low = high = pages = -1
    shape = (False, "")
    windows: list[tuple[float, float, float, float]] = []
    syncs: list[tuple[float, int, int, int]] = []
    # The first pass's gate time, the last two passes' gate times and bytes, and the last
    # pass's estimate, exact pending, threshold, RAM gate, pages pending and window.
    first_t = prev_t = last_t = last_thr = spent = 0.0
    prev_nbytes = last_nbytes = last_estimate = last_total = moved = 0
    last_exact: int | None = None
    last_ok = False
    while passes < step_room:
        wake = t0 + BUFFER_DELAY_MS  # RateWindow.end_ms
        if wake >= horizon_eps or t >= wake - EPS_MS or t >= horizon_eps:
            break
        # RamModel.advance, then DeviceData.advance.
        dt = t - ram_last
        if dt > 0:
            ram_last = t
            if writing:
                writes = writes_per_ms * dt
                if sequential:
                    log = min(w, log + writes)
                else:
                    log = w - (w - log) * exp(-writes / w)
        for data in growing:
            if t > data.last_ms:
                # cap = max(dirty_max_bytes, accum); min(cap, grown): the same values.
                accum = data.dirty_accum
                cap = accum if accum > data.dirty_max_bytes else data.dirty_max_bytes
                grown = accum + data.dirty_rate_bytes_per_ms * (t - data.last_ms)
                data.dirty_accum = grown if grown < cap else cap
                data.last_ms = t
        advanced = t
        total = zero + cold + bits
        estimate = total * PAGE_BYTES + device_estimate
        trigger = estimate <= thr if exact_trigger_le else estimate < thr
        budget_used = transferred - rate_start
        if budget_used > budget or (passes and trigger != shape[0]):
            break
        gate = t
        exact: int | None = None
        ram_ok = False
        if trigger:
            # Simulation.exact_query (without its event), on copies.
            gate = t + sync_ms
            if gate >= wake - EPS_MS:  # not clock.before(gate, wake)
                break
            q_last, q_log = ram_last, log
            dt = gate - ram_last
            if dt > 0:
                q_last = gate
                if writing:
                    writes = writes_per_ms * dt
                    if sequential:
                        q_log = min(w, q_log + writes)
                    else:
                        q_log = w - (w - q_log) * exp(-writes / w)
            # RamModel.sync into the pool's bitmap.
            logged = int(q_log)
            if pool_pages == 0:
                overlap = 0
            elif sequential:
                overlap = max(0, bits + logged - pool_pages)
            else:
                overlap = round(bits * logged / pool_pages)
            new_pages = logged - overlap
            q_bits = min(pool_pages, bits + new_pages)
            q_log -= logged
            q_period = period + new_pages
            # sync_counters: the dirty-page rate once a second (clock.reached).
            q_rate, q_rate_ms = rate, rate_ms
            if gate >= rate_ms + 1000.0 - EPS_MS:
                q_rate = q_period * 1000.0 / (gate - rate_ms)
                q_period = 0
                q_rate_ms = gate
            total = zero + cold + q_bits
            exact = total * PAGE_BYTES + fixed_exact
            q_estimate = fixed_estimate
            q_grown = []
            for dev, base, init_bytes, dirty_images, precopy in grown_figures:
                # DeviceData.advance to the query's time, without changing anything (the
                # device grows: it is dirtying): its own preview, as make_step reads it.
                data = dev.data
                accum = data.dirty_accum_at(gate, True)
                q_grown.append((accum, gate if gate > data.last_ms else data.last_ms))
                dirty_bytes = dirty_images + int(accum)
                if base is not None:
                    exact += base + int(accum)
                if precopy:
                    q_estimate += init_bytes + dirty_bytes
                    if double_count:
                        exact += init_bytes + dirty_bytes
            ram_ok = exact <= thr if complete_le else (exact == 0 or exact < thr)
            bitmap = q_bits
        else:
            bitmap = bits
        code = "wait_for_ack" if ram_ok and not can else "keep_iterating"
        if (ram_ok and can) or (passes and code != shape[1]) or not total or wake - gate <= need_ms:
            break
        left = budget - budget_used
        # RamModel.pages_over_wire: the fewest pages whose wire bytes exceed `left`, or all.
        # Taking p pages sends nz = max(p - zero, spread) normal pages, spread being the
        # floors of the cold pages' and the pool's shares (take_part gives the rest to the
        # zero pages first), so the wire bytes, 9 p + 4095 nz, grow strictly with p: the
        # answer is the same from any start. The last pass's pages, or the estimate per
        # page with the floors' average loss (half a page each), start within a page of it.
        per_page = (zero * ZERO_PAGE_WIRE_BYTES + (total - zero) * NORMAL_PAGE_WIRE_BYTES) / total
        if pages < 0:
            pages = int((left + NORMAL_OVER_ZERO) // per_page) + 1
        if pages < 1:
            pages = 1
        elif pages > total:
            pages = total
        spread = pages * cold // total + pages * bitmap // total
        nz = pages - zero if pages - zero > spread else spread
        nbytes = ZERO_PAGE_WIRE_BYTES * pages + NORMAL_OVER_ZERO * nz
        if nbytes <= left:
            while pages < total:
                pages += 1
                spread = pages * cold // total + pages * bitmap // total
                nz = pages - zero if pages - zero > spread else spread
                nbytes = ZERO_PAGE_WIRE_BYTES * pages + NORMAL_OVER_ZERO * nz
                if nbytes > left:
                    break
        else:
            while pages > 1:
                fewer = pages - 1
                below_spread = fewer * cold // total + fewer * bitmap // total
                below_nz = fewer - zero if fewer - zero > below_spread else below_spread
                below = ZERO_PAGE_WIRE_BYTES * fewer + NORMAL_OVER_ZERO * below_nz
                if below <= left:
                    break
                pages = fewer
                spread, nz, nbytes = below_spread, below_nz, below
        if (
            pages >= total
            or transferred + nbytes - rate_start <= budget
            # Within the bytes the channel's tests were taken for (always, by the bound).
            or nbytes > most_bytes
            or pages * per_page > most_bytes
        ):
            break
        # The pass: the exact query's copies become the state.
        if trigger:
            log, ram_last, bits, period = q_log, q_last, q_bits, q_period
            rate, rate_ms = q_rate, q_rate_ms
            count += 1
            dirty_last_sync = total * PAGE_BYTES
            device_estimate = q_estimate
            for data, (accum, last_ms) in zip(growing, q_grown, strict=True):
                data.dirty_accum, data.last_ms = accum, last_ms
            grown_last = q_grown
            advanced = gate
            syncs.append((gate, count, new_pages, dirty_last_sync))
        # RamModel.take_part: pages - nz zero pages; the cold pages and the pool their
        # floors, and what the zero pages could not take (nz - spread) to the first of them
        # with pages left.
        zero -= pages - nz
        rest = nz - spread
        k = pages * cold // total
        if rest > 0:
            extra = cold - k
            if rest < extra:
                extra = rest
            k += extra
            rest -= extra
        cold -= k
        k = pages * bits // total
        if rest > 0:
            extra = bits - k
            if rest < extra:
                extra = rest
            k += extra
        bits -= k
        transferred += nbytes
        ram_transferred += nbytes
        # RateWindow.close at the window's end (the bandwidth only when something reads it).
        spent = wake - t0
        moved = transferred - bytes0
        last_thr = thr
        if avail:
            thr = avail_per_ms * limit_ms
            if rate is not None and moved > 10000 and avail_per_ms > 0:
                expected = dirty_last_sync / avail_per_ms
            if keep_windows:
                windows.append((wake, spent, moved / spent if spent > 0 else 0.0, thr))
        else:
            measured = moved / spent if spent > 0 else 0.0
            thr = measured * limit_ms
            if rate is not None and moved > 10000 and measured > 0:
                expected = dirty_last_sync / measured
            if keep_windows:
                windows.append((wake, spent, measured, thr))
        t0 = wake
        bytes0 = rate_start = transferred
        if not passes:
            first_t = gate
            shape = (trigger, code)
        prev_t, prev_nbytes = last_t, last_nbytes
        last_t, last_nbytes, last_estimate, last_total = gate, nbytes, estimate, total
        last_exact, last_ok = exact, ram_ok
        sent += nbytes
        if low < 0 or pages < low:
            low = pages
        if pages > high:
            high = pages
        passes += 1
        t = wake
    # Write back what the passes (and the advance of the pass that stopped them) changed.
    pool.bitmap, pool.log = bits, log
    ram.bitmap_zero, ram.bitmap_cold = zero, cold
    ram.last_ms = ram_last
    if advanced is not None:
        for data, _ in dirtying:
            if advanced > data.last_ms:
                data.last_ms = advanced
    if not passes:
        return None
    if syncs:
        # The exact queries: the counters, and the device caches the last one refreshed.
        ram.new_dirty_pages_period = period
        src.dirty_sync_count = count
        window.dirty_pages_rate, window.last_rate_ms = rate, rate_ms
        window.dirty_bytes_last_sync = dirty_last_sync
        for dev, init_bytes, dirty_bytes in refreshed:
            dev.init_est, dev.dirty_est = init_bytes, dirty_bytes
        for (dev, _, init_bytes, dirty_images, precopy), (accum, _) in zip(
            grown_figures, grown_last, strict=True
        ):
            if precopy:
                dev.init_est, dev.dirty_est = init_bytes, dirty_images + int(accum)
    src.passes += passes
    src.transferred, src.ram_transferred = transferred, ram_transferred
    sim.t = t
    window.t0, window.bytes0, window.rate_start_bytes = t0, bytes0, rate_start
    window.threshold_bytes = thr
    # The last window's measure (the same division as the pass's).
    window.bandwidth_bytes_per_ms = moved / spent if spent > 0 else 0.0
    window.expected_downtime_ms = expected
    accept, drained = _idle_flow(last_t, last_nbytes, buffer, latency, per_ms, load_rate)
    # The passes before the last: their bytes add up into one settled record, loaded by
    # the end of the one before the last (each is loaded before the next pass starts).
    settled_first: float | None = None
    settled_end = start
    if passes > 1:
        settled_first = first_t
        before_last = _idle_flow(prev_t, prev_nbytes, buffer, latency, per_ms, load_rate)[1]
        if before_last > settled_end:
            settled_end = before_last
    last = (
        last_t,
        last_estimate,
        last_exact,
        last_thr,
        last_ok,
        last_total * PAGE_BYTES,
        last_nbytes,
        drained,
        t - accept,
    )
    return _Ahead(
        passes,
        sent,
        low,
        high,
        sent - last_nbytes,
        settled_first,
        settled_end,
        windows,
        last,
        shape,
        syncs,
        device_estimate,
    )


def _idle_flow(
    t: float, nbytes: float, buffer: int, latency: float, per_ms: float, load_rate: float
) -> tuple[float, float]:
    """Stream.flow of `nbytes` written at t into a channel idle by then, as budget_bound_passes
    inlines it: when the source's write returns, and when the bytes are loaded."""
    tx_end = t + nbytes / per_ms
    load_start = t + latency
    load_end = load_start + nbytes / load_rate
    if (b := tx_end + latency) > load_end:
        load_end = b
    over = nbytes - buffer
    accept = t
    if over > 0:
        accept = load_start + over / nbytes * (load_end - load_start)
        if t > accept:
            accept = t
        if accept > tx_end:
            tx_end = accept
    return accept, (tx_end if tx_end > load_end else load_end)


class _Snapshot:
    """What an exact query and the advance before it change, to roll a pass back."""

    def __init__(self, sim: Simulation) -> None:
        ram = sim.ram
        window = sim.window
        self.t = sim.t
        self.pools = [(pool.log, pool.bitmap) for pool in ram.pools]
        self.ram = (ram.last_ms, ram.new_dirty_pages_period)
        self.syncs = sim.src.dirty_sync_count
        self.window = (window.dirty_bytes_last_sync, window.dirty_pages_rate, window.last_rate_ms)
        self.devices = [
            (d.data.dirty_accum, d.data.last_ms, d.init_est, d.dirty_est) for d in sim.devs
        ]

    def restore(self, sim: Simulation) -> None:
        ram = sim.ram
        window = sim.window
        sim.t = self.t
        for pool, (log, bitmap) in zip(ram.pools, self.pools, strict=True):
            pool.log, pool.bitmap = log, bitmap
        ram.last_ms, ram.new_dirty_pages_period = self.ram
        sim.src.dirty_sync_count = self.syncs
        window.dirty_bytes_last_sync, window.dirty_pages_rate, window.last_rate_ms = self.window
        for dev, (accum, last_ms, init_est, dirty_est) in zip(sim.devs, self.devices, strict=True):
            dev.data.dirty_accum, dev.data.last_ms = accum, last_ms
            dev.init_est, dev.dirty_est = init_est, dirty_est


def _budget_decision(
    sim: Simulation,
    gates: list[Gate],
    shape: tuple[bool, str],
    can: bool,
    passes: int,
    low: int,
    high: int,
    slept: str,
    precopy: list[DeviceRuntime],
    sync_ms: float,
) -> Decision:
    from .simulation import _UNEXPLAINED

    if not sim.keep_steps:
        return _UNEXPLAINED
    exact, code = shape
    reason = gate_texts(gates, switch=False)
    if precopy and sim.profile.serialize_iterate:
        stopped = "RAM returned 0 (not done): in 8.x the walk stops here, later devices are starved"
    elif precopy:
        stopped = (
            f"rate budget used before {precopy[0].name}: handlers after it get nothing this pass"
        )
    else:
        stopped = ""
    if stopped:
        reason += f" This pass: {stopped}."
    reason += f" {slept}"
    stall = stall_text(sim, can)
    if stall:
        reason += f" {stall}"
    if passes > 1:
        pages = f"{low}" if low == high else f"{low} to {high}"
        query = (
            f"took the exact pending query (a bitmap sync of {sync_ms:.2f} ms) and found the gates "
            "unchanged, "
            if exact
            else "found the pending estimate above the threshold (no exact query), "
        )
        reason = (
            f"{passes} passes alike, shown as one step (figures of the last): each {query}sent "
            f"{pages} page(s) of RAM, the max-bandwidth budget of its window, "
            + ("left nothing for the devices " if precopy else "")
            + "and slept until the window ended; no ack, action or device change arrived, so "
            "nothing QEMU decides on differed between them. " + reason
        )
    return trusted(
        Decision, {"code": code, "reason": reason, "qemu_function": "migration_iteration_run"}
    )


def _write_pass(sim: Simulation, pages: int, precopy: list[DeviceRuntime]) -> None:
    """A pass's writes as ram_save_iterate and vfio_save_iterate make them (the counters
    are already added): its pages as a flow, then each device's END_OF_STATE."""
    if pages:
        sim.t = sim.ram_flow(pages * NORMAL_PAGE_WIRE_BYTES, commit=True)
    for dev in precopy:
        sim.advance_dirtying(sim.t)
        sim.t = sim.main.write(
            sim.t, MARKER_BYTES, "marker", 0.0, dev.name, "END_OF_STATE"
        ).write_ms


def _flush(sim: Simulation, run: _Run) -> None:
    """The added-up bytes of earlier passes, one settled record per channel."""
    if run.settled_first_ms is None:
        return
    channels = sim.channels
    for i, (stream, nbytes) in enumerate(zip(sim.streams, run.settled, strict=True)):
        if nbytes:
            kind = "ram" if stream is not channels.main or not channels.ram else "marker"
            stream.append_settled(
                nbytes,
                kind,
                run.settled_end_ms,
                run.settled_first_ms + channels.link.latency_ms,
                run.settled_end_ms,
            )
            run.settled[i] = 0
    run.settled_first_ms = None


def _settle(sim: Simulation, pages: int, settled: list[int]) -> None:
    """Count one earlier pass's writes into the settled bytes of each channel, split as
    Simulation.ram_flow splits them (round-robin start, even shares)."""
    channels = sim.channels
    streams = sim.streams
    nbytes = pages * NORMAL_PAGE_WIRE_BYTES
    if nbytes:
        if channels.ram:
            n = len(channels.ram)
            for i in range(n):
                stream = channels.ram[(channels.next_ram + i) % n]
                settled[streams.index(stream)] += nbytes // n + (1 if i < nbytes % n else 0)
            channels.next_ram = (channels.next_ram + 1) % n
        else:
            settled[0] += nbytes
    settled[0] += MARKER_BYTES * sum(1 for d in sim.devs if d.src.in_precopy)


def _decision(
    sim: Simulation, gates: list[Gate], run: _Run, can: bool, sync_ms: float, devices: int
) -> Decision:
    from .simulation import _UNEXPLAINED

    if not sim.keep_steps:
        return _UNEXPLAINED
    reason = gate_texts(gates, switch=False)
    stall = stall_text(sim, can)
    if stall:
        reason += f" {stall}"
    if run.passes > 1:
        low, high = run.pages_low, run.pages_high
        pages = f"{low}" if low == high else f"{low} to {high}"
        reason = (
            f"{run.passes} passes alike, shown as one step (figures of the last): each took the "
            f"exact pending query (a bitmap sync of {sync_ms:.2f} ms), sent the {pages} page(s) "
            "the guest had dirtied meanwhile"
            + (", got ENOMSG from every device (END_OF_STATE only)" if devices else "")
            + " and found the gates unchanged; no ack, action or device data arrived and the "
            "budget never bound, so nothing QEMU decides on differed between them. " + reason
        )
    return trusted(
        Decision, {"code": run.code, "reason": reason, "qemu_function": "migration_iteration_run"}
    )


class SliceRun:
    """The step held open by merge_slice_cut: its last pass's step (where it is in
    Simulation.steps), what made it, and what the run's passes add up to."""

    __slots__ = ("high", "last", "low", "passes", "position", "sent", "shape", "start_ms")

    def __init__(self, sim: Simulation, step: Step, shape: tuple[object, ...]) -> None:
        sent = step.pass_sent_bytes or 0
        self.last = step
        self.position = len(sim.steps) - 1
        self.shape = shape
        self.passes = 1
        self.sent = self.low = self.high = sent
        self.start_ms = step.t_ms

    def join(self, sim: Simulation, step: Step) -> None:
        """The pass of `step` (made with the held index) joins the run."""
        sent = step.pass_sent_bytes or 0
        sim.steps.pop(self.position)
        self.position = len(sim.steps) - 1
        self.last = step
        self.passes += 1
        self.sent += sent
        self.low, self.high = min(self.low, sent), max(self.high, sent)


def release_slice_run(sim: Simulation) -> Step | None:
    """Close the run held open, if any: its one step takes its index in step_count."""
    run = sim.slice_run
    if run is None:
        return None
    closed = _close_slice_run(run)
    sim.steps[run.position] = closed
    sim.step_count += 1
    sim.extra_passes -= 1
    sim.slice_run = None
    return closed


def merge_slice_cut(sim: Simulation, steps: Iterator[Step]) -> Iterator[Step]:
    """Passes cut by ram_save_iterate's 50 ms slice, shown as one step while they are alike.

    A busy guest with no max-bandwidth (busy-guest-8.1) sends RAM in every pass until the
    50 ms slice ends on a full channel, pages left; 8.1-8.2 then stop the handler walk. Each
    such pass runs as an ordinary pass (iteration_pass: the same records, events and
    counters, so every total is the uncollapsed run's by construction) and says what it
    decided on (Simulation.pass_shape). A pass with the shape of the step held open joins it
    (the step is replaced by the pass's own, index kept); any other step closes it.

    Step indices: while a step is held it is counted in extra_passes, not step_count, so the
    step limit sees every pass and a step-keyed action keyed on the held step is not due
    before it closes. The held step closes only when a step that does not join it has been
    made (so step() returns it with the simulation one step further on); that step (given
    the held index by make_step) and the events flushed into it move to the next index.
    That step ran before an action keyed on the held step could apply: then the run is made
    again from the start (deterministic, so the same up to there) with the held step closed
    after as many passes (Simulation.slice_close_at), and the action applies at the first
    pass after it, as after any step. cancel_at_limit closes a held step first."""
    events = sim.log.events
    seen = len(events)
    actions = len(sim.actions)
    for step in steps:
        new_shape, sim.pass_shape = sim.pass_shape, None
        if actions != len(sim.actions):
            new_shape = None  # an action applied at this pass's top
        actions = len(sim.actions)
        run = sim.slice_run
        if run is not None and new_shape is not None and new_shape == run.shape:
            # The pass joins the run: it already has the held index (step_count left it).
            run.join(sim, step)
            sim.step_count -= 1
            sim.extra_passes += 1
            seen = len(events)
            if sim.slice_close_at == (run.last.index, run.passes):
                closed = release_slice_run(sim)
                assert closed is not None
                yield closed
            continue
        if run is not None and any(a.after_step == run.last.index for a in sim.actions):
            # An action keyed on the held step was due before this step: run again to it.
            yield _rerun_to(sim, run.last.index, run.passes)
            return
        closed = release_slice_run(sim)
        if closed is not None:
            # The new step and the events flushed into it move to the next index.
            index = closed.index + 1
            step = trusted(Step, {**step.__dict__, "index": index}, set(step.model_fields_set))
            sim.steps[-1] = step
            for i in range(seen, len(events)):
                events[i] = trusted(
                    Event, {**events[i].__dict__, "step": index}, set(events[i].model_fields_set)
                )
            yield closed
        seen = len(events)
        if new_shape is not None and sim.slice_close_at != (step.index, 1):
            # Hold it: a run of alike passes may start here.
            sim.slice_run = SliceRun(sim, step, new_shape)
            sim.step_count -= 1
            sim.extra_passes += 1
            continue
        yield step
    closed = release_slice_run(sim)
    if closed is not None:
        yield closed


def _rerun_to(sim: Simulation, index: int, passes: int) -> Step:
    """Run the scenario again to its step `index`, closed after `passes` passes, and go on
    as that run: it takes this simulation's state (the same object's attributes, so the
    caller's next step() continues it). Returns that step."""
    from .simulation import Simulation

    fresh = Simulation(sim.scenario, max_steps=sim.max_steps, keep_steps=True, collapse=True)
    fresh.slice_close_at = (index, passes)
    while True:
        step = fresh.step()
        assert step is not None, "the run again ends before the step it was made for"
        if step.index == index:
            break
    sim.__dict__ = fresh.__dict__  # share one state: fresh's generators drive it from here
    return step


def _close_slice_run(run: SliceRun) -> Step:
    """The run's one step: its last pass's, from the run's start, with what the run sent
    and a text saying how many passes it stands for and why they are alike."""
    last, passes, low, high = run.last, run.passes, run.low, run.high
    if passes == 1:
        return last
    decision = last.decision
    amount = fmt_b(low) if low == high else f"{fmt_b(low)} to {fmt_b(high)}"
    starved = (
        ", which then returned 0 (not done): the 8.x handler walk stopped there and the "
        "devices got nothing"
        if "returned 0" in decision.reason
        else ""
    )
    reason = (
        f"{passes} passes alike, shown as one step (figures of the last): each found the "
        "pending estimate above the threshold (no exact query) and sent RAM "
        f"({amount} per pass) until ram_save_iterate's 50 ms slice (MAX_WAIT) ended on a full "
        f"channel with pages left{starved}; no max-bandwidth budget, no device data, no ack, "
        "action or event but window closes, and the same gates, so nothing QEMU decides on "
        "differed between them. " + decision.reason
    )
    return trusted(
        Step,
        {
            **last.__dict__,
            "t_ms": run.start_ms,
            "pass_sent_bytes": run.sent,
            "decision": trusted(
                Decision,
                {"code": decision.code, "reason": reason, "qemu_function": decision.qemu_function},
            ),
        },
        set(last.model_fields_set),
    )
