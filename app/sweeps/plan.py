"""A sweep plan: the base scenario, 1 to 3 axes, and the grid of points they span.

Point `index` runs over the grid in row-major order (the first --vary changes slowest), so a
point's index and values follow from the plan alone: a resumed sweep needs only the indices
already stored.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from app.engine.scenario import Scenario

from .limits import DEFAULT_MAX_STEPS_PER_POINT, MAX_VARIED_FIELDS
from .point import PointBatch
from .vary import Axis, Number, VaryError, parse_vary


@dataclass(frozen=True)
class SweepPlan:
    base: dict[str, Any]  # the validated base scenario, as JSON
    axes: tuple[Axis, ...]
    compare_ack: bool
    max_steps: int = DEFAULT_MAX_STEPS_PER_POINT

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(axis.path for axis in self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(axis.values) for axis in self.axes)

    @property
    def point_count(self) -> int:
        return math.prod(self.shape)

    def values_at(self, index: int) -> tuple[Number, ...]:
        coords: list[Number] = []
        for axis in reversed(self.axes):
            index, position = divmod(index, len(axis.values))
            coords.append(axis.values[position])
        return tuple(reversed(coords))

    def batch(self, indices: Sequence[int]) -> PointBatch:
        """The points `indices` as one task for a worker."""
        return PointBatch(
            base=self.base,
            paths=self.paths,
            compare_ack=self.compare_ack,
            max_steps=self.max_steps,
            points=tuple((i, self.values_at(i)) for i in indices),
        )

    def batches(self, indices: Sequence[int], size: int) -> Iterator[PointBatch]:
        """Consecutive runs of `size` points."""
        for start in range(0, len(indices), size):
            yield self.batch(indices[start : start + size])

    def interleaved_batches(self, indices: Sequence[int], size: int) -> Iterator[PointBatch]:
        """As many batches as `batches` makes, of every n-th point each (their sizes differ by
        at most one): the costly corner of a grid (big guests, high dirty rates) is spread
        over every batch instead of filling the last ones, so no worker is left with a long
        tail while the others idle, and a sweep still running already covers its whole grid."""
        count = math.ceil(len(indices) / size) if indices else 0
        for first in range(count):
            yield self.batch(indices[first::count])

    def as_dict(self) -> dict[str, Any]:
        return {
            "axes": [axis.as_dict() for axis in self.axes],
            "compare_ack": self.compare_ack,
            "max_steps": self.max_steps,
            "point_count": self.point_count,
        }


def plan_sweep(
    scenario: Scenario,
    vary: Sequence[str],
    *,
    compare_ack: bool,
    max_points: int,
    max_steps: int = DEFAULT_MAX_STEPS_PER_POINT,
) -> SweepPlan:
    """Check every --vary against the base scenario and the point limit (VaryError if not)."""
    if not vary:
        raise VaryError("give at least one --vary PATH=A..B (a field to sweep)")
    if len(vary) > MAX_VARIED_FIELDS:
        raise VaryError(
            f"at most {MAX_VARIED_FIELDS} fields can be varied at once (got {len(vary)})"
        )
    base = scenario.model_dump(mode="json")
    axes = tuple(parse_vary(spec, base) for spec in vary)
    paths = [axis.path for axis in axes]
    for path in paths:
        if paths.count(path) > 1:
            raise VaryError(f"{path}: varied twice")
    plan = SweepPlan(base=base, axes=axes, compare_ack=compare_ack, max_steps=max_steps)
    if plan.point_count > max_points:
        product = (
            " x ".join(str(n) for n in plan.shape) + f" = {plan.point_count}"
            if len(axes) > 1
            else str(plan.point_count)
        )
        raise VaryError(
            f"{', '.join(paths)}: too many points ({product}; the limit is {max_points} per sweep)"
        )
    return plan
