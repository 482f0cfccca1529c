"""Response and request models of the JSON API (the OpenAPI schema at /docs shows them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.engine.trace import Event, Gate, Step, Summary
from app.store.models import RunListPublic, RunPublic

from ..comparison import CompareDiff
from ..urls import Urls

# Shape limits of the API. They are constants, not settings, because the OpenAPI schema
# states them (schemathesis and clients rely on it); app/settings.py holds the deployment ones.
PAGE_SIZE_DEFAULT = 20
PAGE_SIZE_MAX = 100
STEPS_WINDOW_DEFAULT = 100
STEPS_WINDOW_MAX = 1000
MAX_POINTS_DEFAULT = 2000
MAX_POINTS_MAX = 20_000


class ErrorResponse(BaseModel):
    detail: str = Field(description="what went wrong")
    message: str = Field(description="the same, as one readable sentence")


class ValidationErrorItem(BaseModel):
    loc: list[str | int] = Field(description="field path, e.g. [body, guest, ram_bytes]")
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    detail: list[ValidationErrorItem]
    message: str = Field(description="the errors as one readable text: path: message; ...")


def _json_error(model: type[BaseModel], description: str) -> dict[str, Any]:
    # Spelled out as application/json: FastAPI would otherwise document errors of a CSV
    # route as text/csv, and they are JSON like everywhere else.
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


# Every route can answer these (app-wide handlers and middleware, docs/security.md).
_ERRORS: list[tuple[int, type[BaseModel], str]] = [
    (400, ErrorResponse, "Host header not in trusted_hosts"),
    (401, ErrorResponse, "this instance needs a login (MIGSCOPE_AUTH)"),
    (403, ErrorResponse, "cross-site state change refused"),
    (404, ErrorResponse, "unknown run"),
    (413, ErrorResponse, "request body larger than max_request_bytes"),
    (422, ValidationErrorResponse, "invalid input; `loc` names the field"),
    (429, ErrorResponse, "too many creations from this client; see Retry-After"),
    (500, ErrorResponse, "internal error (details are only in the server log)"),
    (
        503,
        ErrorResponse,
        "every worker is busy and the queue is full, or the database is busy; see Retry-After",
    ),
]
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": model, "description": text} for status, model, text in _ERRORS
}
NON_JSON_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: _json_error(model, text) for status, model, text in _ERRORS
}


class RunLinks(BaseModel):
    page: str = Field(description="the run's page")
    json_page: str = Field(description="the page's JSON twin")
    api: str
    steps: str
    series: str
    export_csv: str
    export_json: str
    export_perfetto: str


class RunCreated(BaseModel):
    id: str = Field(description="128 random bits, URL-safe")
    title: str
    status: str
    step_count: int
    urls: RunLinks
    summary: Summary
    every_pass: bool = Field(
        description="one step per pre-copy pass (true), or alike passes collapsed (false)"
    )


class RunListItem(RunListPublic):
    total_time_ms: float | None
    downtime_ms: float | None
    every_pass: bool = Field(
        description="one step per pre-copy pass (true), or alike passes collapsed (false)"
    )
    urls: RunLinks


class RunPageOut(BaseModel):
    items: list[RunListItem]
    page: int
    per_page: int
    total: int
    next: str | None
    prev: str | None


class RunDetail(RunPublic):
    devices: list[dict[str, Any]] = Field(
        description="the devices as resolved (preset values filled in)"
    )
    passes_shown: str = Field(
        description="how the steps show the pre-copy passes, in words: 'every pass: ...' or "
        "'alike passes collapsed: 17 steps stand for 17,423 pre-copy passes'"
    )
    urls: RunLinks


class StepWindow(BaseModel):
    run_id: str
    start: int = Field(description="first step index (the `from` parameter)")
    stop: int = Field(description="one past the last index asked for (the `to` parameter)")
    step_count: int = Field(description="steps in the whole run")
    steps: list[Step]
    events: list[Event] = Field(description="events of these steps, in trace order")
    next: str | None


class StepDetail(BaseModel):
    run_id: str
    index: int
    step: Step
    events: list[Event]
    explanation: str = Field(
        description="what happened in this step and which gate holds switchover"
    )
    gates_held: list[Gate] = Field(description="the gates that are closed after this step")
    prev: str | None
    next: str | None


class Series(BaseModel):
    key: str = Field(description="field, or device/field for a per-device series")
    field: str
    device: str | None
    unit: str = Field(description="bytes, bytes_per_s, ms or count")
    x_ms: list[float] = Field(description="step end times, ms since `migrate`")
    y: list[int | float] = Field(
        description="values; steps where the value is unknown are left out"
    )
    points_total: int = Field(description="points before downsampling")
    downsampled: bool


class SeriesOut(BaseModel):
    run_id: str
    from_ms: float | None
    to_ms: float | None
    max_points: int
    series: list[Series]
    event_kinds: list[str] | None = Field(description="kinds returned; null = all")
    events: list[Event] = Field(description="every matching event in the range: never downsampled")


class CompareSide(BaseModel):
    id: str
    title: str
    status: str
    urls: RunLinks
    summary: Summary


class CompareOut(BaseModel):
    a: CompareSide
    b: CompareSide
    diff: CompareDiff
    page: str = Field(description="the comparison page")
    api: str = Field(description="GET form of this comparison")
    engine_note: str | None = Field(
        default=None,
        description="set when the two runs were made by different engine versions (an "
        "uploaded trace from another migscope): their differences may come from the engines",
    )


class LimitsOut(BaseModel):
    scenario: dict[str, Any] = Field(
        description="app.engine.scenario.LIMITS: ranges are [low, high]"
    )
    store: dict[str, int]


def run_links(urls: Urls, run_id: str) -> RunLinks:
    return RunLinks(
        page=urls.run(run_id),
        json_page=urls.run_json(run_id),
        api=urls.api_run(run_id),
        steps=urls.api_run_steps(run_id),
        series=urls.api_run_series(run_id),
        export_csv=urls.export_csv(run_id),
        export_json=urls.export_json(run_id),
        export_perfetto=urls.export_perfetto(run_id),
    )
