"""What a sweep found, in a few lines: where the ack helps most, where it changes nothing,
and where the migration does not converge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .plan import SweepPlan
from .point import PointResult
from .vary import shown

# Below this the ack "makes no difference": the engine's own rounding is 0.001 ms, but a
# millisecond is what a user would notice.
NO_DIFFERENCE_MS = 1.0
TOP = 3


@dataclass
class Findings:
    points: int
    converged: int
    helps_most: list[tuple[int, float]] = field(default_factory=list)  # (index, ms saved)
    no_difference: int = 0
    hurts: int = 0
    not_converging: list[int] = field(default_factory=list)
    invalid: list[int] = field(default_factory=list)


def find(results: Mapping[int, PointResult]) -> Findings:
    found = Findings(points=len(results), converged=0)
    saves: list[tuple[int, float]] = []
    for index in sorted(results):
        r = results[index]
        if r.status in ("invalid", "error"):
            found.invalid.append(index)
            continue
        if r.status == "completed" and r.off_status in (None, "completed"):
            found.converged += 1
        else:
            found.not_converging.append(index)
        if r.ack_saves_ms is not None:
            if abs(r.ack_saves_ms) < NO_DIFFERENCE_MS:
                found.no_difference += 1
            elif r.ack_saves_ms < 0:
                found.hurts += 1
            saves.append((index, r.ack_saves_ms))
    saves.sort(key=lambda item: (-item[1], item[0]))
    found.helps_most = [s for s in saves[:TOP] if s[1] >= NO_DIFFERENCE_MS]
    return found


def describe_point(plan: SweepPlan, index: int) -> str:
    return ", ".join(
        f"{axis.path}={shown(axis.field, value, exact=False)}"
        for axis, value in zip(plan.axes, plan.values_at(index), strict=True)
    )


def findings_lines(plan: SweepPlan, results: Mapping[int, PointResult]) -> list[tuple[str, str]]:
    """(finding, detail) rows for the end-of-sweep table."""
    f = find(results)
    rows: list[tuple[str, str]] = [
        ("points", f"{f.points}; {f.converged} converged (with and without the ack)")
    ]
    if plan.compare_ack:
        for index, saved in f.helps_most:
            rows.append(
                ("ack helps most", f"{saved:.1f} ms less downtime at {describe_point(plan, index)}")
            )
        if not f.helps_most:
            rows.append(("ack helps most", "nowhere by 1 ms or more"))
        rows.append(
            ("no difference", f"{f.no_difference} points (|difference| < {NO_DIFFERENCE_MS:g} ms)")
        )
        if f.hurts:
            rows.append(("ack costs downtime", f"{f.hurts} points"))
    if f.not_converging:
        first = f.not_converging[0]
        r = results[first]
        what = r.status if r.status != "completed" else f"ack off {r.off_status}"
        rows.append(
            (
                "not converging",
                f"{len(f.not_converging)} points, e.g. {describe_point(plan, first)}: {what}",
            )
        )
    if f.invalid:
        first = f.invalid[0]
        rows.append(
            (
                "invalid",
                f"{len(f.invalid)} points, e.g. {describe_point(plan, first)}: {results[first].reason}",
            )
        )
    return rows
