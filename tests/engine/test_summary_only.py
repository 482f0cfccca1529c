"""A summary-only run (sweeps) keeps no steps but must end exactly as the full run."""

import pathlib

import pytest

import app.engine.examples as examples
from app.engine.examples import load_example
from app.engine.scenario import Scenario
from app.engine.simulation import Simulation, simulate, simulate_summary

NAMES = sorted(p.stem for p in pathlib.Path(examples.__file__).parent.glob("*.json"))


@pytest.mark.parametrize("name", NAMES)
def test_summary_only_equals_the_full_runs_summary(name: str) -> None:
    scenario = Scenario.model_validate(load_example(name))
    full = simulate(scenario).summary
    assert simulate_summary(scenario).model_dump_json() == full.model_dump_json()


@pytest.mark.parametrize("name", ["stop-copy-query-fails", "reference-bench"])
def test_summary_only_hits_the_step_limit_with_the_same_reason(name: str) -> None:
    scenario = Scenario.model_validate(load_example(name))
    full = simulate(scenario, max_steps=60).summary
    assert full.status == "cancelled" and "step limit" in full.reason
    assert "Switchover held" not in full.reason and "gated" in full.reason
    assert simulate_summary(scenario, max_steps=60).model_dump_json() == full.model_dump_json()


def test_summary_only_run_has_no_trace() -> None:
    sim = Simulation(Scenario.model_validate(load_example("zero-devices")), keep_steps=False)
    sim.run_summary()
    assert sim.steps == []
    assert sim.step_count > 3
    with pytest.raises(RuntimeError, match="summary-only"):
        sim.trace()
