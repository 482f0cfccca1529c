"""What a client sends to start a run: a scenario, or an example with overrides.

The JSON API (POST /api/runs, /api/compare) and the New run form's progress stream take the
same body and turn it into a scenario the same way.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any

from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    StrictBool,
    Tag,
    ValidationError,
)

from app.engine.examples import EXAMPLES, load_example
from app.engine.scenario import Scenario
from app.settings import Settings

from .budgets import check_before_start
from .validation import EXAMPLE_TAG, SCENARIO_TAG, scenario_validation_error

_EXAMPLE_NAMES: list[JsonValue] = [*sorted(EXAMPLES)]
EVERY_PASS_DESCRIPTION = (
    "store one step per pre-copy pass (true), or runs of alike passes as one step each that "
    "says how many passes it stands for (false, the default). The summary is the same; a "
    "never-converging run is then up to one step per pass, within the step and stored-bytes "
    "budgets (GET /api/limits)"
)


def every_pass_field() -> Any:
    # Strict: "yes" or 1 is a 422 naming the field, not a quiet true.
    return Field(default=False, description=EVERY_PASS_DESCRIPTION)


class ScenarioRun(Scenario):
    """A scenario to run, and how its steps are stored (not part of the scenario itself)."""

    every_pass: StrictBool = every_pass_field()


class ExampleRun(BaseModel):
    """Run a named example scenario, with some of its fields changed."""

    model_config = ConfigDict(extra="forbid")

    example: str = Field(
        description="name of an example scenario (GET /api/examples)",
        json_schema_extra={"enum": _EXAMPLE_NAMES},
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="merged into the example: objects merge key by key, lists and values replace",
    )
    every_pass: StrictBool = every_pass_field()


def _which_request(value: Any) -> str:
    if isinstance(value, dict) and "example" in value:
        return EXAMPLE_TAG
    if isinstance(value, ExampleRun):
        return EXAMPLE_TAG
    return SCENARIO_TAG


RunRequest = Annotated[
    Annotated[ScenarioRun, Tag(SCENARIO_TAG)] | Annotated[ExampleRun, Tag(EXAMPLE_TAG)],
    Discriminator(_which_request),
]


def example_names() -> list[str]:
    return sorted(EXAMPLES)


def _load_example(name: str) -> dict[str, Any]:
    if name not in EXAMPLES:
        known = ", ".join(example_names())
        raise RequestValidationError(
            [
                {
                    "loc": ["body", "example"],
                    "msg": f"unknown example {name!r}; known: {known}",
                    "type": "value_error",
                }
            ]
        )
    return load_example(name)


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Objects merge key by key; lists and plain values replace (a device list is replaced whole)."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def wants_every_pass(body: Scenario | ExampleRun) -> bool:
    """Whether the request asks for one step per pass (a plain Scenario cannot)."""
    return bool(getattr(body, "every_pass", False))


def scenario_from_request(body: Scenario | ExampleRun) -> Scenario:
    if isinstance(body, ScenarioRun):
        # The engine's own model, without the storage option: the run's "scenario as given"
        # is the scenario (the fields the client set, as before).
        return Scenario.model_validate(body.model_dump(exclude_unset=True, exclude={"every_pass"}))
    if isinstance(body, Scenario):
        return body
    document = deep_merge(_load_example(body.example), body.overrides)
    try:
        return Scenario.model_validate(document)
    except ValidationError as error:
        # Paths are the scenario's own; they point into `overrides`, where the change was made.
        raise scenario_validation_error(error, ["body", "overrides"]) from None


def scenario_to_run(body: Scenario | ExampleRun, settings: Settings) -> Scenario:
    """The scenario a run request asks for, checked against this server's limits before any
    work (422 naming the field): what POST /api/runs, /api/compare and the New-run form share."""
    scenario = scenario_from_request(body)
    check_before_start(scenario, settings)
    return scenario
