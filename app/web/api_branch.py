"""POST /api/runs/{id}/branch: "What if the operator had done X at step N?"

The stored run's scenario (as given) gets one more user action, at the end time of step N,
and runs again. The engine is deterministic and applies an action at the first pass at or
after its `at_ms`, so the branch replays the original exactly up to step N and differs only
from there on: a branch, not a new story (style guide section 3, "Branch, do not delete the
future"). The parent is recorded in the branch's title and description (no schema change).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from app.engine.scenario import LIMITS, Action, Params, Scenario
from app.engine.simulation import Simulation
from app.engine.trace import Step, Trace
from app.engine.units import format_bytes, format_ms, format_rate
from app.settings import Settings
from app.store.models import Run, StepRow
from app.store.runs import load_step

from . import urls as paths
from .api_errors import validation_items
from .api_models import ERROR_RESPONSES, RunCreated
from .api_runner import off_loop, simulate_and_store
from .api_runs import created
from .charts import vertical_line
from .deps import EngineDep, RunDep, SessionDep, SettingsDep, UrlsDep
from .urls import Urls

router = APIRouter(tags=["runs"], responses=ERROR_RESPONSES)

# The parameters a set_parameters action may carry, in the engine's own order.
PARAMETER_FIELDS = ("downtime_limit_ms", "max_bandwidth_bytes_per_s", "avail_switchover_bandwidth_bytes_per_s")
# Phases of a pre-copy pass: user actions are applied only at the start of one (the engine's
# main loop calls apply_actions before each iteration_pass, never during the switchover).
PRECOPY_PHASES = ("setup", "iterate")


class _ActionChecks(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="after")
    def _engine_rules(self) -> _ActionChecks:
        # The engine's own rule about which fields go with which kind (Action._fields_match_kind);
        # at_ms is only a stand-in here, the endpoint sets the real one.
        try:
            Action.model_validate({"at_ms": 0.0, **self.model_dump(exclude_none=True)})
        except ValidationError as error:
            first = error.errors()[0]
            cause = first.get("ctx", {}).get("error")
            raise ValueError(str(cause) if cause is not None else first["msg"]) from None
        return self


# Every field of the engine's Action but at_ms (taken from the step), with the same types and
# limits: a new Action field shows up here without a second definition to keep in step.
if TYPE_CHECKING:
    BranchAction = _ActionChecks  # what type checkers see; pydantic builds the real model below
else:
    BranchAction = create_model(
        "BranchAction",
        __base__=_ActionChecks,
        __doc__="What the operator does: kind and, for set_parameters, at least one parameter.",
        **{name: (info.annotation, info) for name, info in Action.model_fields.items() if name != "at_ms"},
    )


class BranchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at_step: int = Field(ge=0, le=10_000_000, description="the step after which the action applies (its end_ms is at_ms)")
    action: BranchAction = Field(description="kind and parameters, as in a scenario's `actions` (without at_ms)")


class BranchParent(BaseModel):
    id: str = Field(description="the run this branch was made from")
    step: int = Field(description="the step of the parent after which the action applies")
    at_ms: float = Field(description="the end of that step as stored (0.001 ms), ms since `migrate`")


class BranchCreated(RunCreated):
    parent: BranchParent
    action: dict[str, Any] = Field(
        description="the action as appended to the scenario's `actions`; at_ms is the engine's exact "
        "(unrounded) end of the step"
    )
    compare: str = Field(description="comparison page: the parent as a, the branch as b")
    compare_api: str = Field(description="GET /api/compare of the same pair")


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
        parts.append(f"avail-switchover-bandwidth {format_rate(action['avail_switchover_bandwidth_bytes_per_s'])}")
    return ", ".join(parts)


def branch_title(title: str, at_ms: float, label: str) -> str:
    """`title [branch at 5.00 s: label]`, the original shortened so the 200-character limit holds."""
    suffix = f" [branch at {format_ms(at_ms)}: {label}]"
    room = LIMITS["title_chars"] - len(suffix)
    base = title if len(title) <= room else title[: max(room - 1, 0)] + "…"
    return (base + suffix)[: LIMITS["title_chars"]]


def branch_description(description: str, parent_id: str, step: int, at_ms: float, label: str) -> str:
    note = (
        f"What-if branch of run {parent_id} at step {step} ({format_ms(at_ms)}): {label}. "
        f"Up to that step it replays the original exactly."
    )
    room = LIMITS["description_chars"] - len(note) - 2
    base = description if len(description) <= room else description[: max(room - 1, 0)] + "…"
    return f"{base}\n\n{note}" if base else note


def _action_error(error: ValidationError, index: int | None) -> RequestValidationError:
    """Scenario (index = the new action's) or Action (index None) errors, as paths into the
    request's `action`."""
    items = []
    for item in validation_items(error.errors()):
        loc, msg = list(item["loc"]), item["msg"]
        prefix = f"actions.{index}."
        if index is None:
            loc = ["body", "action", *loc]
        elif loc[:2] == ["actions", index]:
            loc = ["body", "action", *loc[2:]]
        elif msg.startswith(prefix):
            # A scenario-level rule (e.g. the QEMU profile) names the field in its message.
            field, _, rest = msg[len(prefix) :].partition(":")
            loc, msg = ["body", "action", field], rest.strip() or msg
        elif loc == ["actions"]:
            loc = ["body", "action"]
        else:
            loc = ["body", "action", *loc]
        items.append({**item, "loc": loc, "msg": msg})
    return RequestValidationError(items)


def last_branchable_step(session: Session, run_id: str) -> int:
    """The last step after which another pre-copy pass followed (-1 if none did)."""
    query = select(func.max(col(StepRow.index))).where(
        col(StepRow.run_id) == run_id, col(StepRow.phase).in_(PRECOPY_PHASES)
    )
    last_pass = session.execute(query).scalar()
    return -1 if last_pass is None else int(last_pass) - 1


def branch_scenario(run: Run, step_index: int, at_ms: float, action: dict[str, Any]) -> Scenario:
    """The parent's scenario as given, plus the action at `at_ms` (earlier actions kept)."""
    document = copy.deepcopy(run.scenario)
    appended = {"at_ms": at_ms, **action}
    actions = [*document.get("actions", []), appended]
    try:
        label = action_label(Action.model_validate(appended).model_dump(mode="json"))
    except ValidationError as error:
        raise _action_error(error, None) from None
    document["actions"] = actions
    document["title"] = branch_title(run.title, at_ms, label)
    document["description"] = branch_description(run.description or "", run.id, step_index, at_ms, label)
    try:
        return Scenario.model_validate(document)
    except ValidationError as error:
        raise _action_error(error, len(actions) - 1) from None


def exact_end_ms(scenario: Scenario, n: int, max_steps: int) -> float | None:
    """The engine's own, unrounded end time of step n (None if the replay never reaches it).

    Stored steps round times to 0.001 ms, and the engine applies an action at the first pass
    whose start is >= at_ms (and wakes an idle pass at at_ms): only the exact float makes the
    action apply right after step n and leaves steps 0..n untouched. The engine is
    deterministic, so replaying the parent's scenario up to step n gives that float.
    """
    simulation = Simulation(scenario, max_steps=max_steps)
    while (step := simulation.step()) is not None:
        if step.index == n:
            return float(simulation.t)
    return None


def branch_and_store(
    engine: Engine, run: Run, parent: Scenario, step: Step, action: dict[str, Any], max_steps: int
) -> tuple[str, Trace, Scenario]:
    """Blocking: replay the parent to step n, run the branch, store it (one transaction)."""
    at_ms = exact_end_ms(parent, step.index, max_steps)
    scenario = branch_scenario(run, step.index, step.end_ms if at_ms is None else at_ms, action)
    [(branch_id, trace)] = simulate_and_store(engine, [scenario], max_steps)
    return branch_id, trace, scenario


async def branch_off_loop(
    engine: Engine, run: Run, parent: Scenario, step: Step, action: dict[str, Any], settings: Settings
) -> tuple[str, Trace, Scenario]:
    """branch_and_store in a worker thread under the same limiter as POST /api/runs
    (app.web.api_runner.simulate_and_store_off_loop): at most max_concurrent_runs engines."""
    return await off_loop(settings, branch_and_store, engine, run, parent, step, action, settings.max_steps_per_run)


@router.post(paths.API_RUN_BRANCH_PATH, status_code=201, response_model=BranchCreated)
async def create_branch(
    run: RunDep,
    body: Annotated[BranchRequest, Body(description="at_step and the action the operator takes after it")],
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    urls: UrlsDep,
    response: Response,
) -> BranchCreated:
    """What if the operator had acted after step `at_step`? Run the stored scenario again with
    that action added, store the branch, answer like POST /api/runs plus the parent and the
    comparison URL (parent = a, branch = b)."""
    if run.source == "import":
        raise RequestValidationError([{
            "loc": ["path", "run_id"], "type": "value_error",
            "msg": f"run {run.id} was imported from QEMU logs: it has no scenario to branch "
                   "(use Simulate this, then branch the simulation)",
        }])
    step = load_step(session, run.id, body.at_step)
    if step is None:
        raise HTTPException(status_code=404, detail=f"run {run.id} has no step {body.at_step} (it has {run.step_count})")
    last = last_branchable_step(session, run.id)
    if body.at_step > last:
        where = f"branch from step {last} or earlier" if last >= 0 else "no step of this run can be branched"
        raise RequestValidationError([{
            "loc": ["body", "at_step"], "type": "value_error",
            "msg": f"no pre-copy pass follows step {body.at_step} (the migration had switched over or ended), "
                   f"so an action there changes nothing: {where}",
        }])
    action = body.action.model_dump(exclude_none=True)
    # Refuse a bad action before any engine time is spent (the stored time is within 0.0005 ms
    # of the exact one, which changes no validation rule).
    branch_scenario(run, step.index, step.end_ms, action)
    parent = Scenario.model_validate(run.scenario)
    branch_id, trace, scenario = await branch_off_loop(engine, run, parent, step, action, settings)
    response.headers["Location"] = urls.api_run(branch_id)
    base = created(urls, branch_id, trace.title, trace.summary.status, len(trace.steps), trace.summary)
    return BranchCreated(
        **base.model_dump(),
        parent=BranchParent(id=run.id, step=step.index, at_ms=step.end_ms),
        action=scenario.actions[-1].model_dump(mode="json", exclude_none=True),
        compare=urls.compare(run.id, branch_id),
        compare_api=urls.api_compare(run.id, branch_id),
    )


# ---------------------------------------------------------------- the run page's form


def params_at(run: Run, at_ms: float | None) -> dict[str, Any]:
    """The parameters in force when an action at `at_ms` applies: the scenario's, changed by
    its own earlier set_parameters actions (an equal at_ms applies before the new one)."""
    try:
        scenario = Scenario.model_validate(run.scenario)
    except ValidationError:
        return {"params": Params().model_dump(mode="json"), "paused": False, "actions": []}
    current = scenario.params.model_dump(mode="json")
    paused = False
    for action in sorted(scenario.actions, key=lambda a: a.at_ms):
        if at_ms is None or action.at_ms > at_ms:
            break
        paused = paused or action.kind == "pause_guest"
        for key in PARAMETER_FIELDS:
            if getattr(action, key) is not None:
                current[key] = getattr(action, key)
    return {
        "params": current,
        "paused": paused,
        "base": scenario.params.model_dump(mode="json"),
        "actions": [a.model_dump(mode="json") for a in scenario.actions],
    }


def branch_panel(run: Run, step: Step | None, urls: Urls) -> dict[str, Any] | None:
    """What templates/_branch.html needs; None for imported runs (no scenario to branch)."""
    if run.source == "import":
        return None
    state = params_at(run, step.end_ms if step is not None else None)
    params = state["params"]
    summary = run.summary or {}
    return {
        "url": urls.api_run_branch(run.id),
        "step": step.index if step is not None else 0,
        "at_ms": step.end_ms if step is not None else 0.0,
        # Actions after this time change nothing (switchover started, or the run ended): a
        # hint for the page; the API decides from the stored phases.
        "until_ms": summary.get("switchover_started_at_ms") or summary.get("total_time_ms"),
        "paused": state["paused"],
        "state": state,
        "placeholders": {
            "downtime_limit_ms": f"{params['downtime_limit_ms']:g}",
            "max_bandwidth_bytes_per_s": format_bytes(params["max_bandwidth_bytes_per_s"]),
            "avail_switchover_bandwidth_bytes_per_s": format_bytes(params["avail_switchover_bandwidth_bytes_per_s"]),
        },
        "now": {
            "downtime_limit_ms": format_ms(params["downtime_limit_ms"]),
            "max_bandwidth_bytes_per_s": "no limit" if not params["max_bandwidth_bytes_per_s"]
            else format_rate(params["max_bandwidth_bytes_per_s"]),
            "avail_switchover_bandwidth_bytes_per_s": "0 (the measured bandwidth is used)"
            if not params["avail_switchover_bandwidth_bytes_per_s"]
            else format_rate(params["avail_switchover_bandwidth_bytes_per_s"]),
        },
    }


# ---------------------------------------------------------------- the comparison page


def branch_points(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Actions one run's scenario has and the other's lacks: where a what-if branch left its
    parent (empty for two unrelated runs, or for imported ones, which have no actions).
    `run` says which side ("a" or "b") has the action, i.e. is the branch."""
    actions_a = [x for x in (a.get("scenario") or {}).get("actions", []) if isinstance(x, dict)]
    actions_b = [x for x in (b.get("scenario") or {}).get("actions", []) if isinstance(x, dict)]
    extra = [("b", x) for x in actions_b if x not in actions_a] + [("a", x) for x in actions_a if x not in actions_b]
    points = []
    for side, action in extra:
        try:
            parsed = Action.model_validate(action).model_dump(mode="json")
        except ValidationError:
            continue
        points.append({"at_ms": parsed["at_ms"], "label": action_label(parsed), "run": side})
    return sorted(points, key=lambda p: p["at_ms"])


def branch_sentence(points: list[dict[str, Any]]) -> str | None:
    """For the comparison's headline: which run branches from which, when, and how."""
    if not points or len({p["run"] for p in points}) != 1:
        return None  # no branch pair, or both sides have actions of their own
    child, parent = ("B", "A") if points[0]["run"] == "b" else ("A", "B")
    first, later = points[0], points[1:]
    more = "".join(f"; at {format_ms(p['at_ms'])}, {p['label']}" for p in later)
    return (f"{child} is a what-if branch of {parent}: the same run until {format_ms(first['at_ms'])}, "
            f"then {first['label']}{more}.")


def add_branch_lines(figure: dict[str, Any], points: list[dict[str, Any]]) -> None:
    """A full-height dash-dot line, labelled, at each branch point of a time chart (seconds)."""
    layout = figure["layout"]
    for point in points:
        x = point["at_ms"] / 1000.0
        layout.setdefault("shapes", []).append(
            vertical_line("branch", x, {"color": "#CC79A7", "width": 2, "dash": "dashdot"}, "above"))
        layout.setdefault("annotations", []).append({
            "name": "branch", "x": x, "xref": "x", "y": 0.02, "yref": "paper", "xanchor": "left", "yanchor": "bottom",
            "text": f"what if: {point['label']}", "showarrow": False, "font": {"color": "#CC79A7", "size": 12},
            "bgcolor": "rgba(255,255,255,0.85)",
        })
