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
