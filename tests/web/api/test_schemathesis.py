"""schemathesis over the whole OpenAPI schema: no 500s, and every answer matches the schema.

One test per operation and database, each with a handful of generated requests (no
shrinking), against the real engine and a real database. schemathesis' own pytest loader
(`from_fixture`) does not run on pytest 9, so each test draws cases from the operation's
Hypothesis strategy itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks

from app.engine.examples import EXAMPLES
from app.settings import Settings
from app.web.app import create_app

EXAMPLES_PER_OPERATION = 15
# No server errors, and status, content type, body and headers as documented. Not the
# "schema-valid data must be accepted" check: scenarios have rules JSON Schema cannot state
# (working set within RAM, unique device names, to - from <= 1000), answered with a 422.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]
# Random scenarios may never converge: a low step limit keeps each engine run short (a 422).
STEP_LIMIT = 1000
CPU_LIMIT_S = 1.0
# Generous: the machine running the suite may be busy; a hung request still fails.
REQUEST_TIMEOUT_S = 120


def _operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every API operation, read from an app that never touches a database."""
    app = create_app(Settings(database_url="sqlite://", migrate_on_start=False))
    return [
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
    ]


@pytest.fixture(scope="module")
def fuzzed_app(module_db_url: str) -> Iterator[FastAPI]:
    """One app and database per database kind for every operation: what the generated requests
    store only adds ids the next operations may meet."""
    # A CPU budget too: a generated scenario (or the reference example) ends within seconds.
    app = create_app(
        Settings(
            database_url=module_db_url, max_steps_per_run=STEP_LIMIT, max_run_cpu_s=CPU_LIMIT_S
        )
    )
    with TestClient(app) as client:
        # One stored run, so the generator can also meet ids that exist.
        assert client.post("/api/runs", json={"example": max(EXAMPLES)}).status_code == 201
    yield app
    app.state.engine.dispose()


def draw_cases(app: FastAPI, method: str, path: str, on_case: Callable[[Any], None]) -> None:
    """Give `on_case` each request the suite generates for one operation. The suite's
    Hypothesis profile derandomizes, so these are the same requests every run
    (tests/web/api/test_schemathesis_determinism.py checks it across processes)."""
    operation = schemathesis.openapi.from_asgi("/openapi.json", app)[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: schemathesis.Case) -> None:
        on_case(case)

    check()


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda value: str(value))
def test_openapi_contract(fuzzed_app: FastAPI, method: str, path: str) -> None:
    draw_cases(
        fuzzed_app,
        method,
        path,
        lambda case: case.call_and_validate(checks=CHECKS, timeout=REQUEST_TIMEOUT_S),
    )


# The 500s of issue 12, as explicit examples: each goes through the same schemathesis checks
# (no server error; status, content type and body as documented).
ISSUE_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/runs", {"query": {"status": "\x00"}}),
    ("GET", "/api/runs", {"query": {"page": 10**20}}),
    (
        "GET",
        "/api/runs/{run_id}/series",
        {"path_parameters": {"run_id": "RUN"}, "query": {"event_kinds": "\x00"}},
    ),
    ("GET", "/api/presentations/{session_id}", {"path_parameters": {"session_id": "a\x00b"}}),
    (
        "GET",
        "/api/presentations/{session_id}/events",
        {"path_parameters": {"session_id": "a\x00b"}},
    ),
    (
        "POST",
        "/api/presentations/{session_id}/step",
        {"path_parameters": {"session_id": "a\x00b"}, "body": {"step": 1}},
    ),
    ("GET", "/api/runs/{run_id}", {"path_parameters": {"run_id": "a\x00b"}}),
    *[
        (
            "POST",
            "/api/imports",
            {
                "body": {
                    "src_trace": b"1@1.0:migrate_set_state new state setup\n",
                    "clock_offset_ms": value,
                },
                "media_type": "multipart/form-data",
            },
        )
        for value in ("nan", "inf", "-inf", "1e308")
    ],
    (
        "POST",
        "/api/imports",
        {"body": {"src_trace": b"x", "title": "a\x01b"}, "media_type": "multipart/form-data"},
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "parts"), ISSUE_CASES, ids=lambda value: repr(value)[:60]
)
def test_issue_cases_through_schemathesis(
    fuzzed_app: FastAPI, method: str, path: str, parts: dict[str, Any]
) -> None:
    with TestClient(fuzzed_app) as client:
        run_id = client.get("/api/runs").json()["items"][0]["id"]  # any stored run
    if "path_parameters" in parts:
        parts = {
            **parts,
            "path_parameters": {
                k: run_id if v == "RUN" else v for k, v in parts["path_parameters"].items()
            },
        }
    operation = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)[path][method]
    case = operation.Case(**parts)
    response = case.call_and_validate(checks=CHECKS, timeout=REQUEST_TIMEOUT_S)
    assert 400 <= response.status_code < 500, response.text
