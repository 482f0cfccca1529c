"""Importer endpoints: upload a real QEMU migration; "Simulate this" for an imported run.

POST /api/imports (multipart/form-data): file fields `src_trace`, `dst_trace`, `query_migrate`,
`src_events`, `dst_events`, `info_migrate` (any subset, at least one), text fields `title` and
`clock_offset_ms`. Limits (docs/importer.md): 20 MiB per file, 64 MiB in all. A file above
the limit is a 413, an unreadable one a 422; both name the form field, the file and (for
parse errors) the line and what was expected. Nothing is stored unless the import succeeds.

The same endpoint takes a migscope trace back (file field `migscope_trace`: a run's
`export.json`, uploaded alone): validated with the engine's Trace model and stored as it is,
so the new run re-exports to the same bytes (app/web/trace_import.py). Limit: 64 MiB, and at
most the stored-bytes budget per run.

POST /api/runs/{run_id}/simulate-this: derive a scenario from an imported run, run the
engine, store the simulation, answer both ids and the comparison URL.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.engine.units import format_bytes
from app.importers import InputFile
from app.importers.limits import (
    MAX_FILE_BYTES,
    MAX_TOTAL_BYTES,
    MAX_TRACE_FILE_BYTES,
    trace_file_limit_bytes,
)

from .. import urls as paths
from ..budgets import Budget
from ..deps import RunDep, SettingsDep, UrlsDep
from ..jobs import StoredRun
from ..runner import import_and_store, simulate_import, storage
from ..trace_import import import_trace_job
from ..urls import Urls
from ..workers import get_pool
from .models import ERROR_RESPONSES

router = APIRouter(tags=["imports"], responses=ERROR_RESPONSES)


class ImportCreated(BaseModel):
    id: str = Field(description="the stored run's id")
    title: str
    status: str
    step_count: int
    url: str = Field(description="the run's page")
    api_url: str
    simulate_this_url: str | None = Field(
        description="POST here to simulate the same settings (null for an uploaded trace of a "
        "simulation: it has its scenario)"
    )
    summary: dict[str, Any]
    clock: dict[str, Any] | None = Field(
        description="destination clock minus source clock, and how it was found"
    )
    skipped_lines: int | None = Field(description="trace lines that were not QEMU migration lines")
    ignored_event_lines: int | None
    notes: list[str]
    every_pass: bool = Field(
        default=False, description="no step stands for more than one pre-copy pass"
    )
    trace: dict[str, Any] | None = Field(
        default=None,
        description="an uploaded migscope trace: its format, format_version, engine_version and "
        "source, and whether the file is exactly its canonical export (`canonical`: then the "
        "run's export.json is the same bytes)",
    )


class SimulationOfImport(BaseModel):
    imported_id: str
    simulated_id: str
    compare_url: str = Field(description="the comparison page: real (a) against simulated (b)")
    imported_url: str
    simulated_url: str
    scenario: dict[str, Any] = Field(description="the scenario derived from the logs")
    provenance: dict[str, Any] = Field(description="where each derived value came from")
    simulated_summary: dict[str, Any]


FIELDS = ("src_trace", "dst_trace", "query_migrate", "src_events", "dst_events", "info_migrate")
_CHUNK = 1024 * 1024


def _field_error(status: int, field: str, message: str, kind: str, **extra: Any) -> JSONResponse:
    item = {"loc": ["body", field], "msg": message, "type": kind, **extra}
    return JSONResponse(
        status_code=status, content={"detail": [item], "message": f"{field}: {message}"}
    )


async def _read_limited(upload: UploadFile, limit_bytes: int = MAX_FILE_BYTES) -> bytes | None:
    """The file's bytes, or None as soon as it passes `limit_bytes` (never read it all)."""
    parts: list[bytes] = []
    size = 0
    while chunk := await upload.read(_CHUNK):
        size += len(chunk)
        if size > limit_bytes:
            return None
        parts.append(chunk)
    return b"".join(parts)


# Control characters other than tab (a NUL cannot even be stored in PostgreSQL text).
NO_CONTROL_CHARACTERS = r"^[^\x00-\x08\x0a-\x1f\x7f]*$"
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
MAX_CLOCK_OFFSET_MS = 86_400_000.0


