"""Exports of a stored run: steps as CSV, the whole trace as JSON, Perfetto trace events.

Each is written row by row from the database by a worker process (export_stream.py), so a
huge run costs neither the web process's memory nor its event loop."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from app.engine.trace import DeviceStep, Step, Trace
from app.settings import Settings

from .. import urls as paths
from ..deps import STORED_RUN_CACHE_CONTROL, RunDep, SettingsDep
from ..workers import get_pool
from .export_stream import export_job
from .models import ERROR_RESPONSES, NON_JSON_ERROR_RESPONSES

router = APIRouter(tags=["exports"], responses=ERROR_RESPONSES)


_NESTED = {"devices", "gates", "decision"}
STEP_COLUMNS = [name for name in Step.model_fields if name not in _NESTED]
DEVICE_COLUMNS = [name for name in DeviceStep.model_fields if name != "name"]


class CsvResponse(Response):
    media_type = "text/csv"


class PerfettoTrace(BaseModel):
    """Chrome Trace Event format, JSON object form."""

    traceEvents: list[dict[str, Any]] = Field(
        description="M, X, C and i events; ts in microseconds"
    )
    displayTimeUnit: str
    otherData: dict[str, Any]


def _attachment(run_id: str, suffix: str) -> dict[str, str]:
    # Run ids are URL-safe base64, so they are safe inside the quoted file name.
    return {
        "Content-Disposition": f'attachment; filename="migscope-{run_id}{suffix}"',
        "Cache-Control": STORED_RUN_CACHE_CONTROL,
    }


def _cell(value: Any) -> Any:
    return "" if value is None else value


def csv_header(devices: list[str]) -> list[str]:
    header = [
        *STEP_COLUMNS,
        "decision_code",
        "decision_reason",
        "decision_qemu_function",
        "gates_held",
    ]
    return header + [f"{device}.{column}" for device in devices for column in DEVICE_COLUMNS]


def csv_row(step: Step, devices: list[str]) -> list[Any]:
    by_name = {figures.name: figures for figures in step.devices}
    row = [_cell(getattr(step, column)) for column in STEP_COLUMNS]
    row += [step.decision.code, step.decision.reason, step.decision.qemu_function]
    row.append(";".join(gate.name for gate in step.gates if not gate.open))
    for name in devices:
        found = by_name.get(name)
        row += [_cell(getattr(found, column)) if found else "" for column in DEVICE_COLUMNS]
    return row


def steps_csv(steps: list[Step]) -> str:
    """One row per step; per-device figures as `<device>.<field>` columns."""
    devices: list[str] = []
    for step in steps:
        for device in step.devices:
            if device.name not in devices:
                devices.append(device.name)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(csv_header(devices))
    for step in steps:
        writer.writerow(csv_row(step, devices))
    return out.getvalue()


async def _streamed(
    settings: Settings, run_id: str, kind: str, media_type: str, suffix: str
) -> FileResponse:
    """The export, written row by row from the database by a worker process into a temporary
    file (bounded memory everywhere), then sent in chunks and deleted."""
    handle, path = tempfile.mkstemp(prefix="migscope-export-", suffix=suffix)
    os.close(handle)
    try:
        await get_pool(settings).run(export_job, settings.database_url, run_id, kind, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise
    return FileResponse(
        path,
        media_type=media_type,
        headers=_attachment(run_id, suffix),
        background=BackgroundTask(_unlink, path),
    )


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


@router.get(
    paths.EXPORT_CSV_PATH,
    response_model=str,
    response_class=CsvResponse,
    responses=NON_JSON_ERROR_RESPONSES,
)
async def export_csv(run: RunDep, settings: SettingsDep) -> Response:
    """The run's steps as CSV, one row per step and columns per device."""
    return await _streamed(settings, run.id, "csv", "text/csv; charset=utf-8", ".csv")


@router.get(paths.EXPORT_JSON_PATH, response_model=Trace)
async def export_json(run: RunDep, settings: SettingsDep) -> Response:
    """The whole trace as JSON: self-describing, and accepted back by Trace.from_json."""
    return await _streamed(settings, run.id, "json", "application/json", ".json")


@router.get(paths.EXPORT_PERFETTO_PATH, response_model=PerfettoTrace)
async def export_perfetto(run: RunDep, settings: SettingsDep) -> Response:
    """Chrome Trace Event JSON for ui.perfetto.dev or chrome://tracing."""
    return await _streamed(settings, run.id, "perfetto", "application/json", ".perfetto.json")
