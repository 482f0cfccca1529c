"""Storing an uploaded migscope trace (`POST /api/imports` field `migscope_trace`): the job a
worker process runs (app.web.workers), like app.web.jobs.import_and_store_job for QEMU logs.

The trace is stored as it is, so the new run's `export.json` is the uploaded file byte for
byte when that file is an unmodified export: same `source` (`simulation` or `import`), title,
scenario, summary, steps, events, notes and `import_info`. What only this server knows is kept
outside the trace: the run is unlisted unless asked otherwise (as every import),
`every_pass` is true when no step stands for more than one pre-copy pass, and the run's
`origin` is `uploaded` with the file's name (revision 0008_run_origin), so its page and JSON
say it was not made on this server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from app.importers.migscope_trace import TraceFileError, dotted, read_trace
from app.store.runs import TraceTooLarge

from .budgets import Budget
from .jobs import Storage, StoredRun, store

log = structlog.get_logger("migscope.store")


@dataclass(frozen=True)
class TraceImportOutcome:
    run: StoredRun | None
    # What the trace said about itself: format, format_version, engine_version, source, and
    # whether the upload is exactly the trace's canonical export (`canonical`).
    origin: dict[str, Any] | None = None
    # An uploaded import's own import_info and notes (what its first import answered).
    info: dict[str, Any] | None = None
    notes: list[str] | None = None
    # {"status": 413 | 422, "message", "problems": [{"msg", "type", "trace_loc", "line",
    # "column"}]}: picklable, for the route to answer.
    error: dict[str, Any] | None = None


def _problems(error: TraceFileError) -> list[dict[str, Any]]:
    return [
        {
            "msg": problem.text(error.file),
            "type": problem.kind,
            "trace_loc": problem.loc,
            "line": problem.line,
            "column": problem.column,
        }
        for problem in error.problems
    ]


def import_trace_job(
    storage: Storage, file: str, data: bytes, budget: Budget
) -> TraceImportOutcome:
    """Validate the uploaded trace and store it as a new run (all or nothing); problems come
    back as data naming the place in the file."""
    try:
        upload = read_trace(file, data)
    except TraceFileError as error:
        return TraceImportOutcome(
            None, error={"status": 422, "message": error.message(), "problems": _problems(error)}
        )
    trace = upload.trace
    if len(trace.steps) > budget.max_steps:
        loc: list[str | int] = ["steps"]
        message = (
            f"{file}: {dotted(loc)}: the run has {len(trace.steps)} steps; this server stores at "
            f"most {budget.max_steps} per run (MIGSCOPE_MAX_STEPS_PER_RUN)"
        )
        return TraceImportOutcome(
            None,
            error={
                "status": 422,
                "message": message,
                "problems": [{"msg": message, "type": "too_many_steps", "trace_loc": loc}],
            },
        )
    try:
        [stored] = store(
            storage, [trace], budget.max_steps, upload.every_pass, uploaded_file_name=file
        )
    except TraceTooLarge as error:  # checked above; kept for a store that counts differently
        return TraceImportOutcome(
            None, error={"status": 422, "message": str(error), "problems": []}
        )
    origin = {
        "format": trace.format,
        "format_version": trace.format_version,
        "engine_version": trace.engine_version,
        "source": trace.source,
        "canonical": upload.canonical,
    }
    log.info("migscope trace uploaded", run_id=stored.id, file=file, **origin)
    return TraceImportOutcome(stored, origin, trace.import_info, list(trace.notes))
