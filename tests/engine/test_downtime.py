from app.engine.downtime import breakdown
from app.engine.stream import Record


def rec(kind, start, end):
    return Record(kind, 100, None, 0.0, 0.0, 0.0, start, end, 0)


def test_breakdown_sums_to_the_total_and_names_the_bottleneck():
    serial = [("vm_stop", 0.0, 40.0), ("ram_final_sync", 40.0, 41.0)]
    records = [
        rec("vfio_init", 0.0, 500.0),
        rec("vfio_stopcopy", 500.0, 700.0),
        rec("config", 750.0, 860.0),
    ]
    parts = breakdown(
        serial,
        (41.0, 860.0),
        records,
        [(41.0, 300.0), (700.0, 740.0)],
        [("dest_vm_start", 860.0, 900.0)],
        900.0,
    )
    assert parts["vm_stop"] == 40.0
    assert (
        parts["dest_load_initial_bytes"] == 459.0
    )  # 41..500: the destination was busy with initial bytes
    assert parts["dest_load_device_data"] == 200.0
    assert parts["dest_load_device_config"] == 110.0
    assert (
        parts["source_device_read"] == 40.0
    )  # the idle gap 700..750 overlaps a device read for 40 ms
    assert parts["transfer"] == 10.0
    assert abs(sum(parts.values()) - 900.0) < 1e-9


def _breakdown_by_double_loop(serial, window, records, device_reads, tail, total_ms):
    """The former quadratic accounting (every idle gap against every read), kept as the oracle."""
    from app.engine import downtime

    parts: dict[str, float] = {}

    def add(name, ms):
        if ms > 0:
            parts[name] = parts.get(name, 0.0) + ms

    for name, start, end in serial:
        add(name, end - start)
    w0, w1 = window
    busy = []
    for record in records:
        component = downtime.KIND_COMPONENT.get(record.kind)
        if component is None or record.load_end_ms <= record.load_start_ms:
            continue
        ms = downtime._overlap(record.load_start_ms, record.load_end_ms, w0, w1)
        if ms > 0:
            add(component, ms)
            busy.append((max(record.load_start_ms, w0), min(record.load_end_ms, w1)))
    busy.sort()
    gaps, cursor = [], w0
    for b0, b1 in busy:
        if b0 > cursor:
            gaps.append((cursor, b0))
        cursor = max(cursor, b1)
    if cursor < w1:
        gaps.append((cursor, w1))
    for g0, g1 in gaps:
        reading = min(sum(downtime._overlap(g0, g1, r0, r1) for r0, r1 in device_reads), g1 - g0)
        add("source_device_read", reading)
        add("transfer", (g1 - g0) - reading)
    for name, start, end in tail:
        add(name, end - start)
    return downtime._round_to_total(parts, total_ms)


def test_linear_sweep_gives_the_same_floats_as_the_double_loop():
    import random

    rng = random.Random(9)
    kinds = ["ram", "vfio_init", "vfio_dirty", "vfio_stopcopy", "config", "cpu", "marker"]
    for _ in range(200):
        records, t = [], rng.uniform(0, 5)
        for _ in range(rng.randint(0, 40)):
            t += rng.uniform(0, 3)
            end = t + rng.choice([0.0, rng.uniform(0, 4)])
            records.append(rec(rng.choice(kinds), t, end))
            t = end
        # Reads overlap each other (several devices) and span several gaps.
        reads = [
            (a, a + rng.uniform(0, 20))
            for a in (rng.uniform(0, 120) for _ in range(rng.randint(0, 30)))
        ]
        total = t + 10.0
        args = (
            [("vm_stop", 0.0, 1.0)],
            (1.0, t + 5.0),
            records,
            reads,
            [("dest_vm_start", t + 5.0, total)],
            total,
        )
        assert breakdown(*args) == _breakdown_by_double_loop(*args)
