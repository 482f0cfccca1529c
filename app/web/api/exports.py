"""Exports of a stored run: steps as CSV, the whole trace as JSON, Perfetto trace events."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.engine.trace import DeviceStep, Step, Trace
from app.store.runs import trace_from_run

from .. import urls as paths
from .models import ERROR_RESPONSES, NON_JSON_ERROR_RESPONSES
from ..deps import STORED_RUN_CACHE_CONTROL, RunDep, SessionDep
from .perfetto import to_trace_events

router = APIRouter(tags=["exports"], responses=ERROR_RESPONSES)


_NESTED = {"devices", "gates", "decision"}
STEP_COLUMNS = [name for name in Step.model_fields if name not in _NESTED]
DEVICE_COLUMNS = [name for name in DeviceStep.model_fields if name != "name"]


class CsvResponse(Response):
    media_type = "text/csv"


class PerfettoTrace(BaseModel):
    """Chrome Trace Event format, JSON object form."""

    traceEvents: list[dict[str, Any]] = Field(description="M, X, C and i events; ts in microseconds")
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


def steps_csv(steps: list[Step]) -> str:
    """One row per step; per-device figures as `<device>.<field>` columns."""
    devices: list[str] = []
    for step in steps:
        for device in step.devices:
            if device.name not in devices:
                devices.append(device.name)
    header = [*STEP_COLUMNS, "decision_code", "decision_reason", "decision_qemu_function", "gates_held"]
    header += [f"{device}.{column}" for device in devices for column in DEVICE_COLUMNS]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for step in steps:
        by_name = {figures.name: figures for figures in step.devices}
        row = [_cell(getattr(step, column)) for column in STEP_COLUMNS]
        row += [step.decision.code, step.decision.reason, step.decision.qemu_function]
        row.append(";".join(gate.name for gate in step.gates if not gate.open))
        for name in devices:
            found = by_name.get(name)
            row += [_cell(getattr(found, column)) if found else "" for column in DEVICE_COLUMNS]
        writer.writerow(row)
    return out.getvalue()


@router.get(
    paths.EXPORT_CSV_PATH, response_model=str, response_class=CsvResponse, responses=NON_JSON_ERROR_RESPONSES
)
def export_csv(run: RunDep, session: SessionDep) -> Response:
    """The run's steps as CSV, one row per step and columns per device."""
    trace = trace_from_run(session, run)
    return CsvResponse(steps_csv(trace.steps), headers=_attachment(run.id, ".csv"))


@router.get(paths.EXPORT_JSON_PATH, response_model=Trace)
def export_json(run: RunDep, session: SessionDep) -> Response:
    """The whole trace as JSON: self-describing, and accepted back by Trace.from_json."""
    trace = trace_from_run(session, run)
    return Response(trace.to_json(), media_type="application/json", headers=_attachment(run.id, ".json"))


@router.get(paths.EXPORT_PERFETTO_PATH, response_model=PerfettoTrace)
def export_perfetto(run: RunDep, session: SessionDep) -> JSONResponse:
    """Chrome Trace Event JSON for ui.perfetto.dev or chrome://tracing."""
    trace = trace_from_run(session, run)
    return JSONResponse(to_trace_events(trace, run.id), headers=_attachment(run.id, ".perfetto.json"))
