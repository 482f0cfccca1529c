"""POST /api/runs/{id}/branch: "What if the operator had done X at step N?"

The stored run's scenario (as given) gets one more user action keyed by step
(`after_step: N`) and runs again. The engine is deterministic and applies such an action at
the first pass after step N (app/engine/branch.py), so the branch replays the original
exactly up to step N and differs only from there on: a branch, not a new story (style guide
section 3, "Branch, do not delete the future"). No replay of the parent is needed to place
it. The parent is recorded in the branch's title and description (no schema change).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator
from sqlmodel import Session

from app.engine.scenario import Action, Scenario
from app.store.models import Run
from app.store.runs import first_step_not_replayed, last_step_in_phases, load_step

from .. import urls as paths
from ..branching import PRECOPY_PHASES, action_label, branch_description, branch_title
from ..budgets import Budget
from ..deps import EngineDep, RunDep, SessionDep, SettingsDep, UrlsDep
from ..jobs import simulate_and_store_job
from ..provenance import branch_warning, versions_differ
from ..runner import storage
from ..validation import validation_items
from ..workers import get_pool
from .models import ERROR_RESPONSES, RunCreated
from .runs import created

router = APIRouter(tags=["runs"], responses=ERROR_RESPONSES)


class _ActionChecks(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="after")
    def _engine_rules(self) -> _ActionChecks:
        # The engine's own rule about which fields go with which kind (Action._fields_match_kind);
        # after_step is only a stand-in here, the endpoint sets the real one.
        try:
            Action.model_validate({"after_step": 0, **self.model_dump(exclude_none=True)})
        except ValidationError as error:
            first = error.errors()[0]
            cause = first.get("ctx", {}).get("error")
            raise ValueError(str(cause) if cause is not None else first["msg"]) from None
        return self


# Every field of the engine's Action but at_ms and after_step (the step is the request's
# at_step), with the same types and
# limits: a new Action field shows up here without a second definition to keep in step.
if TYPE_CHECKING:
    BranchAction = _ActionChecks  # what type checkers see; pydantic builds the real model below
else:
    BranchAction = create_model(
        "BranchAction",
        __base__=_ActionChecks,
        __doc__="What the operator does: kind and, for set_parameters, at least one parameter.",
        **{
            name: (info.annotation, info)
            for name, info in Action.model_fields.items()
            if name not in ("at_ms", "after_step")
        },
    )


class BranchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at_step: int = Field(
        ge=0,
        le=10_000_000,
        description="the step after which the action applies (the action's after_step)",
    )
    action: BranchAction = Field(
        description="kind and parameters, as in a scenario's `actions` (without at_ms or after_step)"
    )


class BranchParent(BaseModel):
    id: str = Field(description="the run this branch was made from")
    step: int = Field(description="the step of the parent after which the action applies")
    at_ms: float = Field(
        description="the end of that step as stored (0.001 ms), ms since `migrate` (for the title)"
    )


class BranchCreated(RunCreated):
    parent: BranchParent
    action: dict[str, Any] = Field(
        description="the action as appended to the scenario's `actions`: after_step is the step"
    )
    compare: str = Field(description="comparison page: the parent as a, the branch as b")
    compare_api: str = Field(description="GET /api/compare of the same pair")
    warning: str | None = Field(
        default=None,
        description="set when the parent's engine_version is not this server's (the branch "
        "is simulated by this server's engine, so its steps 0..N may differ from the "
        "parent's; the answer says whether they do), or when the stored steps 0..N differ "
        "from the parent's although the versions are equal; null otherwise",
    )


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


def replay_warning(run: Run, step_index: int, first_different: int | None) -> str | None:
    """What the branch answer says about steps 0..N: the parent's engine version when it is
    not this server's, and whether the stored steps really are the parent's."""
    checked = (
        f"its steps 0..{step_index} were compared with the parent's and are equal"
        if first_different is None
        else f"its step {first_different} differs from the parent's (steps 0..{step_index} "
        "were compared)"
    )
    if versions_differ(run):
        return f"{branch_warning(run)}; {checked}"
    if first_different is None:
        return None
    # The same version and yet another step: an edited upload, or a trace stamped 0.1.0 (the
    # version named the engine's output only from 0.2.0, tests/engine/test_engine_version.py).
    return (
        f"run {run.id} and this branch both say engine {run.engine_version}, yet {checked}: the "
        "parent was made by another build of the engine, or is an edited trace"
    )


def last_branchable_step(session: Session, run_id: str) -> int:
    """The last step after which another pre-copy pass followed (-1 if none did)."""
    last_pass = last_step_in_phases(session, run_id, PRECOPY_PHASES)
    return -1 if last_pass is None else last_pass - 1


def branch_scenario(run: Run, step_index: int, at_ms: float, action: dict[str, Any]) -> Scenario:
    """The parent's scenario as given, plus the action after step `step_index` (earlier
    actions kept); `at_ms`, the step's stored end, only words the title and description."""
    document = copy.deepcopy(run.scenario)
    appended = {"after_step": step_index, **action}
    actions = [*document.get("actions", []), appended]
    try:
        label = action_label(Action.model_validate(appended).model_dump(mode="json"))
    except ValidationError as error:
        raise _action_error(error, None) from None
    document["actions"] = actions
    document["title"] = branch_title(run.title, at_ms, label)
    document["description"] = branch_description(
        run.description or "",
        run.id,
        step_index,
        at_ms,
        label,
        parent_engine=run.engine_version if versions_differ(run) else None,
    )
    try:
        return Scenario.model_validate(document)
    except ValidationError as error:
        raise _action_error(error, len(actions) - 1) from None


