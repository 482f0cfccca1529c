"""Importer endpoints: upload a real QEMU migration; "Simulate this" for an imported run.

POST /api/imports (multipart/form-data): file fields `src_trace`, `dst_trace`, `query_migrate`,
`src_events`, `dst_events`, `info_migrate` (any subset, at least one), text fields `title` and
`clock_offset_ms`. Limits (docs/importer.md): 20 MiB per file, 64 MiB in all. A file above
the limit is a 413, an unreadable one a 422; both name the form field, the file and (for
parse errors) the line and what was expected. Nothing is stored unless the import succeeds.

POST /api/runs/{run_id}/simulate-this: derive a scenario from an imported run, run the
engine, store the simulation, answer both ids and the comparison URL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.engine.scenario import Scenario
from app.importers import ImportFileError, InputFile, derive_scenario, import_files
from app.importers.limits import MAX_FILE_BYTES, MAX_TOTAL_BYTES
from app.store.runs import TraceTooLarge, save_trace, trace_from_run

from .. import urls as paths
from ..runner import off_loop, simulate_and_store_off_loop
from ..deps import EngineDep, RunDep, SessionDep, SettingsDep, UrlsDep

router = APIRouter(tags=["imports"])


class ImportCreated(BaseModel):
    id: str = Field(description="the stored run's id")
    title: str
    status: str
    step_count: int
    url: str = Field(description="the run's page")
    api_url: str
    simulate_this_url: str = Field(description="POST here to simulate the same settings")
    summary: dict[str, Any]
    clock: dict[str, Any] | None = Field(description="destination clock minus source clock, and how it was found")
    skipped_lines: int | None = Field(description="trace lines that were not QEMU migration lines")
    ignored_event_lines: int | None
    notes: list[str]


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
    return JSONResponse(status_code=status, content={"detail": [item], "message": f"{field}: {message}"})


async def _read_limited(upload: UploadFile) -> bytes | None:
    """The file's bytes, or None as soon as it passes MAX_FILE_BYTES (never read it all)."""
    parts: list[bytes] = []
    size = 0
    while chunk := await upload.read(_CHUNK):
        size += len(chunk)
        if size > MAX_FILE_BYTES:
            return None
        parts.append(chunk)
    return b"".join(parts)


def _import_and_store(engine: Any, files: dict[str, InputFile], title: str | None, offset_ms: float | None, max_steps: int) -> tuple[str, Any]:
    trace = import_files(**files, title=title, clock_offset_ms=offset_ms)  # type: ignore[arg-type]
    return save_trace(engine, trace, max_steps=max_steps), trace


@router.post(
    paths.API_IMPORTS_PATH,
    status_code=201,
    response_model=ImportCreated,
    summary="Import a real QEMU migration (trace logs, query-migrate, QMP events, info migrate)",
)
async def create_import(
    engine: EngineDep,
    settings: SettingsDep,
    urls: UrlsDep,
    src_trace: Annotated[UploadFile | None, File(description="source trace log (QEMU log backend)")] = None,
    dst_trace: Annotated[UploadFile | None, File(description="destination trace log")] = None,
    query_migrate: Annotated[UploadFile | None, File(description="query-migrate samples, one JSON object per line")] = None,
    src_events: Annotated[UploadFile | None, File(description="source QMP events, one per line")] = None,
    dst_events: Annotated[UploadFile | None, File(description="destination QMP events, one per line")] = None,
    info_migrate: Annotated[UploadFile | None, File(description="HMP `info migrate` text")] = None,
    title: Annotated[str | None, Form(max_length=200)] = None,
    clock_offset_ms: Annotated[float | None, Form(description="destination clock minus source clock, if known")] = None,
) -> JSONResponse:
    """Store a real QEMU migration from its logs (any subset of the files, at least one); answer
    the new run's id, URLs, summary and how the two hosts' clocks were aligned."""
    uploads = dict(zip(FIELDS, (src_trace, dst_trace, query_migrate, src_events, dst_events, info_migrate), strict=True))
    files: dict[str, InputFile] = {}
    by_name: dict[str, str] = {}
    total = 0
    for field, upload in uploads.items():
        # Browsers send an empty part with an empty file name for a file input left blank.
        if upload is None or not upload.filename:
            continue
        data = await _read_limited(upload)
        if data is None:
            return _field_error(413, field, f"{upload.filename}: larger than {MAX_FILE_BYTES // 2**20} MiB", "too_large")
        total += len(data)
        if total > MAX_TOTAL_BYTES:
            return _field_error(413, field, f"all files together pass {MAX_TOTAL_BYTES // 2**20} MiB", "too_large")
        name = upload.filename[:200]
        files[field] = InputFile(name, data)
        by_name.setdefault(name, field)
    if not files:
        return _field_error(422, "src_trace", "upload at least one file (a source trace log, query-migrate samples, QMP events or info migrate text)", "missing")
    try:
        run_id, trace = await off_loop(settings, _import_and_store, engine, files, title or None, clock_offset_ms, settings.max_steps_per_run)
    except ImportFileError as error:
        field = by_name.get(error.file, next(iter(files)))
        return _field_error(422, field, error.message(), "import_error", file=error.file, line=error.line, expected=error.expected)
    except TraceTooLarge as error:
        return _field_error(422, next(iter(files)), str(error), "too_many_steps")
    info = trace.import_info or {}
    body = {
        "id": run_id,
        "title": trace.title,
        "status": trace.summary.status,
        "step_count": len(trace.steps),
        "url": urls.run(run_id),
        "api_url": urls.api_run(run_id),
        "simulate_this_url": urls.api_simulate_this(run_id),
        "summary": trace.summary.model_dump(mode="json"),
        "clock": info.get("clock"),
        "skipped_lines": info.get("skipped_lines_total"),
        "ignored_event_lines": info.get("ignored_event_lines_total"),
        "notes": trace.notes,
    }
    return JSONResponse(status_code=201, content=body, headers={"Location": urls.api_run(run_id)})


@router.post(
    paths.API_SIMULATE_THIS_PATH,
    status_code=201,
    response_model=SimulationOfImport,
    summary="Simulate an imported run: derive a scenario, run the engine, store it, answer the comparison",
)
async def simulate_this(run: RunDep, session: SessionDep, engine: EngineDep, settings: SettingsDep, urls: UrlsDep) -> JSONResponse:
    """Derive a scenario from an imported run, simulate it, store the simulation, and answer both
    ids with the comparison page (real = a, simulated = b)."""
    trace = trace_from_run(session, run)
    if trace.source != "import":
        raise HTTPException(status_code=422, detail=f"run {run.id} is a simulation; \"Simulate this\" needs an imported run")
    derived = derive_scenario(trace)
    scenario = Scenario.model_validate(derived["scenario"])
    [(sim_id, sim_trace)] = await simulate_and_store_off_loop(engine, [scenario], settings)
    body = {
        "imported_id": run.id,
        "simulated_id": sim_id,
        "compare_url": urls.compare(run.id, sim_id),
        "imported_url": urls.run(run.id),
        "simulated_url": urls.run(sim_id),
        "scenario": derived["scenario"],
        "provenance": derived["provenance"],
        "simulated_summary": sim_trace.summary.model_dump(mode="json"),
    }
    return JSONResponse(status_code=201, content=body, headers={"Location": urls.api_run(sim_id)})