@router.post(
    paths.API_IMPORTS_PATH,
    status_code=201,
    response_model=ImportCreated,
    summary="Import a real QEMU migration (trace logs, query-migrate, QMP events, info migrate)",
)
async def create_import(
    settings: SettingsDep,
    urls: UrlsDep,
    src_trace: Annotated[
        UploadFile | None, File(description="source trace log (QEMU log backend)")
    ] = None,
    dst_trace: Annotated[UploadFile | None, File(description="destination trace log")] = None,
    query_migrate: Annotated[
        UploadFile | None, File(description="query-migrate samples, one JSON object per line")
    ] = None,
    src_events: Annotated[
        UploadFile | None, File(description="source QMP events, one per line")
    ] = None,
    dst_events: Annotated[
        UploadFile | None, File(description="destination QMP events, one per line")
    ] = None,
    info_migrate: Annotated[UploadFile | None, File(description="HMP `info migrate` text")] = None,
    migscope_trace: Annotated[
        UploadFile | None,
        File(
            description="a migscope trace (a run's export.json), uploaded alone: stored as it is "
            "(the same steps, events and summary; an unmodified export re-exports byte for byte)"
        ),
    ] = None,
    title: Annotated[str | None, Form(max_length=200, pattern=NO_CONTROL_CHARACTERS)] = None,
    clock_offset_ms: Annotated[
        float | None,
        Form(
            description="destination clock minus source clock, if known (ms, at most a day either way)",
            ge=-MAX_CLOCK_OFFSET_MS,
            le=MAX_CLOCK_OFFSET_MS,
            allow_inf_nan=False,
        ),
    ] = None,
    visibility: Annotated[
        Literal["listed", "unlisted"] | None,
        Form(description="unlisted (default for imports: only its link opens it) or listed"),
    ] = None,
) -> JSONResponse:
    """Store a real QEMU migration from its logs (any subset of the files, at least one); answer
    the new run's id, URLs, summary and how the two hosts' clocks were aligned. Or, with
    `migscope_trace` alone, store a run exported by a migscope (its export.json) as it is."""
    if migscope_trace is not None and migscope_trace.filename:
        given = [
            name
            for name, value in (
                *zip(
                    FIELDS,
                    (src_trace, dst_trace, query_migrate, src_events, dst_events, info_migrate),
                    strict=True,
                ),
                ("title", title),
                ("clock_offset_ms", clock_offset_ms),
            )
            if value is not None
            and (not isinstance(value, UploadFile) or value.filename)
            and value != ""
        ]
        if given:
            return _field_error(
                422,
                given[0],
                "a migscope trace is uploaded alone: it carries its own title and timing "
                f"(leave {', '.join(given)} empty, or import QEMU logs without the trace)",
                "trace_alone",
            )
        return await _import_trace(settings, urls, migscope_trace, visibility)
    uploads = dict(
        zip(
            FIELDS,
            (src_trace, dst_trace, query_migrate, src_events, dst_events, info_migrate),
            strict=True,
        )
    )
    files: dict[str, InputFile] = {}
    by_name: dict[str, str] = {}
    total = 0
    for field, upload in uploads.items():
        # Browsers send an empty part with an empty file name for a file input left blank.
        if upload is None or not upload.filename:
            continue
        data = await _read_limited(upload)
        if data is None:
            return _field_error(
                413,
                field,
                f"{upload.filename}: larger than {MAX_FILE_BYTES // 2**20} MiB",
                "too_large",
            )
        total += len(data)
        if total > MAX_TOTAL_BYTES:
            return _field_error(
                413, field, f"all files together pass {MAX_TOTAL_BYTES // 2**20} MiB", "too_large"
            )
        # The name is only shown: control characters (a NUL breaks PostgreSQL text) become "?".
        name = _CONTROL.sub("?", upload.filename[:200])
        files[field] = InputFile(name, data)
        by_name.setdefault(name, field)
    if not files:
        return _field_error(
            422,
            "src_trace",
            "upload at least one file (a source trace log, query-migrate samples, QMP events or info migrate text)",
            "missing",
        )
    outcome = await import_and_store(settings, files, title or None, clock_offset_ms, visibility)
    if outcome.error is not None:
        error = outcome.error
        if error["kind"] == "import_error":
            field = by_name.get(error["file"], next(iter(files)))
            return _field_error(
                422,
                field,
                error["message"],
                "import_error",
                file=error["file"],
                line=error["line"],
                expected=error["expected"],
            )
        return _field_error(422, next(iter(files)), error["message"], "too_large")
    assert outcome.run is not None
    return _created(urls, outcome.run, outcome.info, outcome.notes, simulate_this=True)


