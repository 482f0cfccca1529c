"""What the sweep API and the sweep page share: the sweep as answered (SweepOut), the sweep-or-404
dependency, and opening a point as stored runs (simulated on first use)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import Depends, HTTPException, Path
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Engine
from sqlmodel import Session

from app.engine.scenario import LIMITS, Scenario
from app.settings import Settings
from app.store.models import Sweep, SweepPoint
from app.store.sweeps import get_point, get_sweep, plan_of, set_point_runs
from app.sweeps.limits import MAX_POINTS_API, MAX_VARIED_FIELDS
from app.sweeps.point import INVALID, point_document
from app.sweeps.vary import shown

from .comparison import ack_pair
from .deps import SessionDep
from .runner import run_and_store
from .urls import Urls

SweepStatus = Literal["queued", "running", "completed", "cancelled", "failed"]


class SweepLimits(BaseModel):
    max_points: int = Field(description="points per sweep through the API")
    max_varied_fields: int
    max_steps_per_point: int = Field(
        description="engine steps per run of a point (a point reaching it ends as cancelled)"
    )
    max_time_ms: float = Field(
        description="simulated time per run of a point (the scenario's max_time_ms, at most this)"
    )


class SweepAxisOut(BaseModel):
    path: str
    kind: str = Field(description="bytes, rate, ms, number or integer")
    spec: str
    values: list[int | float]
    labels: list[str] = Field(description="the values as people read them (MiB, ms)")


class SweepLinks(BaseModel):
    self: str
    page: str
    points: str
    export_csv: str
    events: str
    cancel: str


class SweepOut(BaseModel):
    id: str
    title: str
    status: SweepStatus
    compare_ack: bool
    point_count: int
    done_count: int
    progress: float = Field(ge=0, le=1)
    axes: list[SweepAxisOut]
    created_at: datetime
    updated_at: datetime
    error: str | None
    limits: SweepLimits
    urls: SweepLinks


def sweep_or_404(
    sweep_id: Annotated[str, Path(max_length=64, description="the sweep's id")], session: SessionDep
) -> Sweep:
    sweep = get_sweep(session, sweep_id)
    if sweep is None:
        raise HTTPException(status_code=404, detail=f"no sweep with id {sweep_id!r}")
    return sweep


SweepDep = Annotated[Sweep, Depends(sweep_or_404)]


def limits_out(settings: Settings) -> SweepLimits:
    return SweepLimits(
        max_points=MAX_POINTS_API,
        max_varied_fields=MAX_VARIED_FIELDS,
        max_steps_per_point=settings.max_steps_per_run,
        max_time_ms=LIMITS["max_time_ms"],
    )


def sweep_out(sweep: Sweep, urls: Urls, settings: Settings) -> SweepOut:
    plan = plan_of(sweep)
    axes = [
        SweepAxisOut(
            path=a.path,
            kind=a.field.kind,
            spec=a.spec,
            values=list(a.values),
            labels=[shown(a.field, v, exact=False) for v in a.values],
        )
        for a in plan.axes
    ]
    return SweepOut(
        id=sweep.id,
        title=sweep.title,
        status=sweep.status,  # type: ignore[arg-type]
        compare_ack=sweep.compare_ack,
        point_count=sweep.point_count,
        done_count=sweep.done_count,
        progress=min(1.0, sweep.done_count / sweep.point_count) if sweep.point_count else 1.0,
        axes=axes,
        created_at=sweep.created_at,
        updated_at=sweep.updated_at,
        error=sweep.error,
        limits=limits_out(settings),
        urls=SweepLinks(
            self=urls.api_sweep(sweep.id),
            page=urls.sweep(sweep.id),
            points=urls.api_sweep_points(sweep.id),
            export_csv=urls.api_sweep_export_csv(sweep.id),
            events=urls.api_sweep_events(sweep.id),
            cancel=urls.api_sweep_cancel(sweep.id),
        ),
    )


def point_title(sweep: Sweep, values: list[Any]) -> str:
    plan = plan_of(sweep)
    where = ", ".join(
        f"{a.path}={shown(a.field, v, exact=False)}" for a, v in zip(plan.axes, values, strict=True)
    )
    return f"{plan.base.get('title', 'sweep')} @ {where}"[:180]


def point_scenarios(sweep: Sweep, point: SweepPoint) -> list[Scenario]:
    """The point's scenario, with the ack on and off when the sweep compares (ValidationError
    if the point is not a valid scenario)."""
    plan = plan_of(sweep)
    # A new top-level dict (the base it shares the rest with is never changed in place).
    doc = point_document(plan.base, plan.paths, tuple(point.axis_values))
    doc["title"] = point_title(sweep, list(point.axis_values))
    scenario = Scenario.model_validate(doc)
    if not sweep.compare_ack:
        return [scenario]
    return ack_pair(scenario)


async def open_point(
    engine: Engine,
    session: Session,
    sweep: Sweep,
    index: int,
    settings: Settings,
    every_pass: bool = False,
) -> tuple[str, str | None]:
    """The point's stored runs (ack on, ack off or None): simulated in the run worker pool, with
    the run budgets, on first use; the same runs after. With `every_pass` (one step per pass)
    new runs are simulated on every call and the point keeps its collapsed runs."""
    point = get_point(session, sweep.id, index)
    if point is None:
        raise HTTPException(
            status_code=404, detail=f"sweep {sweep.id} has no finished point {index}"
        )
    if point.run_id is not None and not every_pass:
        return point.run_id, point.off_run_id
    if point.status == INVALID:
        raise HTTPException(
            status_code=409, detail=f"point {index} is not a valid scenario: {point.reason}"
        )
    try:
        scenarios = point_scenarios(sweep, point)
    except ValidationError as error:
        raise HTTPException(
            status_code=409,
            detail=f"point {index} is not a valid scenario: {error.errors()[0]['msg']}",
        ) from None
    stored = await run_and_store(settings, scenarios, every_pass=every_pass)
    run_id, off_run_id = stored[0].id, (stored[1].id if len(stored) > 1 else None)
    if every_pass:
        return run_id, off_run_id
    await anyio.to_thread.run_sync(
        set_point_runs, engine, sweep.id, point.index, run_id, off_run_id
    )
    return run_id, off_run_id
