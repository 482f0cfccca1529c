"""Budgets: what one run, branch, import, sweep point or export may cost (docs/security.md).

Checked before any work where the request states it (a `max_time_ms` above the simulated-time
budget is a 422), then enforced while the engine runs: a simulation that reaches its step,
stored-bytes or CPU budget ends as cancelled, with the reason, through the engine's own
`cancel_at_limit` ending (the same one max_time_ms and the step limit use), so it is stored
whole and can be inspected; it is never cut off half-stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from app.engine.scenario import Scenario
from app.engine.simulation import Simulation
from app.engine.trace import Step, Trace
from app.settings import COLLAPSE_STORED_TRACES, Settings

MIB = 1024**2
# How often (in steps) the running costs are looked at: cheap, and a pass is short.
CHECK_EVERY_STEPS = 64
# Bytes a stored event costs, roughly (JSON plus its indexed columns).
EVENT_BYTES_ESTIMATE = 400
# Only at the end of a pre-copy pass may the run be ended: that is where the engine checks its
# own limits (the top of its loop), so the ending is one QEMU could have reached too.
_ENDABLE_PHASES = ("iterate",)


@dataclass(frozen=True)
class Budget:
    max_steps: int
    max_stored_bytes: int
    max_cpu_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Budget:
        return cls(
            settings.max_steps_per_run, settings.max_run_stored_bytes, settings.max_run_cpu_s
        )


class _Meter:
    """Running estimate of a simulation's stored bytes, and its CPU time."""

    def __init__(self) -> None:
        self.cpu_start = time.process_time()
        self.step_bytes = 0
        self.bytes_per_step = 0

    def add(self, simulation: Simulation, step_json_size: int | None) -> int:
        if step_json_size is not None:
            self.bytes_per_step = step_json_size + 64
        self.step_bytes += self.bytes_per_step
        events = int(getattr(simulation.log, "_seq", 0))
        return self.step_bytes + events * EVENT_BYTES_ESTIMATE

    def cpu_s(self) -> float:
        return time.process_time() - self.cpu_start


def over_budget_reason(budget: Budget, stored_bytes: int, cpu_s: float, t_ms: float) -> str | None:
    if stored_bytes > budget.max_stored_bytes:
        return (
            f"stored-bytes budget ({budget.max_stored_bytes / MIB:.0f} MiB per run) reached at "
            f"{t_ms:.0f} ms of simulated time"
        )
    if cpu_s > budget.max_cpu_s:
        return f"CPU budget ({budget.max_cpu_s:g} s per run) reached at {t_ms:.0f} ms of simulated time"
    return None


def simulate_within(
    scenario: Scenario,
    budget: Budget,
    on_step: Callable[[Step], None] | None = None,
    *,
    every_pass: bool = False,
) -> Trace:
    """Run the engine to the end, or until a budget is reached (then cancelled with the reason).
    `on_step` sees every step (progress reports). `every_pass` keeps one step per pre-copy pass
    (otherwise runs of alike passes are one step each): the same summary, more steps, so a
    never-converging run meets the step or stored-bytes budget sooner."""
    collapse = COLLAPSE_STORED_TRACES and not every_pass
    simulation = Simulation(scenario, max_steps=budget.max_steps, collapse=collapse)
    meter = _Meter()
    reason: str | None = None
    ending = False
    while (step := simulation.step()) is not None:
        if on_step is not None:
            on_step(step)
        if ending:
            continue
        sample = step.index % CHECK_EVERY_STEPS == 0 or meter.bytes_per_step == 0
        stored = meter.add(simulation, len(step.model_dump_json()) if sample else None)
        if sample and reason is None:
            reason = over_budget_reason(budget, stored, meter.cpu_s(), simulation.t)
        if reason is not None and step.phase in _ENDABLE_PHASES:
            # The engine's own ending for a limit (max_time_ms, step limit): devices back to
            # RUNNING, status cancelled, the reason in the summary and the last step.
            simulation._gen = simulation.cancel_at_limit(reason)  # noqa: SLF001
            ending = True
    return simulation.trace()


def check_before_start(scenario: Scenario, settings: Settings) -> None:
    """What can be known before any work: the simulated time asked for (422 naming the field)."""
    from fastapi.exceptions import RequestValidationError

    from .validation import human_limit

    if scenario.max_time_ms > settings.max_sim_time_ms:
        raise RequestValidationError(
            [
                {
                    "loc": ["body", "max_time_ms"],
                    "type": "less_than_equal",
                    "msg": f"at most {human_limit('max_time_ms', settings.max_sim_time_ms)} of "
                    "simulated time per run on this server (MIGSCOPE_MAX_SIM_TIME_MS); asked for "
                    f"{human_limit('max_time_ms', scenario.max_time_ms)}",
                }
            ]
        )