@router.post(paths.API_RUN_BRANCH_PATH, status_code=201, response_model=BranchCreated)
async def create_branch(
    run: RunDep,
    body: Annotated[
        BranchRequest, Body(description="at_step and the action the operator takes after it")
    ],
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
        raise RequestValidationError(
            [
                {
                    "loc": ["path", "run_id"],
                    "type": "value_error",
                    "msg": f"run {run.id} was imported from QEMU logs: it has no scenario to branch "
                    "(use Simulate this, then branch the simulation)",
                }
            ]
        )
    step = load_step(session, run.id, body.at_step)
    if step is None:
        raise HTTPException(
            status_code=404,
            detail=f"run {run.id} has no step {body.at_step} (it has {run.step_count})",
        )
    last = last_branchable_step(session, run.id)
    if body.at_step > last:
        where = (
            f"branch from step {last} or earlier"
            if last >= 0
            else "no step of this run can be branched"
        )
        raise RequestValidationError(
            [
                {
                    "loc": ["body", "at_step"],
                    "type": "value_error",
                    "msg": f"no pre-copy pass follows step {body.at_step} (the migration had switched over or ended), "
                    f"so an action there changes nothing: {where}",
                }
            ]
        )
    action = body.action.model_dump(exclude_none=True)
    scenario = branch_scenario(run, step.index, step.end_ms, action)
    # The branch runs with this server's engine; a parent made by another engine version (an
    # uploaded export.json) is still branched, and the answer's `warning` says what that means.
    # The branch runs in a worker process like any run; it is as visible as its parent, and
    # its steps are stored as the parent's are (every pass, or alike passes collapsed), so
    # steps 0..N are the parent's, step for step.
    [stored] = await get_pool(settings).run(
        simulate_and_store_job,
        storage(settings, run.visibility),
        [scenario],
        Budget.from_settings(settings),
        run.every_pass,
    )
    branch_id = stored.id
    response.headers["Location"] = urls.api_run(branch_id)
    base = created(urls, stored)
    return BranchCreated(
        **base.model_dump(),
        parent=BranchParent(id=run.id, step=step.index, at_ms=step.end_ms),
        action=scenario.actions[-1].model_dump(mode="json", exclude_none=True),
        compare=urls.compare(run.id, branch_id),
        compare_api=urls.api_compare(run.id, branch_id),
        warning=replay_warning(
            run, step.index, first_step_not_replayed(engine, run.id, branch_id, step.index)
        ),
    )