@router.post(
    paths.API_SIMULATE_THIS_PATH,
    status_code=201,
    response_model=SimulationOfImport,
    summary="Simulate an imported run: derive a scenario, run the engine, store it, answer the comparison",
)
async def simulate_this(run: RunDep, settings: SettingsDep, urls: UrlsDep) -> JSONResponse:
    """Derive a scenario from an imported run, simulate it, store the simulation, and answer both
    ids with the comparison page (real = a, simulated = b)."""
    if run.source != "import":
        raise HTTPException(
            status_code=422,
            detail=f'run {run.id} is a simulation; "Simulate this" needs an imported run',
        )
    # Reading the imported trace, deriving and simulating all happen in a worker process.
    # Real hosts' logs stay as visible as the import was.
    sim, derived = await simulate_import(settings, run.id, run.visibility)
    body = {
        "imported_id": run.id,
        "simulated_id": sim.id,
        "compare_url": urls.compare(run.id, sim.id),
        "imported_url": urls.run(run.id),
        "simulated_url": urls.run(sim.id),
        "scenario": derived["scenario"],
        "provenance": derived["provenance"],
        "simulated_summary": sim.summary.model_dump(mode="json"),
    }
    return JSONResponse(status_code=201, content=body, headers={"Location": urls.api_run(sim.id)})


async def _import_trace(
    settings: SettingsDep, urls: UrlsDep, upload: UploadFile, visibility: str | None
) -> JSONResponse:
    """Store an uploaded migscope trace as a new run (unlisted unless asked otherwise)."""
    field = "migscope_trace"
    limit_bytes = trace_file_limit_bytes(settings.max_run_stored_bytes)
    data = await _read_limited(upload, limit_bytes)
    name = _CONTROL.sub("?", (upload.filename or "")[:200])
    if data is None:
        return _field_error(
            413,
            field,
            f"{name}: larger than {limit_bytes:,} bytes ({format_bytes(limit_bytes)}: a migscope "
            f"trace may have {format_bytes(MAX_TRACE_FILE_BYTES)}, and at most the stored-bytes "
            "budget per run)",
            "too_large",
        )
    # Parsing and storing run in a worker process, as a QEMU-log import does.
    outcome = await get_pool(settings).run(
        import_trace_job,
        storage(settings, visibility or "unlisted"),
        name,
        data,
        Budget.from_settings(settings),
    )
    del data
    if outcome.error is not None:
        error = outcome.error
        items = [
            {"loc": ["body", field], "file": name, **problem} for problem in error["problems"]
        ] or [{"loc": ["body", field], "msg": error["message"], "type": "invalid", "file": name}]
        return JSONResponse(
            status_code=error["status"],
            content={"detail": items, "message": f"{field}: {error['message']}"},
        )
    stored = outcome.run
    assert stored is not None and outcome.origin is not None
    # An uploaded import answers what its first import did (from its import_info).
    return _created(
        urls,
        stored,
        outcome.info,
        outcome.notes,
        simulate_this=outcome.origin["source"] == "import",
        every_pass=stored.every_pass,
        trace=outcome.origin,
    )


def _created(
    urls: Urls,
    stored: StoredRun,
    info: dict[str, Any] | None,
    notes: list[str] | None,
    *,
    simulate_this: bool,
    **extra: Any,
) -> JSONResponse:
    """The 201 of a stored import: the run, its links and what the import said (`info` is the
    run's import_info: an uploaded trace's may hold anything, so only well-typed values)."""
    run_id = stored.id
    info = info or {}
    clock = info.get("clock")
    body = {
        "id": run_id,
        "title": stored.title,
        "status": stored.status,
        "step_count": stored.step_count,
        "url": urls.run(run_id),
        "api_url": urls.api_run(run_id),
        "simulate_this_url": urls.api_simulate_this(run_id) if simulate_this else None,
        "summary": stored.summary.model_dump(mode="json"),
        "clock": clock if isinstance(clock, dict) else None,
        "skipped_lines": _count(info.get("skipped_lines_total")),
        "ignored_event_lines": _count(info.get("ignored_event_lines_total")),
        "notes": notes or [],
        **extra,
    }
    return JSONResponse(status_code=201, content=body, headers={"Location": urls.api_run(run_id)})


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
