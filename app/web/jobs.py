"""The jobs worker processes run (app.web.workers): simulate and store, import and store,
branch, export. Top-level functions with picklable arguments; each opens the database by URL
(one engine per URL and process) and answers small results, never a whole trace.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import Engine

from app.engine.scenario import Scenario
from app.engine.trace import Summary, Trace
from app.store.access import prune
from app.store.db import make_engine
from app.store.runs import TraceTooLarge, save_traces

from .budgets import Budget, simulate_within

log = structlog.get_logger("migscope.store")
_ENGINES: dict[str, Engine] = {}


def engine_for(database_url: str) -> Engine:
    engine = _ENGINES.get(database_url)
    if engine is None:
        engine = _ENGINES[database_url] = make_engine(database_url)
    return engine


@dataclass(frozen=True)
class StoredRun:
    """What a request needs to answer about a run a worker stored."""

    id: str
    title: str
    status: str
    step_count: int
    summary: Summary


@dataclass(frozen=True)
class Storage:
    """How a job stores: the database, the run's visibility, retention."""

    database_url: str
    visibility: str | None = None
    max_stored_bytes: int = 0


def store(storage: Storage, traces: list[Trace], max_steps: int) -> list[StoredRun]:
    engine = engine_for(storage.database_url)
    ids = save_traces(engine, traces, max_steps=max_steps, visibility=storage.visibility)
    for run_id, trace in zip(ids, traces, strict=True):
        log.info("run stored", run_id=run_id, steps=len(trace.steps), status=trace.summary.status)
    prune(engine, storage.max_stored_bytes)
    return [
        StoredRun(run_id, trace.title, trace.summary.status, len(trace.steps), trace.summary)
        for run_id, trace in zip(ids, traces, strict=True)
    ]


def simulate_and_store_job(
    storage: Storage, scenarios: list[Scenario], budget: Budget
) -> list[StoredRun]:
    """Run every scenario within the budget, then store all of them (seen all or none)."""
    traces = [simulate_within(scenario, budget) for scenario in scenarios]
    return store(storage, traces, budget.max_steps)


@dataclass(frozen=True)
class ImportOutcome:
    run: StoredRun | None
    info: dict[str, Any] | None = None
    notes: list[str] | None = None
    error: dict[str, Any] | None = None  # {"kind": "import_error" | "too_large", ...}


def import_and_store_job(
    storage: Storage,
    files: dict[str, Any],
    title: str | None,
    clock_offset_ms: float | None,
    budget: Budget,
) -> ImportOutcome:
    """Parse uploaded logs and store the run; errors come back as data (they name the file)."""
    from app.importers import ImportFileError, import_files

    try:
        trace = import_files(**files, title=title, clock_offset_ms=clock_offset_ms)
    except ImportFileError as error:
        return ImportOutcome(
            None,
            error={
                "kind": "import_error",
                "file": error.file,
                "line": error.line,
                "expected": error.expected,
                "message": error.message(),
            },
        )
    size = len(trace.to_json())
    if size > budget.max_stored_bytes:
        return ImportOutcome(
            None,
            error={
                "kind": "too_large",
                "message": (
                    f"the imported run would store about {size / 2**20:.1f} MiB; the budget is "
                    f"{budget.max_stored_bytes / 2**20:.0f} MiB per run"
                ),
            },
        )
    try:
        [stored] = store(storage, [trace], budget.max_steps)
    except TraceTooLarge as error:
        return ImportOutcome(None, error={"kind": "too_large", "message": str(error)})
    return ImportOutcome(stored, info=trace.import_info or {}, notes=list(trace.notes))


def branch_job(
    storage: Storage,
    parent: Any,
    parent_scenario: Scenario,
    step_index: int,
    step_end_ms: float,
    action: dict[str, Any],
    budget: Budget,
) -> tuple[StoredRun, Scenario]:
    """Replay the parent to step n for its exact end time, run the branch, store it."""
    from .api.branch import branch_scenario, exact_end_ms

    at_ms = exact_end_ms(parent_scenario, step_index, budget.max_steps)
    scenario = branch_scenario(parent, step_index, step_end_ms if at_ms is None else at_ms, action)
    [stored] = simulate_and_store_job(storage, [scenario], budget)
    return stored, scenario


def export_job(database_url: str, run_id: str, kind: str, path: str) -> int:
    """Write an export of a stored run to `path`, row by row; returns its size in bytes."""
    from .api.export_stream import WRITERS

    engine = engine_for(database_url)
    try:
        with open(path, "w", encoding="utf-8", newline="") as out:
            WRITERS[kind](engine, run_id, out)
    except BaseException:
        os.unlink(path)
        raise
    return os.path.getsize(path)


def simulate_import_job(
    storage: Storage, run_id: str, budget: Budget
) -> tuple[StoredRun, dict[str, Any]]:
    """ "Simulate this": derive a scenario from a stored import, simulate and store it."""
    from sqlmodel import Session

    from app.importers import derive_scenario
    from app.store.runs import load_trace

    with Session(engine_for(storage.database_url)) as session:
        trace = load_trace(session, run_id)
    if trace is None:
        raise LookupError(run_id)
    derived = derive_scenario(trace)
    del trace
    scenario = Scenario.model_validate(derived["scenario"])
    [stored] = simulate_and_store_job(storage, [scenario], budget)
    return stored, derived
