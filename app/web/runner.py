"""Engine work off the event loop, in the worker-process pool (app.web.workers).

`run_and_store` (runs, comparisons, "Simulate this"), `import_and_store`, `branch_and_store`
and `export_to_file` each run one job of app.web.jobs in a worker process, within the budgets
of app.web.budgets; a full pool raises PoolBusy (503 with Retry-After).

`off_loop` and `simulate_and_store` are kept for callers that run their own blocking work in
a thread (sweep points); new code should submit a job to the pool instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from sqlalchemy import Engine

from app.engine.scenario import Scenario
from app.engine.trace import Trace
from app.settings import Settings
from app.store.runs import save_traces

from .budgets import Budget, simulate_within
from .jobs import (
    ImportOutcome,
    Storage,
    StoredRun,
    branch_job,
    export_job,
    import_and_store_job,
    simulate_and_store_job,
    simulate_import_job,
)
from .workers import get_pool

T = TypeVar("T")


def storage(settings: Settings, visibility: str | None = None) -> Storage:
    return Storage(settings.database_url, visibility, settings.max_stored_bytes)


async def run_and_store(
    settings: Settings, scenarios: list[Scenario], visibility: str | None = None
) -> list[StoredRun]:
    """Simulate every scenario within the run budget and store them all (seen all or none)."""
    return await get_pool(settings).run(
        simulate_and_store_job,
        storage(settings, visibility),
        scenarios,
        Budget.from_settings(settings),
    )


async def import_and_store(
    settings: Settings,
    files: dict[str, Any],
    title: str | None,
    clock_offset_ms: float | None,
    visibility: str | None = None,
) -> ImportOutcome:
    return await get_pool(settings).run(
        import_and_store_job,
        storage(settings, visibility),
        files,
        title,
        clock_offset_ms,
        Budget.from_settings(settings),
    )


async def branch_and_store(
    settings: Settings,
    parent: Any,
    parent_scenario: Scenario,
    step_index: int,
    step_end_ms: float,
    action: dict[str, Any],
    visibility: str | None = None,
) -> tuple[StoredRun, Scenario]:
    return await get_pool(settings).run(
        branch_job,
        storage(settings, visibility),
        parent,
        parent_scenario,
        step_index,
        step_end_ms,
        action,
        Budget.from_settings(settings),
    )


async def simulate_import(
    settings: Settings, run_id: str, visibility: str | None = None
) -> tuple[StoredRun, dict[str, Any]]:
    return await get_pool(settings).run(
        simulate_import_job, storage(settings, visibility), run_id, Budget.from_settings(settings)
    )


async def export_to_file(settings: Settings, run_id: str, kind: str, path: str) -> int:
    return await get_pool(settings).run(export_job, settings.database_url, run_id, kind, path)


# --- thread-based helpers kept for sweep points (see the module docstring) -----------------
_ENGINE_LIMITER: RunVar[anyio.CapacityLimiter] = RunVar("migscope_engine_limiter")


def engine_limiter(settings: Settings) -> anyio.CapacityLimiter:
    try:
        return _ENGINE_LIMITER.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(settings.max_concurrent_runs)
        _ENGINE_LIMITER.set(limiter)
        return limiter


async def off_loop(settings: Settings, func: Callable[..., T], *args: Any) -> T:
    """Run blocking work in a thread of a pool of max_concurrent_runs threads."""
    return await anyio.to_thread.run_sync(func, *args, limiter=engine_limiter(settings))


def simulate_and_store(
    engine: Engine, scenarios: list[Scenario], max_steps: int
) -> list[tuple[str, Trace]]:
    """Blocking: run every scenario (step budget only), then store them all."""
    budget = Budget(
        max_steps,
        Settings.model_fields["max_run_stored_bytes"].default,
        Settings.model_fields["max_run_cpu_s"].default,
    )
    traces = [simulate_within(scenario, budget) for scenario in scenarios]
    ids = save_traces(engine, traces, max_steps=max_steps)
    return list(zip(ids, traces, strict=True))
