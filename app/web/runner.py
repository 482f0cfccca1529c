"""Engine work off the event loop, in the worker-process pool (app.web.workers).

`run_and_store` (runs, comparisons, "Simulate this"), `import_and_store` and
`run_with_progress` each run one job of app.web.jobs in a worker process, within the budgets of
app.web.budgets; a full pool raises PoolBusy (503 with Retry-After). Branches and exports
submit jobs of their own to the same pool (app.web.api.branch submits
app.web.jobs.simulate_and_store_job; app.web.api.export_stream submits export_job).

`off_loop` and `simulate_and_store` are kept for callers that run their own blocking work in
a thread (sweep points); new code should submit a job to the pool instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
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
    PROGRESS_EVERY_S,
    ImportOutcome,
    Storage,
    StoredRun,
    import_and_store_job,
    simulate_and_store_job,
    simulate_import_job,
    simulate_with_progress_job,
)
from .workers import get_pool

T = TypeVar("T")


def storage(settings: Settings, visibility: str | None = None) -> Storage:
    return Storage(settings.database_url, visibility, settings.max_stored_bytes)


async def run_and_store(
    settings: Settings,
    scenarios: list[Scenario],
    visibility: str | None = None,
    every_pass: bool = False,
) -> list[StoredRun]:
    """Simulate every scenario within the run budget and store them all (seen all or none);
    `every_pass`: one step per pre-copy pass, not alike passes collapsed."""
    return await get_pool(settings).run(
        simulate_and_store_job,
        storage(settings, visibility),
        scenarios,
        Budget.from_settings(settings),
        every_pass,
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


async def simulate_import(
    settings: Settings, run_id: str, visibility: str | None = None
) -> tuple[StoredRun, dict[str, Any]]:
    return await get_pool(settings).run(
        simulate_import_job, storage(settings, visibility), run_id, Budget.from_settings(settings)
    )


def run_with_progress(
    settings: Settings,
    scenarios: list[Scenario],
    visibility: str | None = None,
    every_pass: bool = False,
) -> AsyncIterator[dict[str, Any]]:
    """Start run_and_store in a worker process now (PoolBusy at once when the pool is full) and
    return an iterator of {"progress": {...}} about every half second, then {"done": [StoredRun]}."""
    handle, path = tempfile.mkstemp(prefix="migscope-progress-", suffix=".json")
    os.close(handle)
    try:
        future = get_pool(settings).submit(
            simulate_with_progress_job,
            storage(settings, visibility),
            scenarios,
            Budget.from_settings(settings),
            path,
            every_pass,
        )
    except BaseException:
        os.unlink(path)
        raise
    return _progress(future, path)


async def _progress(future: Future[list[StoredRun]], path: str) -> AsyncIterator[dict[str, Any]]:
    try:
        waiting = asyncio.wrap_future(future)
        last = ""
        while True:
            done, _ = await asyncio.wait({waiting}, timeout=PROGRESS_EVERY_S)
            try:
                with open(path, encoding="utf-8") as progress:
                    text = progress.read()
            except OSError:
                text = ""
            if text and text != last:
                last = text
                yield {"progress": json.loads(text)}
            if done:
                yield {"done": waiting.result()}
                return
    finally:
        for leftover in (path, f"{path}.tmp"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)


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
