"""Branching as an engine concept (app/engine/branch.py): actions keyed by step index, the
parameters in force after a step, and the one rule both follow."""

import pytest
from pydantic import ValidationError

from app.engine import Scenario
from app.engine.branch import params_after_step
from app.engine.examples import load_example
from app.engine.scenario import Action
from app.engine.simulation import Simulation
from app.engine.trace import Trace

from .helpers import scenario

EXAMPLE = "mlx5-300mb-ack"


def _run(doc: dict[str, object], collapse: bool = False) -> Trace:
    return Simulation(Scenario.model_validate(doc), collapse=collapse).run()


def _dumped(trace: Trace, stop: int) -> list[dict[str, object]]:
    return [s.model_dump() for s in trace.steps[:stop]]


@pytest.mark.parametrize("after_step", [0, 5, 17])
@pytest.mark.parametrize(
    "action",
    [
        {"kind": "set_parameters", "downtime_limit_ms": 2000},
        {"kind": "pause_guest"},
        {"kind": "cancel"},
    ],
)
def test_a_step_keyed_action_replays_the_parent_up_to_its_step_then_applies(
    after_step: int, action: dict[str, object]
) -> None:
    parent_doc = load_example(EXAMPLE)
    parent = _run(parent_doc)
    doc = load_example(EXAMPLE)
    doc["actions"] = [{"after_step": after_step, **action}]
    branch = _run(doc)
    assert _dumped(branch, after_step + 1) == _dumped(parent, after_step + 1)
    # It applied at the start of the next pass, i.e. at the end of its step, exactly.
    end_ms = parent.steps[after_step].end_ms
    [applied_ms] = branch.summary.actions_at_ms
    assert applied_ms == pytest.approx(end_ms, abs=1e-3)
    if action["kind"] == "cancel":
        assert branch.summary.status == "cancelled"
        assert [s.phase for s in branch.steps[after_step + 1 :]] == ["cancelled"]
    else:
        kinds = {"set_parameters": "set_parameters", "pause_guest": "guest_paused"}
        applied = [e for e in branch.events if e.kind == kinds[str(action["kind"])]]
        assert [e.step for e in applied] == [after_step + 1]
        assert applied[0].t_ms == pytest.approx(end_ms, abs=1e-3)


def test_a_step_keyed_action_in_a_collapsed_run_applies_after_the_collapsed_step() -> None:
    """Step indices are the trace's: in a collapsed trace a step may stand for many passes,
    and the action waits for the end of that step, whatever it stands for."""
    doc = load_example("mlx5-300mb-default-params")
    doc["max_time_ms"] = 10000
    parent = _run(doc, collapse=True)
    collapsed = [s.index for s in parent.steps if "passes alike" in s.decision.reason]
    assert collapsed, "the never-converging example collapses"
    n = collapsed[0]
    doc["actions"] = [
        {
            "after_step": n,
            "kind": "set_parameters",
            "avail_switchover_bandwidth_bytes_per_s": "10 Gbit",
        }
    ]
    branch = _run(doc, collapse=True)
    assert _dumped(branch, n + 1) == _dumped(parent, n + 1)
    assert branch.summary.actions_at_ms[0] == pytest.approx(parent.steps[n].end_ms, abs=1e-3)
    # A collapsed run of passes lasts until something changes (here: the time limit), so the
    # branch acts only after it, as the trace shows it.
    [applied] = [e for e in branch.events if e.kind == "set_parameters"]
    assert applied.step == n + 1


def test_time_keyed_actions_still_apply_at_the_first_pass_at_or_after_their_time() -> None:
    doc = load_example(EXAMPLE)
    doc["actions"] = [{"at_ms": 500, "kind": "set_parameters", "downtime_limit_ms": 2000}]
    by_time = _run(doc)
    parent = _run(load_example(EXAMPLE))
    n = next(s.index for s in parent.steps if s.end_ms >= 500 - 1e-9)
    doc["actions"] = [{"after_step": n, "kind": "set_parameters", "downtime_limit_ms": 2000}]
    by_step = _run(doc)
    # The same moment said two ways is the same run (the pass after step n starts at 500 ms).
    assert parent.steps[n].end_ms == 500.0
    assert _dumped(by_time, len(by_time.steps)) == _dumped(by_step, len(by_step.steps))
    assert by_time.summary.actions_at_ms == by_step.summary.actions_at_ms == [500.0]


@pytest.mark.parametrize(
    "fields",
    [{}, {"at_ms": 5, "after_step": 3}],
)
def test_an_action_has_exactly_one_of_at_ms_and_after_step(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="exactly one of at_ms and after_step"):
        Action.model_validate({"kind": "cancel", **fields})


def test_params_after_step_follows_the_engines_rule() -> None:
    doc = scenario(
        actions=[
            {"at_ms": 1000, "kind": "set_parameters", "downtime_limit_ms": 500},
            {"after_step": 3, "kind": "set_parameters", "max_bandwidth_bytes_per_s": 0},
            {"after_step": 3, "kind": "pause_guest"},
        ]
    )
    s = Scenario.model_validate(doc)
    before = params_after_step(s, 2, 999.0)
    assert before.params["downtime_limit_ms"] == 300 and not before.paused
    assert before.params["max_bandwidth_bytes_per_s"] == s.params.max_bandwidth_bytes_per_s
    at_step = params_after_step(s, 3, 999.0)
    assert at_step.params["max_bandwidth_bytes_per_s"] == 0 and at_step.paused
    assert at_step.params["downtime_limit_ms"] == 300
    later = params_after_step(s, 4, 1000.0)
    assert later.params["downtime_limit_ms"] == 500
    assert later.base["downtime_limit_ms"] == 300
    # Applied in time order: the time-keyed one (1000 ms) before the step-keyed ones (now).
    assert [a.get("at_ms") for a in params_after_step(s, 9, 1200.0).applied] == [1000.0, None, None]
