"""What-if branches, the web's wording: labels and titles of a branch, where two runs part on
the comparison's charts, the parameters in force for the pages.

A branch is its parent's scenario plus one user action keyed by step (`after_step`; see
app/web/api/branch.py, which creates them). The rules (when an action applies, what is in
force after a step) are the engine's, app/engine/branch.py; nothing here touches the database.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from app import __version__
from app.engine.branch import params_after_step
from app.engine.scenario import LIMITS, Action, Params, Scenario
from app.engine.units import format_ms, format_rate

# Phases of a pre-copy pass: user actions are applied only at the start of one (the engine's
# main loop calls apply_actions before each iteration_pass, never during the switchover).
PRECOPY_PHASES = ("setup", "iterate")


def action_label(action: dict[str, Any]) -> str:
    """A few words for the title: "downtime-limit 2000 ms", "guest paused", "migrate_cancel"."""
    kind = action["kind"]
    if kind == "pause_guest":
        return "guest paused"
    if kind == "cancel":
        return "migrate_cancel"
    parts = []
    if action.get("downtime_limit_ms") is not None:
        parts.append(f"downtime-limit {action['downtime_limit_ms']:g} ms")
    if action.get("max_bandwidth_bytes_per_s") is not None:
        parts.append(f"max-bandwidth {format_rate(action['max_bandwidth_bytes_per_s'])}")
    if action.get("avail_switchover_bandwidth_bytes_per_s") is not None:
        parts.append(
            f"avail-switchover-bandwidth {format_rate(action['avail_switchover_bandwidth_bytes_per_s'])}"
        )
    return ", ".join(parts)


def branch_title(title: str, at_ms: float, label: str) -> str:
    """`title [branch at 5.00 s: label]`, the original shortened so the 200-character limit holds."""
    suffix = f" [branch at {format_ms(at_ms)}: {label}]"
    room = LIMITS["title_chars"] - len(suffix)
    base = title if len(title) <= room else title[: max(room - 1, 0)] + "…"
    return (base + suffix)[: LIMITS["title_chars"]]


def branch_description(
    description: str,
    parent_id: str,
    step: int,
    at_ms: float,
    label: str,
    *,
    parent_engine: str | None = None,
) -> str:
    """The branch's description; `parent_engine` (the parent's engine_version, given when it
    is not this server's) replaces the promise of an exact replay with what is known."""
    replay = (
        "Up to that step it replays the original exactly."
        if parent_engine is None
        else f"The original was made by engine {parent_engine}, this branch by engine "
        f"{__version__}: up to that step it may differ from the original."
    )
    note = (
        f"What-if branch of run {parent_id} at step {step} ({format_ms(at_ms)}): {label}. {replay}"
    )
    room = LIMITS["description_chars"] - len(note) - 2
    base = description if len(description) <= room else description[: max(room - 1, 0)] + "…"
    return f"{base}\n\n{note}" if base else note


def params_at(
    scenario_document: dict[str, Any], at_ms: float, step: int | None = None
) -> dict[str, Any]:
    """The parameters in force for the pass after step `step` (which ended at `at_ms`): the
    engine's rule (app.engine.branch.params_after_step), here only for the pages."""
    try:
        scenario = Scenario.model_validate(scenario_document)
    except ValidationError:
        return {"params": Params().model_dump(mode="json"), "paused": False, "actions": []}
    state = params_after_step(scenario, -1 if step is None else step, at_ms)
    return {
        "params": state.params,
        "paused": state.paused,
        "base": state.base,
        "actions": [a.model_dump(mode="json", exclude_none=True) for a in scenario.actions],
    }


def branch_points(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Actions one run's scenario has and the other's lacks: where a what-if branch left its
    parent (empty for two unrelated runs, or for imported ones, which have no actions).
    `run` says which side ("a" or "b") has the action, i.e. is the branch."""
    actions_a = [x for x in (a.get("scenario") or {}).get("actions", []) if isinstance(x, dict)]
    actions_b = [x for x in (b.get("scenario") or {}).get("actions", []) if isinstance(x, dict)]
    extra = [("b", b, i, x) for i, x in enumerate(actions_b) if x not in actions_a] + [
        ("a", a, i, x) for i, x in enumerate(actions_a) if x not in actions_b
    ]
    points = []
    for side, run, index, action in extra:
        try:
            parsed = Action.model_validate(action).model_dump(mode="json")
        except ValidationError:
            continue
        at_ms = parsed["at_ms"]
        if at_ms is None:
            # A step-keyed action: the engine's summary says when it applied.
            applied = (run.get("summary") or {}).get("actions_at_ms") or []
            at_ms = applied[index] if index < len(applied) else None
        if at_ms is None:
            continue  # never applied (the run ended first): no point to mark
        points.append({"at_ms": at_ms, "label": action_label(parsed), "run": side})
    return sorted(points, key=lambda p: p["at_ms"])


def branch_sentence(points: list[dict[str, Any]]) -> str | None:
    """For the comparison's headline: which run branches from which, when, and how."""
    if not points or len({p["run"] for p in points}) != 1:
        return None  # no branch pair, or both sides have actions of their own
    child, parent = ("B", "A") if points[0]["run"] == "b" else ("A", "B")
    first, later = points[0], points[1:]
    more = "".join(f"; at {format_ms(p['at_ms'])}, {p['label']}" for p in later)
    return (
        f"{child} is a what-if branch of {parent}: the same run until {format_ms(first['at_ms'])}, "
        f"then {first['label']}{more}."
    )
