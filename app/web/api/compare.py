"""/api/compare: switchover-ack on vs off on identical inputs, or any two stored runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query

from app.engine.trace import Summary
from app.store.runs import get_run

from .. import urls as paths
from ..comparison import ack_pair, compare_summaries
from ..deps import CacheStoredRun, SessionDep, SettingsDep, UrlsDep
from ..provenance import engine_note
from ..run_requests import RunRequest, scenario_to_run, wants_every_pass
from ..runner import run_and_store
from ..urls import Urls
from .models import ERROR_RESPONSES, CompareOut, CompareSide, run_links
from .runs import VisibilityQuery

router = APIRouter(tags=["compare"], responses=ERROR_RESPONSES)


def _side(
    urls: Urls, run_id: str, title: str, status: str, summary: Summary | dict[str, Any]
) -> CompareSide:
    return CompareSide.model_validate(
        {
            "id": run_id,
            "title": title,
            "status": status,
            "urls": run_links(urls, run_id),
            "summary": summary,
        }
    )


@router.post(paths.API_COMPARE_PATH, status_code=201, response_model=CompareOut)
async def create_comparison(
    body: Annotated[RunRequest, Body(description="a scenario, or {example, overrides}")],
    settings: SettingsDep,
    urls: UrlsDep,
    visibility: VisibilityQuery = None,
) -> CompareOut:
    """Run a scenario with switchover-ack on (a) and removed on both sides (b); store both."""
    scenario = scenario_to_run(body, settings)
    pair = ack_pair(scenario)
    # Both runs are stored together: a comparison is seen whole or not at all.
    a, b = await run_and_store(settings, pair, visibility, wants_every_pass(body))
    return CompareOut(
        a=_side(urls, a.id, a.title, a.status, a.summary),
        b=_side(urls, b.id, b.title, b.status, b.summary),
        diff=compare_summaries(a.summary, b.summary),
        page=urls.compare(a.id, b.id),
        api=urls.api_compare(a.id, b.id),
    )


@router.get(paths.API_COMPARE_PATH, response_model=CompareOut, dependencies=[CacheStoredRun])
def read_comparison(
    session: SessionDep,
    urls: UrlsDep,
    a: Annotated[str, Query(min_length=1, max_length=64, description="id of run a")],
    b: Annotated[str, Query(min_length=1, max_length=64, description="id of run b")],
) -> CompareOut:
    """Compare two stored runs: both summaries and their per-device and per-component differences."""
    run_a, run_b = get_run(session, a), get_run(session, b)
    for name, run, run_id in (("a", run_a, a), ("b", run_b, b)):
        if run is None:
            raise HTTPException(
                status_code=404, detail=f"no run with id {run_id!r} (parameter {name})"
            )
    assert run_a is not None and run_b is not None
    summary_a, summary_b = (
        Summary.model_validate(run_a.summary),
        Summary.model_validate(run_b.summary),
    )
    return CompareOut(
        a=_side(urls, run_a.id, run_a.title, run_a.status, summary_a),
        b=_side(urls, run_b.id, run_b.title, run_b.status, summary_b),
        diff=compare_summaries(summary_a, summary_b),
        page=urls.compare(run_a.id, run_b.id),
        api=urls.api_compare(run_a.id, run_b.id),
        engine_note=engine_note(run_a.engine_version, run_b.engine_version),
    )
