"""Engine work off the event loop: one pool of engine threads for runs, comparisons, branches,
imports and "Simulate this"; simulate and store in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import structlog
from anyio.lowlevel import RunVar
from sqlalchemy import Engine

from app.engine.scenario import Scenario
from app.engine.simulation import Simulation
from app.engine.trace import Trace
from app.settings import Settings
from app.store.runs import save_traces

log = structlog.get_logger("migscope.store")


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
