"""The jobs worker processes run (app.web.workers): simulate and store, import and store,
branch, export. Top-level functions with picklable arguments; each opens the database by URL
(one engine per URL and process) and answers small results, never a whole trace.
"""

from __future__ import annotations

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
    every_pass: bool = False


@dataclass(frozen=True)
class Storage:
    """How a job stores: the database, the run's visibility, retention."""

    database_url: str
    visibility: str | None = None
    max_stored_bytes: int = 0


def store(
    storage: Storage,
    traces: list[Trace],
    max_steps: int,
    every_pass: bool = False,
    *,
    uploaded_file_name: str | None = None,
) -> list[StoredRun]:
    """Store the traces (all or none); `uploaded_file_name` marks them as a migscope trace
    uploaded back (origin `uploaded`), not made on this server."""
    engine = engine_for(storage.database_url)
    ids = save_traces(
        engine,
        traces,
        max_steps=max_steps,
        visibility=storage.visibility,
        every_pass=every_pass,
        uploaded_file_name=uploaded_file_name,
    )
    for run_id, trace in zip(ids, traces, strict=True):
        log.info("run stored", run_id=run_id, steps=len(trace.steps), status=trace.summary.status)
    prune(engine, storage.max_stored_bytes)
    return [
        StoredRun(
            run_id, trace.title, trace.summary.status, len(trace.steps), trace.summary, every_pass
        )
        for run_id, trace in zip(ids, traces, strict=True)
    ]


def simulate_and_store_job(
    storage: Storage, scenarios: list[Scenario], budget: Budget, every_pass: bool = False
) -> list[StoredRun]:
    """Run every scenario within the budget, then store all of them (seen all or none);
    `every_pass`: one step per pre-copy pass, not alike passes collapsed."""
    traces = [simulate_within(scenario, budget, every_pass=every_pass) for scenario in scenarios]
    return store(storage, traces, budget.max_steps, every_pass)


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


PROGRESS_EVERY_S = 0.5


def simulate_with_progress_job(
    storage: Storage,
    scenarios: list[Scenario],
    budget: Budget,
    progress_path: str,
    every_pass: bool = False,
) -> list[StoredRun]:
    """simulate_and_store_job that also writes its progress, as one JSON object, to
    `progress_path` (replaced atomically about every PROGRESS_EVERY_S) for the web process to
    relay (the New run page's progress stream)."""
    import json
    import os
    import time

    shown = 0.0

    def report(progress: dict[str, Any]) -> None:
        temporary = f"{progress_path}.tmp"
        with open(temporary, "w", encoding="utf-8") as out:
            json.dump(progress, out)
        os.replace(temporary, progress_path)

    traces = []
    for number, scenario in enumerate(scenarios, start=1):
        count = 0

        def on_step(step: Any, number: int = number, scenario: Scenario = scenario) -> None:
            nonlocal count, shown
            count += 1
            now = time.monotonic()
            if now - shown >= PROGRESS_EVERY_S:
                shown = now
                report(
                    {
                        "run": number,
                        "runs": len(scenarios),
                        "steps": count,
                        "t_ms": step.end_ms,
                        "max_time_ms": scenario.max_time_ms,
                    }
                )

        traces.append(simulate_within(scenario, budget, on_step, every_pass=every_pass))
    # Storing a long run takes a while: say so, rather than leave the last simulated time.
    report(
        {
            "run": len(scenarios),
            "runs": len(scenarios),
            "steps": sum(len(t.steps) for t in traces),
            "t_ms": traces[-1].summary.total_time_ms or 0.0,
            "max_time_ms": scenarios[-1].max_time_ms,
            "stage": "storing",
        }
    )
    return store(storage, traces, budget.max_steps, every_pass)
