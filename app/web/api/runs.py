"""/api/runs: create runs from scenarios, list them, open one, read its steps."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, HTTPException, Path, Query, Response
from fastapi.exceptions import RequestValidationError

from app.engine.trace import Event, Step
from app.store.models import Run, RunListPublic, RunPublic
from app.store.runs import list_runs, load_events, load_step, load_steps

from .. import explain
from .. import urls as paths
from ..deps import CacheStoredRun, RunDep, SessionDep, SettingsDep, UrlsDep
from ..jobs import StoredRun
from ..passes import run_passes_shown
from ..run_requests import RunRequest, scenario_to_run, wants_every_pass
from ..runner import run_and_store
from ..urls import Urls
from .models import (
    ERROR_RESPONSES,
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    STEPS_WINDOW_DEFAULT,
    STEPS_WINDOW_MAX,
    RunCreated,
    RunDetail,
    RunListItem,
    RunPageOut,
    StepDetail,
    StepWindow,
    run_links,
)

router = APIRouter(tags=["runs"], responses=ERROR_RESPONSES)


def created(urls: Urls, stored: StoredRun) -> RunCreated:
    return RunCreated.model_validate(
        {
            "id": stored.id,
            "title": stored.title,
            "status": stored.status,
            "step_count": stored.step_count,
            "urls": run_links(urls, stored.id),
            "summary": stored.summary,
            "every_pass": stored.every_pass,
        }
    )


Visibility = Literal["listed", "unlisted"]
VisibilityQuery = Annotated[
    Visibility | None,
    Query(
        description="listed (in the runs list; default for simulations) or unlisted (only its link opens it)"
    ),
]


@router.post(paths.API_RUNS_PATH, status_code=201, response_model=RunCreated)
async def create_run(
    body: Annotated[RunRequest, Body(description="a scenario, or {example, overrides}")],
    settings: SettingsDep,
    urls: UrlsDep,
    response: Response,
    visibility: VisibilityQuery = None,
) -> RunCreated:
    """Run the engine on a scenario (or a named example with overrides) and store the trace."""
    scenario = scenario_to_run(body, settings)
    # The engine is CPU-bound: it runs in a worker process (the pool of app.web.workers).
    [stored] = await run_and_store(settings, [scenario], visibility, wants_every_pass(body))
    response.headers["Location"] = urls.api_run(stored.id)
    return created(urls, stored)


@router.get(paths.API_RUNS_PATH, response_model=RunPageOut)
def read_runs(
    session: SessionDep,
    urls: UrlsDep,
    page: Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number")] = 1,
    per_page: Annotated[
        int, Query(ge=1, le=PAGE_SIZE_MAX, description="runs per page")
    ] = PAGE_SIZE_DEFAULT,
    status: Annotated[
        str | None, Query(max_length=16, description="completed, failed or cancelled")
    ] = None,
    source: Annotated[
        Literal["simulation", "import"] | None, Query(description="simulated or imported runs")
    ] = None,
) -> RunPageOut:
    """List stored runs, newest first, one page at a time."""
    size = per_page
    runs, total = list_runs(
        session, offset=(page - 1) * size, limit=size, status=status, source=source
    )
    items = [_list_item(urls, run) for run in runs]
    more = page * size < total
    return RunPageOut(
        items=items,
        page=page,
        per_page=size,
        total=total,
        next=urls.api_runs(page=page + 1, per_page=size, status=status, source=source)
        if more
        else None,
        prev=urls.api_runs(page=page - 1, per_page=size, status=status, source=source)
        if page > 1
        else None,
    )


def _list_item(urls: Urls, run: Run) -> RunListItem:
    public = RunListPublic.model_validate(run)
    return RunListItem(
        **public.model_dump(),
        total_time_ms=run.summary.get("total_time_ms"),
        downtime_ms=run.summary.get("downtime_ms"),
        every_pass=run.every_pass,
        urls=run_links(urls, run.id),
    )


def _query_error(name: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ["query", name], "msg": message, "type": "value_error"}])


@router.get(paths.API_RUN_PATH, response_model=RunDetail, dependencies=[CacheStoredRun])
def read_run(run: RunDep, session: SessionDep, urls: UrlsDep) -> RunDetail:
    """One run: scenario as given and resolved, summary, devices, notes and links."""
    public = RunPublic.model_validate(run)
    devices = run.resolved.get("devices")
    return RunDetail(
        **public.model_dump(),
        devices=[d for d in devices if isinstance(d, dict)] if isinstance(devices, list) else [],
        passes_shown=run_passes_shown(session, run),
        urls=run_links(urls, run.id),
    )


@router.get(paths.API_RUN_STEPS_PATH, response_model=StepWindow, dependencies=[CacheStoredRun])
def read_steps(
    run: RunDep,
    session: SessionDep,
    urls: UrlsDep,
    start: Annotated[
        int, Query(alias="from", ge=0, le=10_000_000, description="first step index")
    ] = 0,
    stop: Annotated[
        int | None, Query(alias="to", ge=0, le=10_000_000, description="one past the last index")
    ] = None,
) -> StepWindow:
    """A window of steps (from <= index < to) with their events."""
    window = STEPS_WINDOW_MAX
    end = start + STEPS_WINDOW_DEFAULT if stop is None else stop
    if end < start:
        raise _query_error("to", "`to` must not be below `from`")
    if end - start > window:
        raise _query_error("to", f"at most {window} steps per request (to - from <= {window})")
    steps: list[Step] = load_steps(session, run.id, start, end)
    events: list[Event] = load_events(session, run.id, step_from=start, step_to=end)
    more = end < run.step_count
    return StepWindow(
        run_id=run.id,
        start=start,
        stop=end,
        step_count=run.step_count,
        steps=steps,
        events=events,
        next=urls.api_run_steps(run.id, end, end + (end - start or 1)) if more else None,
    )


@router.get(paths.API_RUN_STEP_PATH, response_model=StepDetail, dependencies=[CacheStoredRun])
def read_step(
    run: RunDep,
    session: SessionDep,
    urls: UrlsDep,
    n: Annotated[int, Path(ge=0, le=10_000_000, description="step index")],
) -> StepDetail:
    """One step with its events and a plain-language explanation of the decision."""
    step = load_step(session, run.id, n)
    if step is None:
        raise HTTPException(
            status_code=404, detail=f"run {run.id} has no step {n} (it has {run.step_count})"
        )
    return StepDetail(
        run_id=run.id,
        index=n,
        step=step,
        events=load_events(session, run.id, step_from=n, step_to=n + 1),
        explanation=explain_step(step),
        gates_held=[gate for gate in step.gates if not gate.open],
        prev=urls.api_run_step(run.id, n - 1) if n > 0 else None,
        next=urls.api_run_step(run.id, n + 1) if n + 1 < run.step_count else None,
    )


def explain_step(step: Step) -> str:
    """One paragraph: what the migration thread did, why, and what holds switchover (the
    same reading as the run page's step panel, app.web.explain)."""
    explained = explain.explain_step(step)
    return (
        f"Step {step.index} ({step.phase}, {step.t_ms:.1f}-{step.end_ms:.1f} ms): "
        f"{step.decision.reason} [{step.decision.qemu_function}]. {explained['holding']}"
    )
