"""/api/sweeps: start a parameter sweep, follow it, read its points, open one point as a run.

A sweep is stored first, then run in the background by the SweepPool (worker processes, never
the web's thread pool). Every finished point is a row, so a sweep survives a restart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints
from sqlalchemy import Engine
from sqlmodel import Session

from app.engine.scenario import Scenario
from app.store.models import SweepPoint
from app.store.sweeps import (
    cancel_sweep,
    create_sweep,
    get_sweep,
    list_points,
    list_sweeps,
    plan_of,
    point_results,
)
from app.sweeps.limits import MAX_POINTS_API, MAX_VARIED_FIELDS, MAX_VARY_CHARS
from app.sweeps.output import to_csv
from app.sweeps.plan import plan_sweep
from app.sweeps.point import OUTPUT_FIELDS
from app.sweeps.vary import VaryError, parse_vary

from .. import urls as paths
from ..deps import EngineDep, SessionDep, SettingsDep, UrlsDep
from ..run_requests import ExampleRun, scenario_from_request
from ..sweep_pool import RETRY_AFTER_S, SweepPool, SweepPoolFull
from ..sweeps import SweepDep, SweepOut, open_point, sweep_out
from ..urls import Urls
from ..workers import PoolBusy
from .models import ERROR_RESPONSES, NON_JSON_ERROR_RESPONSES, ErrorResponse

router = APIRouter(tags=["sweeps"], responses=ERROR_RESPONSES)

POINTS_PAGE_DEFAULT = 1000
STREAM_SECONDS = 300
POLL_SECONDS = 0.5
RECONNECT_MS = 2000
VarySpec = Annotated[str, StringConstraints(min_length=1, max_length=MAX_VARY_CHARS)]


class SweepRequest(BaseModel):
    """A base scenario (or an example with overrides) and 1 to 3 fields to vary."""

    model_config = ConfigDict(extra="forbid")

    scenario: Scenario | None = Field(
        default=None, description="the base scenario (or give `example`)"
    )
    example: str | None = Field(
        default=None, max_length=100, description="a shipped example as the base"
    )
    overrides: dict[str, Any] = Field(default_factory=dict, description="merged into the example")
    vary: list[VarySpec] = Field(
        min_length=1,
        max_length=MAX_VARIED_FIELDS,
        description="PATH=A..B[:log][:N] or PATH=v1,v2,... (the CLI's --vary syntax), e.g. guest.ram_bytes=1GiB..64GiB:log:12",
    )
    compare_ack: bool = Field(
        default=True, description="run every point with switchover-ack on and off"
    )
    title: str | None = Field(default=None, max_length=200)


class SweepListOut(BaseModel):
    items: list[SweepOut]
    total: int


class SweepPointOut(BaseModel):
    index: int
    values: list[int | float]
    status: str = Field(
        description="completed, failed, cancelled (with the ack on when compared), invalid or error"
    )
    reason: str
    downtime_ms: float | None
    total_time_ms: float | None
    ack_received_at_ms: float | None
    dirty_sync_count: int | None
    transferred_bytes: int | None
    off_status: str | None
    off_downtime_ms: float | None
    off_total_time_ms: float | None
    ack_saves_ms: float | None = Field(description="downtime without the ack minus with it")
    page: str = Field(description="opens this point as stored runs (simulated on first use)")


class SweepPointsOut(BaseModel):
    items: list[SweepPointOut]
    offset: int
    limit: int
    total: int = Field(description="points finished so far")
    point_count: int
    next: str | None


class SweepPointRuns(BaseModel):
    run_id: str
    off_run_id: str | None
    run: str
    compare: str | None


def sweep_pool(request: Request) -> SweepPool:
    pool: SweepPool = request.app.state.sweeps
    return pool


SweepPoolDep = Annotated[SweepPool, Depends(sweep_pool)]


def point_out(point: SweepPoint, urls: Urls) -> SweepPointOut:
    return SweepPointOut(
        index=point.index,
        values=list(point.axis_values),
        **{name: getattr(point, name) for name in OUTPUT_FIELDS},
        page=urls.sweep_point(point.sweep_id, point.index),
    )


def _vary_error(message: str, loc: list[str | int]) -> RequestValidationError:
    return RequestValidationError([{"loc": loc, "msg": message, "type": "value_error"}])


def base_scenario(body: SweepRequest) -> Scenario:
    if (body.scenario is None) == (body.example is None):
        raise _vary_error("give either `scenario` or `example` (not both)", ["body", "scenario"])
    if body.scenario is not None:
        if body.overrides:
            raise _vary_error("overrides go with `example`", ["body", "overrides"])
        return body.scenario
    assert body.example is not None
    return scenario_from_request(ExampleRun(example=body.example, overrides=body.overrides))


def start_sweep(engine: Engine, pool: SweepPool, body: SweepRequest, *, source: str = "api") -> str:
    """Check, store and start a sweep (422 naming the field; 503 when the pool is full)."""
    scenario = base_scenario(body)
    base = scenario.model_dump(mode="json")
    for index, spec in enumerate(body.vary):
        try:
            parse_vary(spec, base)
        except VaryError as error:
            raise _vary_error(str(error), ["body", "vary", index]) from None
    try:
        plan = plan_sweep(
            scenario,
            body.vary,
            compare_ack=body.compare_ack,
            max_points=MAX_POINTS_API,
            max_steps=pool.settings.max_steps_per_run,
        )
    except VaryError as error:
        raise _vary_error(str(error), ["body", "vary"]) from None
    try:
        pool.reserve()
    except SweepPoolFull as error:
        # Answered like every other full pool (app.web.api.errors: 503 with Retry-After).
        raise PoolBusy(str(error), retry_after_s=RETRY_AFTER_S) from None
    sweep_id = create_sweep(engine, plan, body.vary, source=source, title=body.title)
    pool.start(sweep_id)  # a lost race for the last slot leaves it queued: the rescan starts it
    return sweep_id


@router.post(
    paths.API_SWEEPS_PATH,
    status_code=202,
    response_model=SweepOut,
    responses={
        503: {
            "model": ErrorResponse,
            "description": "max_concurrent_sweeps are running; see Retry-After",
        }
    },
)
def create_sweep_endpoint(
    body: Annotated[SweepRequest, Body()],
    engine: EngineDep,
    session: SessionDep,
    settings: SettingsDep,
    urls: UrlsDep,
    pool: SweepPoolDep,
    response: Response,
) -> SweepOut:
    """Store a sweep and run it in the background (202); follow it at `urls.self` or `urls.events`."""
    sweep_id = start_sweep(engine, pool, body)
    sweep = get_sweep(session, sweep_id)
    assert sweep is not None
    response.headers["Location"] = urls.api_sweep(sweep_id)
    return sweep_out(sweep, urls, settings)


@router.get(paths.API_SWEEPS_PATH, response_model=SweepListOut)
def read_sweeps(
    session: SessionDep,
    settings: SettingsDep,
    urls: UrlsDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SweepListOut:
    """Stored sweeps, newest first."""
    sweeps, total = list_sweeps(session, offset=offset, limit=limit)
    return SweepListOut(items=[sweep_out(s, urls, settings) for s in sweeps], total=total)


@router.get(paths.API_SWEEP_PATH, response_model=SweepOut)
def read_sweep(
    sweep: SweepDep, settings: SettingsDep, urls: UrlsDep, response: Response
) -> SweepOut:
    """Status (queued, running, completed, cancelled, failed), progress and limits."""
    response.headers["Cache-Control"] = "no-store"
    return sweep_out(sweep, urls, settings)


@router.get(paths.API_SWEEP_POINTS_PATH, response_model=SweepPointsOut)
def read_sweep_points(
    sweep: SweepDep,
    session: SessionDep,
    urls: UrlsDep,
    offset: Annotated[int, Query(ge=0, le=MAX_POINTS_API)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_POINTS_API)] = POINTS_PAGE_DEFAULT,
) -> SweepPointsOut:
    """Finished points in index order, one page at a time (`values` follow the sweep's axes)."""
    points = list_points(session, sweep.id, offset=offset, limit=limit)
    more = offset + limit < sweep.done_count
    return SweepPointsOut(
        items=[point_out(p, urls) for p in points],
        offset=offset,
        limit=limit,
        total=sweep.done_count,
        point_count=sweep.point_count,
        next=urls.api_sweep_points(sweep.id, offset + limit, limit) if more else None,
    )


@router.get(
    paths.API_SWEEP_EXPORT_CSV_PATH,
    response_class=Response,
    responses={
        **NON_JSON_ERROR_RESPONSES,
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "one row per finished point, as `migscope sweep --out`",
        },
    },
)
def export_sweep_csv(sweep: SweepDep, session: SessionDep) -> Response:
    """Every finished point as CSV: the same bytes `migscope sweep --out FILE.csv` writes."""
    text = to_csv(plan_of(sweep), point_results(session, sweep.id))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="sweep-{sweep.id}.csv"'},
    )


