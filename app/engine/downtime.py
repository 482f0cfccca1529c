"""Where the downtime went: a breakdown that sums exactly to the downtime.

The downtime runs from just before VM stop to SHUT arriving at the source (return-path
on) or to the source's last write (return-path off), as migration_downtime_start/_end do.
The serial source phases at the start (VM stop with the device STOP_COPY ioctls, a
pre-switchover pause, the final bitmap sync) are attributed to themselves. In the transfer
window that follows, the destination is the reference: time it spends loading a record
counts for that record's kind (RAM, initial bytes, other device data, config, CPU state);
time it sits idle waiting for bytes counts as `source_device_read` while the source is
reading stop-copy data from a device, else as `transfer`. Destination VM start and the SHUT
message come last.
"""

from __future__ import annotations

from collections.abc import Sequence

from .stream import Record

KIND_COMPONENT = {
    "ram": "dest_load_ram",
    "vfio_init": "dest_load_initial_bytes",
    "vfio_dirty": "dest_load_device_data",
    "vfio_stopcopy": "dest_load_device_data",
    "config": "dest_load_device_config",
    "cpu": "dest_load_cpu_state",
}

COMPONENT_LABELS = {
    "vm_stop": "source: VM stop + device STOP_COPY transitions",
    "pre_switchover_pause": "source: pre-switchover pause (until migrate-continue)",
    "ram_final_sync": "source: final dirty-bitmap sync",
    "dest_load_ram": "destination: loading RAM pages",
    "dest_load_initial_bytes": "destination: loading VFIO initial bytes (the cost switchover-ack moves out)",
    "dest_load_device_data": "destination: loading other VFIO device data",
    "dest_load_device_config": "destination: loading VFIO config state",
    "dest_load_cpu_state": "destination: loading CPU and other device state",
    "source_device_read": "source: reading stop-copy data from the devices",
    "transfer": "link and source sends (destination waiting for bytes)",
    "dest_vm_start": "destination: announce + vm_start (devices RESUMING -> RUNNING)",
    "return_path_shut": "return path: SHUT message latency",
}


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def breakdown(
    serial: Sequence[tuple[str, float, float]],
    window: tuple[float, float],
    records: Sequence[Record],
    device_reads: Sequence[tuple[float, float]],
    tail: Sequence[tuple[str, float, float]],
    total_ms: float,
) -> dict[str, float]:
    parts: dict[str, float] = {}

    def add(name: str, ms: float) -> None:
        if ms > 0:
            parts[name] = parts.get(name, 0.0) + ms

    for name, start, end in serial:
        add(name, end - start)
    w0, w1 = window
    busy: list[tuple[float, float]] = []
    component_of = KIND_COMPONENT.get
    # One pass per record (hundreds at a switchover): _overlap, add and the max()/min() calls
    # are inlined with the same values (max(a, b) is a unless b > a, min(a, b) a unless b < a).
    for record in records:
        component = component_of(record.kind)
        start, end = record.load_start_ms, record.load_end_ms
        if component is None or end <= start:
            continue
        lo = w0 if w0 > start else start
        hi = w1 if w1 < end else end
        ms = hi - lo
        if ms > 0:
            span = end - start
            busy_ms = record.busy_ms
            if 0 <= busy_ms < span:
                # A flow of pages the link delivers more slowly than the destination loads
                # them: the destination waits for bytes for the rest of its span.
                loading = ms * busy_ms / span
                add(component, loading)
                add("transfer", ms - loading)
            else:
                parts[component] = parts.get(component, 0.0) + ms
            busy.append((lo, hi))
    # Idle gaps of the destination inside the window.
    busy.sort()
    gaps: list[tuple[float, float]] = []
    cursor = w0
    for b0, b1 in busy:
        if b0 > cursor:
            gaps.append((cursor, b0))
        if b1 > cursor:
            cursor = b1
    if cursor < w1:
        gaps.append((cursor, w1))
    # Gaps are sorted and disjoint: sweep the reads by start once, keeping only those that
    # can still overlap a later gap (linear in device state, not gaps x reads). Overlaps
    # are summed in the reads' own order, so the floats are those of the plain double loop.
    by_start = sorted(range(len(device_reads)), key=lambda i: device_reads[i][0])
    active: list[int] = []
    j = 0
    n_reads = len(by_start)
    for g0, g1 in gaps:
        while j < n_reads and device_reads[by_start[j]][0] < g1:
            active.append(by_start[j])
            j += 1
        gap = g1 - g0
        if len(active) > 1:
            active = sorted([i for i in active if device_reads[i][1] > g0])
        elif active and not device_reads[active[0]][1] > g0:
            active = []
        if len(active) == 1:
            # One read (the common case): its overlap is the sum, computed as _overlap does.
            r0, r1 = device_reads[active[0]]
            lo = r0 if r0 > g0 else g0
            hi = r1 if r1 < g1 else g1
            reading = hi - lo
            if not reading > 0.0:
                reading = 0.0
            if gap < reading:
                reading = gap
            add("source_device_read", reading)
            add("transfer", gap - reading)
        elif active:
            reading = sum([_overlap(g0, g1, *device_reads[i]) for i in active])
            reading = min(reading, gap)
            add("source_device_read", reading)
            add("transfer", gap - reading)
        elif gap > 0:
            # No read overlaps the gap: all of it is transfer (the sum above would be 0).
            parts["transfer"] = parts.get("transfer", 0.0) + gap
    for name, start, end in tail:
        add(name, end - start)
    return _round_to_total(parts, total_ms)


def _round_to_total(parts: dict[str, float], total_ms: float) -> dict[str, float]:
    """Round to µs and put the rounding residue on the largest part, so the rounded parts
    add up to the rounded total."""
    rounded = {k: round(v, 3) for k, v in parts.items() if round(v, 3) > 0}
    if not rounded:
        return {}
    residue = round(round(total_ms, 3) - sum(rounded.values()), 3)
    largest = max(rounded, key=lambda k: (rounded[k], k))
    rounded[largest] = round(rounded[largest] + residue, 3)
    return dict(sorted(rounded.items()))
