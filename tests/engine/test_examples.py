from collections import Counter
from copy import copy, deepcopy

import pytest

from app.engine import Scenario, simulate
from app.engine.compare import compare_ack
from app.engine.eventlog import EventLog
from app.engine.examples import EXAMPLES, load_example
from app.engine.simulation import Simulation
from app.engine.vfio import VfioState

# Examples that run until max_time_ms: 5 s of simulated time shows the same outcome.
NEVER_ENDING = {"stop-copy-query-fails", "mlx5-300mb-default-params", "busy-guest-8.1"}

EXPECTED_STATUS = {
    "ack-cannot-help-big-guest": "completed",
    "ack-without-avail-bw-never-converges": "cancelled",
    "multifd-1-vf": "completed",
    "multifd-2-vfs": "completed",
    "multifd-4-vfs": "completed",
    "reinit-10.2": "completed",
    "ack-source-only": "failed",
    "busy-guest-8.1": "cancelled",
    "mlx5-300mb-ack": "completed",
    "mlx5-300mb-default-params": "cancelled",
    "pensando-no-precopy": "completed",
    "reference-bench": "completed",
    "reinit-2026": "completed",
    "stop-copy-query-fails": "cancelled",
    "two-mlx5-vfs": "completed",
    "zero-devices": "completed",
}


def test_every_example_is_listed_here():
    assert set(EXAMPLES) == set(EXPECTED_STATUS)


@pytest.mark.parametrize("name", sorted(EXPECTED_STATUS))
def test_example_runs_to_its_documented_outcome(name):
    doc = load_example(name)
    assert doc["title"] and doc["description"]
    if doc["max_time_ms"] > 5000 and name in NEVER_ENDING:
        doc["max_time_ms"] = 5000  # the outcome is the same; thousands of steps fewer
    trace = simulate(Scenario.model_validate(doc))
    assert trace.summary.status == EXPECTED_STATUS[name], trace.summary.reason


def test_load_example_returns_a_copy():
    a = load_example("zero-devices")
    a["title"] = "changed"
    assert load_example("zero-devices")["title"] != "changed"
    with pytest.raises(KeyError):
        load_example("nope")


def _run(name: str):
    return simulate(Scenario.model_validate(load_example(name))).summary


def _on_off(name: str):
    on, off, _ = compare_ack(Scenario.model_validate(load_example(name)))
    return on.summary, off.summary


def test_the_ack_helps():
    on, off = _on_off("mlx5-300mb-ack")
    assert "the ack helps" in load_example("mlx5-300mb-ack")["description"]
    assert on.downtime_ms == pytest.approx(270, abs=30)
    assert off.downtime_ms - on.downtime_ms == pytest.approx(1480, rel=0.05)


def test_the_ack_cannot_help_when_the_ram_round_is_longer():
    on, off = _on_off("ack-cannot-help-big-guest")
    assert "the RAM round is longer" in load_example("ack-cannot-help-big-guest")["title"]
    assert on.downtime_ms == pytest.approx(off.downtime_ms, rel=0.10)
    assert on.downtime_ms == pytest.approx(270, abs=30)


def test_the_ack_without_avail_switchover_bandwidth_never_converges():
    on, off = _on_off("ack-without-avail-bw-never-converges")
    assert on.status == "cancelled" and off.status == "completed"
    assert "avail-switchover-bandwidth" in on.reason


def test_multifd_with_1_2_4_devices_shows_contention_not_free_channels():
    one, two, four = (_run(n) for n in ("multifd-1-vf", "multifd-2-vfs", "multifd-4-vfs"))
    assert one.downtime_ms < two.downtime_ms < four.downtime_ms
    assert two.downtime_ms - one.downtime_ms == pytest.approx(75, abs=25)
    assert four.downtime_ms - one.downtime_ms == pytest.approx(220, abs=40)
    # The same four VFs on the main channel: SAVE, transfer and LOAD one after the other.
    doc = load_example("multifd-4-vfs")
    for side in ("source", "destination"):
        doc["caps"][side] = [c for c in doc["caps"][side] if c != "multifd"]
    serial = simulate(Scenario.model_validate(doc)).summary
    assert serial.downtime_ms > 2 * four.downtime_ms


def test_reinit_on_10_2_costs_its_load_in_the_downtime_and_not_on_2026():
    old, new = _run("reinit-10.2"), _run("reinit-2026")
    # The re-initialised state's load (900 ms) is in 10.2's downtime, as device data loaded.
    # The downtimes also differ by when each run's last pass saw the ack (which pass read
    # the device's last pre-copy bytes), so the load is checked in the breakdown.
    loaded = "dest_load_device_data"
    reinit_load_ms = old.downtime_breakdown_ms[loaded] - new.downtime_breakdown_ms[loaded]
    assert reinit_load_ms == pytest.approx(900, rel=0.05)
    assert old.downtime_ms - new.downtime_ms >= 0.95 * 900


