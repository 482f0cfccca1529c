"""The sweep page: a heat map (2 fields), a line chart (1) or small multiples (3) of the
output the user picks, drawn in the browser from the points API; a cell opens its point."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from app.sweeps.limits import MAX_POINTS_API

from ..deps import EngineDep, SessionDep, SettingsDep, UrlsDep
from ..sweeps import SweepDep, open_point, sweep_out
from ..urls import SWEEP_JSON_PATH, SWEEP_PAGE_PATH, SWEEP_POINT_PAGE_PATH
from .render import render

router = APIRouter(include_in_schema=False)

# What the output picker offers: key in a point, label, unit.
OUTPUTS = [
    ("ack_saves_ms", "downtime saved by the ack (off minus on)", "ms"),
    ("downtime_ms", "downtime with the ack", "ms"),
    ("off_downtime_ms", "downtime without the ack", "ms"),
    ("converged", "converged (1) or not (0)", ""),
    ("total_time_ms", "total migration time", "ms"),
]


@router.get(SWEEP_PAGE_PATH)
@router.get(SWEEP_JSON_PATH)
def read_sweep_page(
    request: Request, sweep: SweepDep, settings: SettingsDep, urls: UrlsDep
) -> Response:
    out = sweep_out(sweep, urls, settings)
    outputs = (
        OUTPUTS
        if sweep.compare_ack
        else [
            ("downtime_ms", "downtime", "ms"),
            *(o for o in OUTPUTS if o[0] in ("converged", "total_time_ms")),
        ]
    )
    config = {
        "id": sweep.id,
        "status": out.status,
        "compare_ack": sweep.compare_ack,
        "axes": [a.model_dump() for a in out.axes],
        "points_url": urls.api_sweep_points(sweep.id, 0, MAX_POINTS_API),
        "events_url": urls.api_sweep_events(sweep.id),
        "sweep_url": urls.api_sweep(sweep.id),
        "point_url": urls.sweep_point(sweep.id, 0).removesuffix("0"),  # the script appends an index
        # ... and index + "/run" here, to POST {"every_pass": true} (new one-step-per-pass runs).
        "point_run_url_prefix": urls.api_sweep_point_run(sweep.id, 0).removesuffix("0/run"),
        "outputs": [{"key": k, "label": label, "unit": unit} for k, label, unit in outputs],
    }
    twin = {**out.model_dump(mode="json"), "outputs": config["outputs"]}
    return render(
        request,
        "sweep.html",
        {
            "nav": "runs",
            "sweep": out,
            "config": config,
            "json_url": urls.sweep(sweep.id, json=True),
            # The "Show every pass" box says where a never-converging point's runs then end.
            "max_steps_per_run": f"{settings.max_steps_per_run:,}",
        },
        twin=twin,
    )


@router.get(SWEEP_POINT_PAGE_PATH)
async def open_sweep_point(
    sweep: SweepDep,
    engine: EngineDep,
    session: SessionDep,
    settings: SettingsDep,
    urls: UrlsDep,
    index: Annotated[int, Path(ge=0, le=MAX_POINTS_API * 100)],
) -> RedirectResponse:
    """A point as stored runs (simulated on the first visit): its ack on/off comparison, or its run.

    Every visit opens the same (collapsed) runs: a GET stores nothing new beyond them. The
    sweep page's "Open points with every pass" box POSTs `{"every_pass": true}` to the point's
    API instead (new runs on each call)."""
    run_id, off_run_id = await open_point(engine, session, sweep, index, settings)
    target = urls.compare(run_id, off_run_id) if off_run_id else urls.run(run_id)
    return RedirectResponse(target, status_code=303)
