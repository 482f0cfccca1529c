"""Turn a run request into a scenario, run the engine off the event loop, store the trace."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import structlog
from anyio.lowlevel import RunVar
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy import Engine

from app.engine.examples import EXAMPLES, load_example
from app.engine.scenario import Scenario
from app.engine.simulation import Simulation
from app.engine.trace import Trace
from app.settings import Settings
from app.store.runs import save_traces

from .api_errors import scenario_validation_error
from .api_models import ExampleRun

log = structlog.get_logger("migscope.store")


def example_names() -> list[str]:
    return sorted(EXAMPLES)


def _load_example(name: str) -> dict[str, Any]:
    if name not in EXAMPLES:
        known = ", ".join(example_names())
        raise RequestValidationError(
            [{"loc": ["body", "example"], "msg": f"unknown example {name!r}; known: {known}", "type": "value_error"}]
        )
    return load_example(name)


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Objects merge key by key; lists and plain values replace (a device list is replaced whole)."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def scenario_from_request(body: Scenario | ExampleRun) -> Scenario:
    if isinstance(body, Scenario):
        return body
    document = deep_merge(_load_example(body.example), body.overrides)
    try:
        return Scenario.model_validate(document)
    except ValidationError as error:
        # Paths are the scenario's own; they point into `overrides`, where the change was made.
        raise scenario_validation_error(error, ["body", "overrides"]) from None


def run_engine(scenario: Scenario, max_steps: int) -> Trace:
    """Run to the end; at the step limit the engine itself ends the run as cancelled, with
    the reason, so a migration that never converges is still stored and can be inspected."""
    return Simulation(scenario, max_steps=max_steps).run()


# Engine runs get their own threads, beyond AnyIO's default pool that serves the sync
# endpoints: many long runs at once then queue here instead of starving every read.
_ENGINE_LIMITER: RunVar[anyio.CapacityLimiter] = RunVar("migscope_engine_limiter")
T = TypeVar("T")


def engine_limiter(settings: Settings) -> anyio.CapacityLimiter:
    """The per-event-loop pool of engine threads: at most settings.max_concurrent_runs."""
    try:
        return _ENGINE_LIMITER.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(settings.max_concurrent_runs)
        _ENGINE_LIMITER.set(limiter)
        return limiter


async def off_loop(settings: Settings, func: Callable[..., T], *args: Any) -> T:
    """Run blocking engine work (simulate, store) in an engine thread, off the event loop."""
    return await anyio.to_thread.run_sync(func, *args, limiter=engine_limiter(settings))


async def simulate_and_store_off_loop(
    engine: Engine, scenarios: list[Scenario], settings: Settings
) -> list[tuple[str, Trace]]:
    """simulate_and_store in a worker thread, at most settings.max_concurrent_runs at once."""
    return await off_loop(settings, simulate_and_store, engine, scenarios, settings.max_steps_per_run)


def simulate_and_store(engine: Engine, scenarios: list[Scenario], max_steps: int) -> list[tuple[str, Trace]]:
    """Blocking: run every scenario, then store all their traces in one transaction."""
    traces = [run_engine(scenario, max_steps) for scenario in scenarios]
    ids = save_traces(engine, traces, max_steps=max_steps)
    for run_id, trace in zip(ids, traces, strict=True):
        log.info("run stored", run_id=run_id, steps=len(trace.steps), status=trace.summary.status)
    return list(zip(ids, traces, strict=True))
