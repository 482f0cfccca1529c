"""Branching, as the engine sees it: when a user action applies, and which parameters are in
force after a step.

A what-if branch is its parent's scenario plus one action keyed by step index
(`Action.after_step = N`): the engine applies it at the first pass after step N, so the branch
replays its parent step for step up to N (the engine is deterministic and nothing pending in
a step-keyed action changes a pass before it is due). No replay of the parent and no float of
its clock are needed to place the action, unlike a time-keyed action (`at_ms`), which applies
at the first pass whose start has reached `at_ms` (clock.reached).

One rule, used by Simulation.apply_actions and by `params_after_step` (the run page's branch
panel): after `steps_done` steps, with the source clock at `t_ms`, an action is due when
  - `after_step` is given and `after_step < steps_done`, or
  - `at_ms` is given and `reached(t_ms, at_ms)`;
actions due at the same moment apply in time order (a step-keyed action counts as due at
`t_ms`), ties in the scenario's order. QEMU applies migrate-set-parameters at once
(qmp_migrate_set_parameters); the engine's passes are the moments it looks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .clock import reached

if TYPE_CHECKING:
    from .scenario import Action, Scenario

# The parameters a set_parameters action may carry, in the engine's own order.
PARAMETER_FIELDS = (
    "downtime_limit_ms",
    "max_bandwidth_bytes_per_s",
    "avail_switchover_bandwidth_bytes_per_s",
)


def is_due(action: Action, steps_done: int, t_ms: float) -> bool:
    """The rule: is `action` due at the pass that follows `steps_done` steps, at `t_ms`?"""
    if action.after_step is not None:
        return action.after_step < steps_done
    assert action.at_ms is not None  # Action's validator: exactly one of the two
    return reached(t_ms, action.at_ms)


def due_order(action: Action, t_ms: float) -> float:
    """Sort key of due actions: a time-keyed one at its at_ms, a step-keyed one now."""
    return t_ms if action.at_ms is None else action.at_ms


def take_due(pending: list[Action], steps_done: int, t_ms: float) -> list[Action]:
    """Remove and return the actions of `pending` (in the scenario's order) due now, in the
    order they apply."""
    due = [a for a in pending if is_due(a, steps_done, t_ms)]
    if due:
        pending[:] = [a for a in pending if not is_due(a, steps_done, t_ms)]
    # sorted() is stable: equal keys keep the scenario's order.
    return sorted(due, key=lambda a: due_order(a, t_ms))


def next_time_keyed_ms(pending: list[Action]) -> float | None:
    """The earliest at_ms still pending: a moment the engine must not skip or collapse past.
    Step-keyed actions need no such moment: they wait for the end of a step, which the
    engine reaches anyway."""
    times = [a.at_ms for a in pending if a.at_ms is not None]
    return min(times) if times else None


@dataclass
class InForce:
    """What the user's actions have set after a step: the parameters (JSON values, as in the
    scenario's `params`), whether the guest is paused, and the scenario's own parameters."""

    params: dict[str, Any]
    paused: bool
    base: dict[str, Any]
    applied: list[dict[str, Any]] = field(default_factory=list)


def params_after_step(scenario: Scenario, step: int, end_ms: float) -> InForce:
    """The parameters in force for the pass after step `step` (which ended at `end_ms`): the
    scenario's, changed by its actions due by then (the same rule as apply_actions; an action
    added after this step applies on top of these)."""
    base = scenario.params.model_dump(mode="json")
    current = dict(base)
    paused = False
    pending = list(scenario.actions)
    applied = take_due(pending, step + 1, end_ms)
    for action in applied:
        paused = paused or action.kind == "pause_guest"
        for key in PARAMETER_FIELDS:
            value = getattr(action, key)
            if value is not None:
                current[key] = value
    return InForce(
        params=current,
        paused=paused,
        base=base,
        applied=[a.model_dump(mode="json", exclude_none=True) for a in applied],
    )
