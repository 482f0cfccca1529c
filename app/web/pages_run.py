"""The run page: `/runs/{id}` and `/runs/{id}?step=N`, its JSON twin, the step-panel fragment and
the chart series of a visible time range."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlmodel import Session, col

from app.store.models import StepRow
from app.store.runs import get_run, load_events, load_step
from app.web import charts, series
from app.web.api_branch import branch_panel
from app.web.explain import explain_step
from app.web.pages_common import absolute, db_session, not_found, render, strip_json, urls_for
from app.web.urls import RUN_CHART_SERIES_PATH, RUN_PAGE_PATH, RUN_STEP_PAGE_PATH

router = APIRouter(include_in_schema=False)

# Events drawn on the charts. bitmap_sync and window happen every pass and are drawn as series
# (dirty-sync count, bandwidth); every other event is drawn, none is dropped.
CHART_EVENT_KINDS = [
    "status", "open_return_path", "ping", "pong", "init_data_sent", "init_data_loaded", "ack_needed", "approve",
    "ack_sent", "ack_received", "switchover_permitted", "switchover_decided", "vm_stop", "vm_start",
    "device_state", "shut_sent", "shut_received", "reinit", "error",
]
MAX_POINTS = 1500
# A run without any stored step (it failed before its first pass) still gets a page.
EMPTY_STEP: dict[str, Any] = {
    "index": 0, "t_ms": 0.0, "end_ms": 0.0, "phase": None, "phase_title": "No step was recorded",
    "happened": [], "gates": [], "holding": "This run recorded no step.", "decision": {},
    "facts": [{"label": "time", "value": "no time recorded"}], "devices": [], "provenance": None,
}


def run_series(session: Session, run_id: str, from_ms: float | None, to_ms: float | None) -> dict[str, Any]:
    """Chart series for a time range, downsampled on the server (MinMaxLTTB, app.web.series).

    Only the charted numbers are read, extracted from the stored step JSON by the database (one
    range scan of (run_id, end_ms)): a 100,000-step run loads in well under a second.
    """
    first = load_step(session, run_id, 0)
    names = [d.name for d in first.devices] if first is not None else []
    data: Any = col(StepRow.data)  # a JSON column: the database extracts the numbers
    end_ms = col(StepRow.end_ms)
    cols = [end_ms] + [data[f].as_float() for f in charts.RUN_FIELDS]
    for position in range(len(names)):
        cols += [data[("devices", position, f)].as_float() for f in charts.DEVICE_FIELDS]
    query = select(*cols).where(col(StepRow.run_id) == run_id)
    if from_ms is not None:
        query = query.where(end_ms >= from_ms)
    if to_ms is not None:
        query = query.where(end_ms <= to_ms)
    rows = session.execute(query.order_by(end_ms, col(StepRow.index))).all()
    table = np.array([tuple(row) for row in rows], dtype=np.float64).reshape(len(rows), len(cols))  # None -> NaN

    def column(k: int) -> dict[str, list[float]]:
        x, y = table[:, 0], table[:, k]
        known = ~np.isnan(y)
        x, y = x[known], y[known]
        keep = series.downsample_indices(x, y, MAX_POINTS)
        return {"x_ms": x[keep].tolist(), "y": y[keep].tolist()}

    out: dict[str, Any] = {"fields": {}, "devices": {}}
    for k, field in enumerate(charts.RUN_FIELDS, start=1):
        out["fields"][field] = column(k)
    base = 1 + len(charts.RUN_FIELDS)
    for position, name in enumerate(names):
        out["devices"][name] = {
            field: column(base + position * len(charts.DEVICE_FIELDS) + k) for k, field in enumerate(charts.DEVICE_FIELDS)
        }
    return out


def run_public(run: Any) -> dict[str, Any]:
    summary = dict(run.summary)
    return {
        "id": run.id,
        "title": run.title,
        "description": run.description,
        "source": run.source,
        "engine_version": run.engine_version,
        "qemu_profile": run.qemu_profile,
        "created_at": run.created_at.isoformat(timespec="seconds") if run.created_at else None,
        "status": run.status,
        "step_count": run.step_count,
        "event_count": run.event_count,
        "scenario": run.scenario,
        "summary": summary,
        "notes": list(run.notes or []),
        "import_info": run.import_info,
    }


def figures_for(
    session: Session, run: Any, events: list[Any], cursor_ms: float | None, x_range: list[float] | None = None,
    *, label: str = "this run",
) -> dict[str, Any]:
    series = run_series(session, run.id, None, None)
    summary = dict(run.summary)
    x_range = x_range or _lane_range(summary)
    return {
        "devices": charts.device_chart(series, events, cursor_ms=cursor_ms, x_range=x_range),
        "ram": charts.ram_chart(series, events, cursor_ms=cursor_ms, x_range=x_range),
        "lane": charts.lane_chart(events, cursor_ms=cursor_ms, x_range=x_range),
        "downtime": charts.downtime_chart([(label, summary)]),
    }


def _lane_range(summary: dict[str, Any]) -> list[float] | None:
    """Every time chart spans the migration, on one axis (imported logs may hold events from
    before `migrate`: they stay in the data, a zoom-out shows them)."""
    total = summary.get("total_time_ms")
    return [0.0, total * 1.02] if total else None


def clamp_step(step: int | None, count: int) -> int:
    if step is None or count <= 0:
        return 0
    return max(0, min(count - 1, step))


@router.get(RUN_PAGE_PATH)
def read_run_page(request: Request, run_id: str, step: int | None = Query(default=None)) -> Response:
    """A stored run: charts, step controls, explanation, summary (JSON twin with `.json`)."""
    run_id, suffix = strip_json(run_id)
    urls = urls_for(request)
    with db_session(request) as session:
        run = get_run(session, run_id)
        if run is None:
            return not_found(request, f"run {run_id}", suffix)
        index = clamp_step(step, run.step_count)
        current = load_step(session, run.id, index)
        step_events = load_events(session, run.id, step_from=index, step_to=index + 1)
        explained = explain_step(current, step_events) if current is not None else EMPTY_STEP
        if request.headers.get("hx-target") == "step-panel" and not suffix:
            return render(request, "run.html", {"step": explained, "run": run_public(run)}, twin=explained,
                          fragments={"step-panel": "step_panel"})
        events = load_events(session, run.id, kinds=CHART_EVENT_KINDS)
        cursor = current.end_ms if current is not None else None
        figures = figures_for(session, run, events, cursor)
    public = run_public(run)
    summary = public["summary"]
    over = (summary.get("downtime_ms") or 0) > (summary.get("downtime_limit_ms") or float("inf"))
    exports = {
        "csv": urls.export_csv(run.id),
        "json": urls.export_json(run.id),
        "perfetto": urls.export_perfetto(run.id),
    }
    share = absolute(request, urls.run_at(run.id, step=index))
    twin = {
        "run": public,
        "step": explained,
        "urls": {"page": share, "json": absolute(request, urls.run_at(run.id, step=index, json=True)), "exports": exports},
    }
    context = {
        "nav": "runs",
        "run": public,
        "step": explained,
        "figures": figures,
        "exports": exports,
        "share_url": share,
        "over_limit": over,
        "json_url": urls.run_at(run.id, step=index, json=True),
        "series_url": urls.run_chart_series(run.id),
        "simulate_this_url": urls.api_simulate_this(run.id),
        "branch": branch_panel(run, current, urls),
        "chart_notes": {
            "devices": "Solid: initial bytes left at the source. Dashed: initial bytes loaded at the destination. "
            "Dotted: dirty bytes. The grey band is the downtime (VM stop to VM start).",
        },
    }
    return render(request, "run.html", context, twin=twin, json_suffix=suffix,
                  fragments={"step-panel": "step_panel"})


@router.get(RUN_CHART_SERIES_PATH)
def read_run_series(
    request: Request, run_id: str, from_ms: float | None = None, to_ms: float | None = None
) -> Response:
    """Chart data for the visible time range (the charts re-ask on zoom); JSON only."""
    with db_session(request) as session:
        run = get_run(session, run_id)
        if run is None:
            return JSONResponse({"detail": {"message": f"run {run_id} was not found"}}, status_code=404)
        series = run_series(session, run.id, from_ms, to_ms)
        events = load_events(session, run.id, kinds=CHART_EVENT_KINDS)
    return JSONResponse(
        {
            "devices": {"data": charts.device_chart(series, events)["data"]},
            "ram": {"data": charts.ram_chart(series, events)["data"]},
        }
    )


@router.get(RUN_STEP_PAGE_PATH)
def read_run_step_page(request: Request, run_id: str, n: int) -> Response:
    """`/runs/{id}/steps/{n}` is the run page opened at step n."""
    return RedirectResponse(urls_for(request).run_at(run_id, step=n), status_code=307)
