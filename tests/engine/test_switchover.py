"""Switchover phases and the status sequence QEMU goes through."""

import pytest

from .helpers import BOTH, events, known, run, run_example, scenario

VF = [{"name": "vf", "preset": "mlx5-cx7-vf-100mib"}]
FAST = {"avail_switchover_bandwidth_bytes_per_s": "10 Gbit"}


def statuses(trace):
    return [e.data["status"] for e in events(trace, "status") if e.side == "source"]


def test_before_10_0_there_is_no_device_status():
    t = run(scenario(qemu_profile="9.2", devices=VF, params=FAST))
    assert statuses(t) == ["setup", "active", "completed"]


def test_from_10_0_the_device_status_is_always_entered():
    t = run(scenario(qemu_profile="10.0", devices=VF, params=FAST))
    assert statuses(t) == ["setup", "active", "device", "completed"]


def test_pause_before_switchover_comes_after_vm_stop_and_counts_as_downtime():
    caps = [*BOTH, "pause-before-switchover"]
    t = run(
        scenario(
            devices=VF,
            caps={"source": caps, "destination": BOTH},
            params={**FAST, "pause_before_switchover_ms": 250},
        )
    )
    assert statuses(t) == ["setup", "active", "pre-switchover", "device", "completed"]
    stop = events(t, "vm_stop")[0].t_ms
    pre = next(e for e in events(t, "status") if e.data["status"] == "pre-switchover")
    assert pre.t_ms >= stop
    assert t.summary.downtime_breakdown_ms["pre_switchover_pause"] == pytest.approx(250.0, abs=0.01)


def test_phases_in_order():
    t = run(scenario(devices=[*VF, {"name": "vf2", "preset": "mlx5-cx7-vf-100mib"}], params=FAST))
    phases = [s.phase for s in t.steps if s.phase not in ("setup", "iterate")]
    assert phases == [
        "vm_stop",
        "ram_complete",
        "device_complete",
        "device_complete",
        "non_iterable",
        "dest_load",
        "vm_start",
        "completed",
    ]


def test_stop_copy_to_stop_happens_after_completion_from_8_2():
    for profile, expected in (("8.1", False), ("8.2", True)):
        t = run(
            scenario(qemu_profile=profile, devices=[{"name": "qat", "preset": "intel-qat-4xxx-vf"}])
        )
        assert t.summary.status == "completed", t.summary.reason
        done = next(
            e for e in events(t, "status") if e.data["status"] == "completed" and e.side == "source"
        ).t_ms
        to_stop = [
            e for e in events(t, "device_state") if e.side == "source" and e.data["to"] == "STOP"
        ]
        assert bool(to_stop) == expected
        assert all(e.t_ms >= done for e in to_stop)


def test_stop_copy_data_of_unsent_initial_bytes_is_loaded_in_downtime():
    # Without the ack nothing waits for the device: RAM converges first and the 16 MiB of
    # initial bytes travel, and are loaded, as stop-copy data inside the downtime.
    doc = run_example("mlx5-300mb-ack").scenario
    doc["caps"] = {"source": ["return-path"], "destination": ["return-path"]}
    off = run(doc)
    assert off.summary.devices[0].precopy_bytes == 0
    # the 16 MiB initial image, then the 16 MiB final delta (the reported size is 300 MB)
    assert off.summary.devices[0].stop_copy_bytes == 32 * 1024**2
    assert off.summary.downtime_breakdown_ms["dest_load_initial_bytes"] == pytest.approx(
        1480, abs=3
    )


def test_multifd_sends_device_state_in_parallel_from_10_0():
    # 10.0 multifd device state: one save thread and one load thread per device, so two
    # ~100 MiB VFs read, send and load their stop-copy data side by side instead of one
    # after the other. The gain is in the device part of the downtime.
    doc = run_example("two-mlx5-vfs").scenario
    serial = run(doc)
    for side in ("source", "destination"):
        doc["caps"][side] = doc["caps"][side] + ["multifd"]
    parallel = run(doc)
    a, b = serial.summary, parallel.summary
    assert a.status == b.status == "completed"
    assert a.downtime_breakdown_ms["dest_load_device_data"] == pytest.approx(
        2 * b.downtime_breakdown_ms["dest_load_device_data"], rel=0.01
    )
    # Main channel: the destination loads the two ~92 MiB images one after the other
    # (2 x ~209 ms); multifd: each device's load thread loads its own, side by side.
    assert known(a.downtime_ms) - known(b.downtime_ms) > 150
    assert b.vfio_transferred_bytes == a.vfio_transferred_bytes
    steps = [s for s in parallel.steps if s.phase == "device_complete"]
    assert len(steps) == 1 and "in parallel" in steps[0].decision.reason
    assert steps[0].decision.qemu_function == "vfio_multifd_save_complete_precopy_thread"
    assert all(
        known(s.transferred_bytes) == known(s.loaded_bytes) + known(s.in_flight_bytes)
        for s in parallel.steps
    )


def test_multifd_needs_both_ends_and_10_0():
    one_side = run(scenario(caps={"source": [*BOTH, "multifd"], "destination": BOTH}, devices=VF))
    assert (
        one_side.summary.status == "failed"
        and "multifd must be on at both ends" in one_side.summary.reason
    )
    old = run(
        scenario(
            qemu_profile="9.2",
            caps={"source": [*BOTH, "multifd"], "destination": [*BOTH, "multifd"]},
            devices=VF,
            params=FAST,
        )
    )
    assert old.summary.status == "completed"
    assert any("needs QEMU 10.0" in note for note in old.notes)
