"""/api/runs/{id}/series: chart series, downsampled on the server; events never dropped."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from app.store.runs import load_events_in_time

from .. import urls as paths
from ..deps import CacheStoredRun, RunDep, SessionDep
from ..series import PERIODIC_EVENT_KINDS, parse_fields, stored_series
from .models import ERROR_RESPONSES, MAX_POINTS_DEFAULT, MAX_POINTS_MAX, SeriesOut

router = APIRouter(tags=["runs"], responses=ERROR_RESPONSES)

_MS_LIMIT = 1e9  # far beyond any simulated time (LIMITS max_time_ms is 3.6e6)


def _query_error(name: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ["query", name], "msg": message, "type": "value_error"}])


def _run_device_names(resolved: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for source in (resolved.get("devices"), summary.get("devices")):
        for device in source if isinstance(source, list) else []:
            name = device.get("name") if isinstance(device, dict) else None
            if isinstance(name, str) and name not in names:
                names.append(name)
    return names


@router.get(paths.API_RUN_SERIES_PATH, response_model=SeriesOut, dependencies=[CacheStoredRun])
def read_series(
    run: RunDep,
    session: SessionDep,
    fields: Annotated[
        list[str] | None,
        Query(
            description="step fields, or device.<field> for one series per device; comma-separated or repeated"
        ),
    ] = None,
    devices: Annotated[
        list[str] | None, Query(description="only these devices (repeat the parameter)")
    ] = None,
    max_points: Annotated[
        int, Query(ge=3, le=MAX_POINTS_MAX, description="points per series at most")
    ] = MAX_POINTS_DEFAULT,
    from_ms: Annotated[
        float | None, Query(ge=0, le=_MS_LIMIT, description="range start, ms")
    ] = None,
    to_ms: Annotated[float | None, Query(ge=0, le=_MS_LIMIT, description="range end, ms")] = None,
    event_kinds: Annotated[
        list[str] | None,
        Query(
            description="event kinds to return (comma-separated or repeated); `all` for every kind; "
            "default: all but the periodic window, bitmap_sync, ping and pong"
        ),
    ] = None,
) -> SeriesOut:
    """Series for charts over a time range, downsampled with MinMaxLTTB; every event in range."""
    points = max_points
    if from_ms is not None and to_ms is not None and to_ms < from_ms:
        raise _query_error("to_ms", "to_ms must not be below from_ms")
    try:
        names = parse_fields(fields)
    except ValueError as error:
        raise _query_error("fields", str(error)) from None
    kinds = sorted(
        {k.strip() for chunk in event_kinds or [] for k in chunk.split(",") if k.strip()}
    )
    if devices:
        known = _run_device_names(run.resolved, run.summary)
        unknown = [name for name in devices if name not in known]
        if unknown:
            raise _query_error(
                "devices",
                f"no device {', '.join(unknown)} in this run; it has: {', '.join(known) or 'none'}",
            )
    if "all" in kinds:
        events = load_events_in_time(session, run.id, from_ms, to_ms)
        shown: list[str] | None = None
    elif kinds:
        events = load_events_in_time(session, run.id, from_ms, to_ms, kinds=kinds)
        shown = kinds
    else:
        events = load_events_in_time(
            session, run.id, from_ms, to_ms, exclude_kinds=PERIODIC_EVENT_KINDS
        )
        shown = sorted({event.kind for event in events})
    return SeriesOut.model_validate(
        {
            "run_id": run.id,
            "from_ms": from_ms,
            "to_ms": to_ms,
            "max_points": points,
            # From the stored chart columns: no step JSON is parsed (app.store.chart_columns).
            "series": stored_series(session, run.id, names, devices, points, from_ms, to_ms),
            "event_kinds": shown,
            "events": events,
        }
    )
