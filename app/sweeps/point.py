"""One sweep point: a scenario document in, a handful of summary numbers out.

`run_point` is the ONE place sweeps call the engine (`_summary`), so the engine can switch
sweeps to a summary-only mode here without touching anything else. Everything in this module
is picklable and free of web/database imports: it runs in worker processes and on Dask
workers.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, fields
from typing import Any

from pydantic import ValidationError

from app.engine.compare import scenario_with_ack
from app.engine.scenario import Scenario
from app.engine.simulation import simulate_summary
from app.engine.trace import Summary

from .limits import DEFAULT_MAX_STEPS_PER_POINT

# A point whose scenario does not validate (e.g. the working set no longer fits a smaller
# guest): kept, with the reason, instead of failing the whole sweep.
INVALID = "invalid"
# The engine raised (a bug to report): the point keeps the message, the sweep goes on.
ENGINE_ERROR = "error"


@dataclass(frozen=True, slots=True)
class PointResult:
    """What a sweep keeps of one point (of the ack-on run, and of the ack-off run when compared)."""

    status: str  # completed, failed, cancelled, invalid, or error
    reason: str
    downtime_ms: float | None = None
    total_time_ms: float | None = None
    ack_received_at_ms: float | None = None
    dirty_sync_count: int | None = None
    transferred_bytes: int | None = None
    off_status: str | None = None
    off_downtime_ms: float | None = None
    off_total_time_ms: float | None = None
    # off minus on: positive where the ack shortens the downtime.
    ack_saves_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PointResult:
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})  # type: ignore[arg-type]


OUTPUT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(PointResult))


def _summary(scenario: Scenario, max_steps: int) -> Summary:
    """The engine call of every sweep point (summary-only mode goes here)."""
    return simulate_summary(scenario, max_steps=max_steps)


def _first_error(error: ValidationError) -> str:
    item = error.errors()[0]
    path = ".".join(str(part) for part in item["loc"]) or "(top level)"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{path}: {item['msg']}{more}"


def run_point(
    scenario_doc: dict[str, Any],
    *,
    compare_ack: bool = False,
    max_steps: int = DEFAULT_MAX_STEPS_PER_POINT,
) -> PointResult:
    """Simulate one point; with compare_ack, with switchover-ack on and off at both ends."""
    try:
        scenario = Scenario.model_validate(scenario_doc)
    except ValidationError as error:
        return PointResult(status=INVALID, reason=_first_error(error))
    try:
        if not compare_ack:
            return _from_summaries(_summary(scenario, max_steps), None)
        on = _summary(scenario_with_ack(scenario, True), max_steps)
        off = _summary(scenario_with_ack(scenario, False), max_steps)
    except Exception as error:  # noqa: BLE001  one engine fault must not sink a 10,000-point sweep
        return PointResult(
            status=ENGINE_ERROR, reason=f"engine error: {type(error).__name__}: {error}"[:500]
        )
    return _from_summaries(on, off)


def _from_summaries(on: Summary, off: Summary | None) -> PointResult:
    saves = None
    if off is not None and on.downtime_ms is not None and off.downtime_ms is not None:
        saves = round(off.downtime_ms - on.downtime_ms, 3)
    return PointResult(
        status=on.status,
        reason=on.reason,
        downtime_ms=on.downtime_ms,
        total_time_ms=on.total_time_ms,
        ack_received_at_ms=on.ack_received_at_ms,
        dirty_sync_count=on.dirty_sync_count,
        transferred_bytes=on.transferred_bytes,
        off_status=off.status if off is not None else None,
        off_downtime_ms=off.downtime_ms if off is not None else None,
        off_total_time_ms=off.total_time_ms if off is not None else None,
        ack_saves_ms=saves,
    )


def set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    """doc[a][b][0][c] = value for path 'a.b.0.c' (the path was checked by vary.resolve_field)."""
    parts = path.split(".")
    target: Any = doc
    for part in parts[:-1]:
        if isinstance(target, list):
            target = target[int(part)]
        else:
            target = target.setdefault(part, {})
    target[parts[-1]] = value


def point_document(
    base: dict[str, Any], paths: tuple[str, ...], values: tuple[Any, ...]
) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    for path, value in zip(paths, values, strict=True):
        set_path(doc, path, value)
    return doc


@dataclass(frozen=True, slots=True)
class PointBatch:
    """Several points sent to one worker at once (one task per point costs more than a point)."""

    base: dict[str, Any]
    paths: tuple[str, ...]
    compare_ack: bool
    max_steps: int
    points: tuple[tuple[int, tuple[Any, ...]], ...]  # (index, values)


def run_batch(batch: PointBatch) -> list[tuple[int, PointResult]]:
    return [
        (
            index,
            run_point(
                point_document(batch.base, batch.paths, values),
                compare_ack=batch.compare_ack,
                max_steps=batch.max_steps,
            ),
        )
        for index, values in batch.points
    ]