def _steps_against_a_copy_advanced_to_their_end(sim: Simulation) -> Counter[str]:
    """Run sim step by step; after each step, advance a copy of its devices and guest log to
    the step's end with Simulation.advance_dirtying (what the next pass does first) and check
    the step's figures that describe "now" are the copy's. Returns, per field, how many
    steps show a value the pass had not reached yet (the live, unadvanced one differs)."""
    ahead_of_live: Counter[str] = Counter()
    while (step := sim.step()) is not None:
        end_ms = sim.t
        if round(end_ms, 3) != step.end_ms:
            # A collapsed run of passes cut by the 50 ms slice closes once the step after it
            # is made (collapse.merge_slice_cut): step() returns it with the simulation one
            # step on. Its figures are its last pass's, field for field as the uncollapsed
            # run shows them (test_collapse.py), whose steps are all checked here.
            assert sim.collapse and sim.steps[step.index + 1].end_ms == round(end_ms, 3)
            ahead_of_live["returned late"] += 1
            continue
        ahead = copy(sim)  # shares nothing it changes: devices, log and RAM are copies
        ahead.devs, ahead.ram, ahead.log = deepcopy(sim.devs), deepcopy(sim.ram), EventLog()
        ahead.advance_dirtying(end_ms)
        assert step.ram_dirty_unsynced_bytes == ahead.ram.log_bytes, step.index
        for shown, dev, live in zip(step.devices, ahead.devs, sim.devs, strict=True):
            stopped = dev.src.state == VfioState.STOP
            now = {
                "init_kernel_bytes": dev.data.init_bytes,
                "dirty_kernel_bytes": dev.data.dirty_bytes,
                "stop_copy_length_bytes": 0 if stopped else dev.query_stop_copy_length(),
            }
            was = {
                "init_kernel_bytes": live.data.init_bytes,
                "dirty_kernel_bytes": live.data.dirty_bytes,
                "stop_copy_length_bytes": 0 if stopped else live.query_stop_copy_length(),
            }
            for field, value in now.items():
                assert getattr(shown, field) == value, (step.index, shown.name, field)
                ahead_of_live[field] += value != was[field]
    return ahead_of_live


@pytest.mark.parametrize("collapse", [False, True], ids=["every-pass", "collapsed"])
@pytest.mark.parametrize("name", sorted(EXPECTED_STATUS))
def test_every_step_shows_the_devices_and_the_guest_log_at_its_end(name, collapse):
    # A step's device figures (the driver's, not QEMU's cached estimates) and the guest's
    # unsynced writes are as of its end (end_ms): the next pass's first advance would find
    # them so. The pass may have last advanced them at its top, the exact query or a read.
    sim = Simulation(Scenario.model_validate(load_example(name)), collapse=collapse)
    ahead = _steps_against_a_copy_advanced_to_their_end(sim)
    # Only runs of passes cut by the slice are returned once the next step is made.
    assert bool(ahead["returned late"]) == (collapse and name == "busy-guest-8.1")
    if name == "reference-bench":  # the virtio VF's context changes while RAM is sent
        assert ahead["dirty_kernel_bytes"] == ahead["stop_copy_length_bytes"] > 0
    if name.startswith("reinit-"):  # VF 1's RDMA churn
        assert ahead["dirty_kernel_bytes"] > 0


@pytest.mark.parametrize("example", ["reinit-2026", "reinit-10.2"])
def test_a_reinit_due_before_a_step_ends_is_in_its_figures(example):
    # VF 1's re-initialisation moved into the widest gap of the run between the pass's last
    # advance of the device and the step's end (step 3: read at 158.1 ms, ends at 206.5):
    # no advance applies it before the step ends, and the step shows the driver as it is
    # then (2026: the new initial image; 10.2: the new state in the stop-copy size).
    doc = load_example(example)
    sim = Simulation(Scenario.model_validate(doc))
    gaps = []
    while sim.step() is not None:
        vf1 = sim.devs[0]
        if vf1.src.in_precopy:
            gaps.append((sim.t - vf1.data.last_ms, vf1.data.last_ms, sim.t))
    width_ms, last_ms, end_ms = max(gaps)
    assert width_ms > 10.0
    doc["devices"][0]["reinit"][0]["at_ms"] = (last_ms + end_ms) / 2
    ahead = _steps_against_a_copy_advanced_to_their_end(Simulation(Scenario.model_validate(doc)))
    if example == "reinit-2026":
        assert ahead["init_kernel_bytes"] == 1
    else:
        assert ahead["stop_copy_length_bytes"] == 1 and ahead["init_kernel_bytes"] == 0
