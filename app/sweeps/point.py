"""One sweep point: a scenario document in, a handful of summary numbers out.

`run_point` is the ONE place sweeps call the engine (`_summary`), so the engine can switch
sweeps to a summary-only mode here without touching anything else. Everything in this module
is picklable and free of web/database imports: it runs in worker processes and on Dask
workers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from pydantic import ValidationError

from app.engine.compare import document_with_ack, scenario_with_ack
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
        # Every field is a scalar: a shallow dict (dataclasses.asdict deep-copies each value,
        # and was most of the cost of storing a sweep's points).
        return {name: getattr(self, name) for name in OUTPUT_FIELDS}

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
    """Simulate one point; with compare_ack, with switchover-ack on and off at both ends.

    Every scenario simulated is validated in full. With compare_ack the two scenarios are
    validated straight from documents (`ack_documents`): two validations, where validating the
    point and then switching the ack on a model (`scenario_with_ack`: dump, edit, validate,
    twice) cost three validations and two dumps for the same two models.
    """
    if not compare_ack:
        try:
            scenario = Scenario.model_validate(scenario_doc)
        except ValidationError as error:
            return PointResult(status=INVALID, reason=_first_error(error))
        try:
            return _from_summaries(_summary(scenario, max_steps), None)
        except Exception as error:  # noqa: BLE001  one engine fault must not sink a 10,000-point sweep
            return _engine_error(error)
    try:
        on_doc, off_doc = ack_documents(scenario_doc)
        on_scenario = Scenario.model_validate(on_doc)
        off_scenario = Scenario.model_validate(off_doc)
    except (ValueError, TypeError, AttributeError):  # ValidationError is a ValueError
        # Rare (an invalid point, or caps that are not even a dict of lists): the slow path,
        # so the point reports what it always did, the point's own first error (or an engine
        # error if only switching the ack failed).
        return _run_point_checked(scenario_doc, max_steps)
    try:
        on = _summary(on_scenario, max_steps)
        off = _summary(off_scenario, max_steps)
    except Exception as error:  # noqa: BLE001  as above
        return _engine_error(error)
    return _from_summaries(on, off)


def _run_point_checked(scenario_doc: dict[str, Any], max_steps: int) -> PointResult:
    try:
        scenario = Scenario.model_validate(scenario_doc)
    except ValidationError as error:
        return PointResult(status=INVALID, reason=_first_error(error))
    try:
        on = _summary(scenario_with_ack(scenario, True), max_steps)
        off = _summary(scenario_with_ack(scenario, False), max_steps)
    except Exception as error:  # noqa: BLE001  as in run_point
        return _engine_error(error)
    return _from_summaries(on, off)


def _engine_error(error: Exception) -> PointResult:
    return PointResult(
        status=ENGINE_ERROR, reason=f"engine error: {type(error).__name__}: {error}"[:500]
    )


def ack_documents(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The point's scenario document with switchover-ack on and off at both ends: the engine's
    rule (app.engine.compare.document_with_ack) on the document, before any validation."""
    return document_with_ack(doc, True), document_with_ack(doc, False)


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
    """doc[a][b][0][c] = value for path 'a.b.0.c' (the path was checked by vary.resolve_field).

    Every dict and list on the way is copied first, so `doc` may share everything else with
    the document it was copied from (point_document): the base is never changed in place.
    """
    parts = path.split(".")
    target: Any = doc
    for part in parts[:-1]:
        if isinstance(target, list):
            position = int(part)
            child = _copied(target[position])
            target[position] = child
        else:
            child = _copied(target.get(part, {}))
            target[part] = child
        target = child
    target[parts[-1]] = value


def _copied(node: Any) -> Any:
    return list(node) if isinstance(node, list) else dict(node)


def point_document(
    base: dict[str, Any], paths: tuple[str, ...], values: tuple[Any, ...]
) -> dict[str, Any]:
    """The base document with the point's values set: a new dict, sharing with `base` only
    what the paths do not reach (a deep copy per point cost more than validating it)."""
    doc = dict(base)
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