@router.post(
    paths.API_SWEEP_CANCEL_PATH,
    response_model=SweepOut,
    responses={409: {"model": ErrorResponse, "description": "the sweep has already finished"}},
)
def cancel_sweep_endpoint(
    sweep: SweepDep, engine: EngineDep, session: SessionDep, settings: SettingsDep, urls: UrlsDep
) -> SweepOut:
    """Cancel a queued or running sweep; its runner stops within a batch. Stored points stay."""
    if not cancel_sweep(engine, sweep.id):
        raise HTTPException(
            status_code=409,
            detail=f"the sweep is {sweep.status}; only queued or running sweeps cancel",
        )
    session.expire_all()
    fresh = get_sweep(session, sweep.id)
    assert fresh is not None
    return sweep_out(fresh, urls, settings)


def _progress(engine: Engine, sweep_id: str) -> dict[str, Any] | None:
    with Session(engine) as session:
        sweep = get_sweep(session, sweep_id)
        if sweep is None:
            return None
        return {
            "status": sweep.status,
            "done_count": sweep.done_count,
            "point_count": sweep.point_count,
            "error": sweep.error,
        }


@router.get(
    paths.API_SWEEP_EVENTS_PATH,
    response_class=EventSourceResponse,
    responses={
        **NON_JSON_ERROR_RESPONSES,
        200: {
            "content": {
                "text/event-stream": {
                    "schema": {
                        "type": "string",
                        "description": 'events "data: {status, done_count, point_count, error}" whenever they change',
                    }
                }
            }
        },
    },
)
async def read_sweep_events(sweep: SweepDep, engine: EngineDep) -> AsyncIterator[ServerSentEvent]:
    """Server-Sent Events: the sweep's progress whenever it changes, until it finishes (a stream
    also ends after a few minutes; EventSource reconnects by itself)."""
    deadline = anyio.current_time() + STREAM_SECONDS
    last: dict[str, Any] | None = None
    state = _progress(engine, sweep.id)
    first = True
    while state is not None:
        if state != last:
            last = state
            yield ServerSentEvent(
                id=str(state["done_count"]), data=state, retry=RECONNECT_MS if first else None
            )
            first = False
        if state["status"] not in ("queued", "running") or anyio.current_time() >= deadline:
            return
        await anyio.sleep(POLL_SECONDS)
        state = await anyio.to_thread.run_sync(_progress, engine, sweep.id)


@router.post(
    paths.API_SWEEP_POINT_RUN_PATH,
    response_model=SweepPointRuns,
    responses={409: {"model": ErrorResponse, "description": "the point's scenario is invalid"}},
)
async def run_sweep_point(
    sweep: SweepDep,
    engine: EngineDep,
    session: SessionDep,
    settings: SettingsDep,
    urls: UrlsDep,
    index: Annotated[int, Path(ge=0, le=MAX_POINTS_API * 100)],
    every_pass: Annotated[
        StrictBool,
        Body(
            embed=True,
            description="one step per pre-copy pass: new runs on every call (the point keeps "
            "its collapsed runs); default false, alike passes collapsed",
        ),
    ] = False,
) -> SweepPointRuns:
    """The point as full stored runs (ack on and off when the sweep compares): simulated on the
    first call, the same runs after (optional body `{"every_pass": true}`: new runs with one
    step per pass)."""
    run_id, off_run_id = await open_point(engine, session, sweep, index, settings, every_pass)
    return SweepPointRuns(
        run_id=run_id,
        off_run_id=off_run_id,
        run=urls.run(run_id),
        compare=urls.compare(run_id, off_run_id) if off_run_id else None,
    )
