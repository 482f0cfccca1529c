"""Worked cases. Each says what QEMU does and which number shows it."""

from app.engine import Scenario, Simulation
from app.engine.compare import compare_ack

from .helpers import BOTH, events, known, run, run_example, scenario

MiB = 1024**2


def test_mlx5_300mb_ack_moves_initial_bytes_load_out_of_downtime():
    # The switchover-ack cover letter's device: ~1480 ms of destination allocation is
    # triggered by loading the initial bytes. With the ack the source waits for that load
    # before stopping the VM; without it the initial bytes go with the stop-copy data and
    # their load lands inside the downtime.
    doc = run_example("mlx5-300mb-ack")
    on, off, diff = compare_ack(Scenario.model_validate(doc.scenario))
    a, b = on.summary, off.summary
    assert a.status == b.status == "completed"
    assert "dest_load_initial_bytes" not in a.downtime_breakdown_ms
    assert 1470 <= b.downtime_breakdown_ms["dest_load_initial_bytes"] <= 1490
    assert known(b.downtime_ms) - known(a.downtime_ms) > 1400
    assert known(b.downtime_ms) / known(a.downtime_ms) > 3  # "several-fold"
    assert diff["initial_bytes_load_moved_out_ms"] > 1400
    assert f"{a.downtime_ms:.0f} ms" in diff["sentence"] or "643 ms" in diff["sentence"]
    dev = a.devices[0]
    # The ack is sent only after INIT_DATA_SENT was loaded, and the VM stops after it arrives.
    assert (
        known(dev.init_data_sent_at_ms)
        < known(dev.init_data_loaded_at_ms)
        <= known(a.ack_received_at_ms)
        <= known(a.switchover_started_at_ms)
    )
    assert b.ack_received_at_ms is None and b.devices[0].init_data_sent_at_ms is None


def test_zero_devices_get_the_immediate_ack():
    # No device needs an ack: the destination acks when it processes OPEN_RETURN_PATH, one
    # round trip after migrate, before the PONG of the first PING.
    trace = run_example("zero-devices")
    latency = trace.resolved["link"]["latency_ms"]
    s = trace.summary
    assert s.status == "completed"
    assert abs(s.ack_received_at_ms - 2 * latency) < 0.01
    pong = events(trace, "pong")[0]
    assert s.ack_received_at_ms <= pong.t_ms
    assert s.switchover_permitted_at_ms == s.ack_received_at_ms
    assert events(trace, "ack_needed")[0].data["pending_num"] == 0


def test_8x_serialization_starves_the_ack_under_a_busy_guest_but_not_9_0():
    # 8.1/8.2: qemu_savevm_state_iterate stops at the first handler that returns 0. RAM never
    # drains under this load (its 50 ms slice ends with pages left), so the VFIO device never
    # sends its initial bytes: no INIT_DATA_SENT, no ack. 9.0 calls every handler each pass.
    for profile in ("8.1", "8.2"):
        t = run_example("busy-guest-8.1", qemu_profile=profile)
        assert t.summary.status == "cancelled"
        assert events(t, "init_data_sent") == [] and t.summary.ack_received_at_ms is None
        assert t.summary.devices[0].precopy_bytes == 0
        assert "waiting for the ack" in t.summary.reason
        assert any("8.x the walk stops here" in s.decision.reason for s in t.steps)
    for profile in ("9.0", "10.1"):
        t = run_example("busy-guest-8.1", qemu_profile=profile)
        assert len(events(t, "init_data_sent")) == 1
        assert t.summary.ack_received_at_ms is not None
        assert t.summary.devices[0].precopy_bytes == 8 * MiB


def test_device_without_precopy_needs_no_ack_and_goes_running_to_stop():
    trace = run_example("pensando-no-precopy")
    s = trace.summary
    assert s.status == "completed"
    assert events(trace, "init_data_sent") == []
    assert known(s.ack_received_at_ms) < 1.0  # acked at OPEN_RETURN_PATH
    arcs = [
        (e.data["from"], e.data["to"]) for e in events(trace, "device_state") if e.side == "source"
    ]
    assert arcs == [
        ("RUNNING", "RUNNING_P2P"),
        ("RUNNING_P2P", "STOP"),
        ("STOP", "STOP_COPY"),
        ("STOP_COPY", "STOP"),
    ]
    assert s.devices[0].stop_copy_bytes == 64 * 1024 and s.devices[0].precopy_bytes == 0


