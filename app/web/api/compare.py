"""/api/compare: switchover-ack on vs off on identical inputs, or any two stored runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query

from app.engine.trace import Summary
from app.store.runs import get_run

from .. import urls as paths
from ..budgets import check_before_start
from ..comparison import ack_pair, ack_sentence
from ..deps import CacheStoredRun, SessionDep, SettingsDep, UrlsDep
from ..run_requests import RunRequest, scenario_from_request
from ..runner import run_and_store
from ..urls import Urls
from .models import (
    ERROR_RESPONSES,
    CompareDiff,
    CompareOut,
    CompareSide,
    DeviceDiff,
    MetricDiff,
    run_links,
)
from .runs import VisibilityQuery

router = APIRouter(tags=["compare"], responses=ERROR_RESPONSES)

SUMMARY_METRICS = (
    "total_time_ms",
    "setup_time_ms",
    "downtime_ms",
    "guest_downtime_ms",
    "transferred_bytes",
    "vfio_transferred_bytes",
    "dirty_sync_count",
    "passes",
    "ack_received_at_ms",
    "switchover_permitted_at_ms",
    "switchover_started_at_ms",
)
DEVICE_METRICS = (
    "initial_bytes",
    "precopy_bytes",
    "stop_copy_bytes",
    "init_data_sent_at_ms",
    "init_data_loaded_at_ms",
)


def metric(a: float | None, b: float | None) -> MetricDiff:
    return MetricDiff(a=a, b=b, delta=None if a is None or b is None else b - a)


def diff_summaries(a: Summary, b: Summary) -> CompareDiff:
    """b - a for every figure, per downtime component and per device (matched by name)."""
    components = list(dict.fromkeys([*a.downtime_breakdown_ms, *b.downtime_breakdown_ms]))
    devices_a = {device.name: device for device in a.devices}
    devices_b = {device.name: device for device in b.devices}
    devices: list[DeviceDiff] = []
    for name in dict.fromkeys([*devices_a, *devices_b]):
        da, db = devices_a.get(name), devices_b.get(name)
        devices.append(
            DeviceDiff(
                name=name,
                in_a=da is not None,
                in_b=db is not None,
                metrics={
                    key: metric(getattr(da, key) if da else None, getattr(db, key) if db else None)
                    for key in DEVICE_METRICS
                },
            )
        )
    return CompareDiff(
        status={"a": a.status, "b": b.status},
        sentence=ack_sentence(a, b),
        summary={key: metric(getattr(a, key), getattr(b, key)) for key in SUMMARY_METRICS},
        downtime_components_ms={
            key: metric(a.downtime_breakdown_ms.get(key), b.downtime_breakdown_ms.get(key))
            for key in components
        },
        devices=devices,
    )


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
    scenario = scenario_from_request(body)
    check_before_start(scenario, settings)
    pair = ack_pair(scenario)
    # Both runs are stored together: a comparison is seen whole or not at all.
    a, b = await run_and_store(settings, pair, visibility)
    return CompareOut(
        a=_side(urls, a.id, a.title, a.status, a.summary),
        b=_side(urls, b.id, b.title, b.status, b.summary),
        diff=diff_summaries(a.summary, b.summary),
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
        diff=diff_summaries(summary_a, summary_b),
        page=urls.compare(run_a.id, run_b.id),
        api=urls.api_compare(run_a.id, run_b.id),
    )