def test_precopy_device_state_path_on_both_sides():
    trace = run_example("mlx5-300mb-ack")
    src = [
        (e.data["from"], e.data["to"]) for e in events(trace, "device_state") if e.side == "source"
    ]
    dst = [
        (e.data["from"], e.data["to"])
        for e in events(trace, "device_state")
        if e.side == "destination"
    ]
    assert src == [
        ("RUNNING", "PRE_COPY"),
        ("PRE_COPY", "PRE_COPY_P2P"),
        ("PRE_COPY_P2P", "STOP_COPY"),
        ("STOP_COPY", "STOP"),
    ]
    assert dst == [
        ("RUNNING", "RUNNING_P2P"),
        ("RUNNING_P2P", "STOP"),
        ("STOP", "RESUMING"),
        ("RESUMING", "STOP"),
        ("STOP", "RUNNING_P2P"),
        ("RUNNING_P2P", "RUNNING"),
    ]


def test_9_2_exact_pending_drops_the_init_dirty_double_count():
    # 8.1-9.1 vfio_state_pending_exact added init+dirty on top of stop_copy_length (which
    # already covers them); 9.2 (commit 3b5948f808e3) reports stop_copy_length only. The two
    # runs are identical up to the first exact query: the difference is exactly the device's
    # refreshed init+dirty.
    doc = scenario(
        devices=[
            {"name": "vf", "preset": "mlx5-cx7-vf-100mib", "dirty_rate_bytes_per_s": "64 MiB"}
        ],
        params={"avail_switchover_bandwidth_bytes_per_s": "10 Gbit"},
    )
    first = {}
    for profile in ("9.1", "9.2"):
        doc["qemu_profile"] = profile
        trace = run(doc)
        index = next(s.index for s in trace.steps if s.pending_exact_bytes is not None)
        first[profile] = (trace.steps[index - 1], trace.steps[index])
    (prev, a), (_, b) = first["9.1"], first["9.2"]
    assert a.t_ms == b.t_ms
    dev = a.devices[0]
    # The step shows QEMU's cache after this pass's read; add back what the pass read.
    read = known(dev.sent_bytes) - known(prev.devices[0].sent_bytes)
    refreshed = known(dev.init_est_bytes) + known(dev.dirty_est_bytes) + read
    assert known(dev.dirty_est_bytes) > 0 and refreshed > 0
    assert known(a.pending_exact_bytes) - known(b.pending_exact_bytes) == refreshed


def test_ack_without_return_path_is_refused():
    t = run(scenario(caps={"source": ["switchover-ack"], "destination": ["switchover-ack"]}))
    assert t.summary.status == "failed"
    assert "Capability 'switchover-ack' requires capability 'return-path'" in t.summary.reason
    assert t.summary.passes == 0


def test_capability_on_source_only_fails_the_destination_on_init_data_sent():
    t = run_example("ack-source-only")
    assert t.summary.status == "failed"
    assert "Received INIT_DATA_SENT but switchover ack is not used" in t.summary.reason
    err = events(t, "error")
    assert err[0].side == "destination" and err[-1].side == "source"
    assert err[-1].t_ms >= err[0].t_ms + t.resolved["link"]["latency_ms"] - 1e-9
    # The source devices are put back to RUNNING.
    assert t.steps[-1].devices[0].src_state == "RUNNING"


def test_failed_stop_copy_size_query_never_converges():
    t = run_example("stop-copy-query-fails", max_time_ms=2500)  # ~3,500 steps show it
    assert t.summary.status == "cancelled"
    exact = [s.pending_exact_bytes for s in t.steps if s.pending_exact_bytes is not None]
    assert exact and min(exact) >= 100 * 1024**3
    assert "100 GiB" in t.summary.reason


def test_an_ack_that_never_comes_runs_to_max_time_and_is_cancelled():
    # Source waits for an ack; the destination has no switchover-ack, so it never acks (and
    # a non-precopy device sends no INIT_DATA_SENT that would make it fail). No timeout.
    t = run(
        scenario(
            caps={"source": BOTH, "destination": ["return-path"]},
            devices=[{"name": "pds", "preset": "amd-pensando-vf"}],
            max_time_ms=5000,
        )
    )
    s = t.summary
    assert (
        s.status == "cancelled"
        and s.ack_received_at_ms is None
        and s.switchover_started_at_ms is None
    )
    assert known(s.total_time_ms) >= 5000
    assert "destination does not have switchover-ack" in s.reason and "no ack timeout" in s.reason


def test_device_that_cannot_migrate_blocks_the_migration():
    t = run(scenario(devices=[{"name": "gpu", "preset": "grace-hopper-gpu"}]))
    assert t.summary.status == "failed" and "doesn't support migration" in t.summary.reason


def test_multiple_devices_need_8_2_and_p2p():
    two = [
        {"name": "a", "preset": "hisi-acc-vf", "p2p": True},
        {"name": "b", "preset": "hisi-acc-vf", "p2p": True},
    ]
    assert "multiple VFIO devices" in run(scenario(qemu_profile="8.1", devices=two)).summary.reason
    two[1]["p2p"] = False
    assert "P2P" in run(scenario(qemu_profile="9.0", devices=two)).summary.reason


def test_two_devices_one_ack_after_both():
    t = run_example("two-mlx5-vfs")
    loaded = sorted(known(d.init_data_loaded_at_ms) for d in t.summary.devices)
    sent = events(t, "ack_sent")
    assert len(sent) == 1 and sent[0].t_ms == loaded[-1]
    approvals = [e.data["pending_num"] for e in events(t, "approve")]
    assert approvals == [1, 0]


def test_reinit_needs_a_fresh_ack_in_the_2026_profile():
    t = run_example("reinit-2026")
    first = "0000:3b:00.1"
    sends = events(t, "init_data_sent", first)
    assert len(sends) == 2  # once, then again after VFIO_PRECOPY_INFO_REINIT
    assert events(t, "switchover_blocked")
    assert t.summary.switchover_started_at_ms >= events(t, "ack_received", first)[-1].t_ms
    assert any("proposed" in n or "PROPOSED" in n for n in [t.profile["description"]])


def test_downtime_runs_from_vm_stop_to_shut_received():
    t = run_example("mlx5-300mb-ack")
    stop = events(t, "vm_stop")[0].t_ms
    shut = events(t, "shut_received")[0].t_ms
    start = events(t, "vm_start")[0].t_ms
    assert abs(t.summary.downtime_ms - (shut - stop)) < 1e-3
    assert abs(t.summary.guest_downtime_ms - (start - stop)) < 1e-3
    off = run_example(
        "mlx5-300mb-ack", caps={"source": ["return-path"], "destination": ["return-path"]}
    )
    assert known(off.summary.downtime_ms) > 4 * known(
        off.summary.downtime_limit_ms
    )  # the limit is not a bound


def test_without_return_path_downtime_ends_when_the_source_has_flushed():
    t = run(
        scenario(
            caps={"source": [], "destination": []},
            devices=[{"name": "vf", "preset": "mlx5-cx7-vf-100mib"}],
            params={"avail_switchover_bandwidth_bytes_per_s": "10 Gbit"},
        )
    )
    s = t.summary
    assert s.status == "completed"
    assert events(t, "shut_received") == []
    assert known(s.guest_downtime_ms) > known(s.downtime_ms)  # the destination was still loading


def test_threshold_comes_from_measured_throughput_not_link_capacity():
    # 10 Gbit link, 128 MiB/s max-bandwidth: the threshold is ~128 MiB/s x 300 ms = 38.4 MiB.
    t = run(
        scenario(
            params={"max_bandwidth_bytes_per_s": "128 MiB"},
            guest={"ram_bytes": "4 GiB", "zero_page_fraction": 0.5},
        )
    )
    thresholds = [s.threshold_bytes for s in t.steps if s.phase == "iterate" and s.threshold_bytes]
    assert max(thresholds) < 41 * MiB
    assert max(thresholds) > 36 * MiB
    # Nothing is measured before the first 100 ms window closes: the first pass cannot finish.
    assert "threshold is 0" in t.steps[1].gates[0].detail


def test_step_by_step_equals_run():
    sc = Scenario.model_validate(run_example("zero-devices").scenario)
    sim = Simulation(sc)
    steps = []
    while (step := sim.step()) is not None:
        steps.append(step)
        assert step.index == len(steps) - 1
    assert sim.step() is None
    assert sim.trace().to_json() == Simulation(sc).run().to_json()
    assert steps[0].phase == "setup" and steps[-1].phase == "completed"
    for step in steps:
        assert step.decision.reason and step.decision.qemu_function
