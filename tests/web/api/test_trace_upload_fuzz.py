"""Hypothesis over an uploaded migscope trace (POST /api/imports, field `migscope_trace`): a real
export with one value replaced anywhere in it (extreme numbers, NUL, wrong types) or its bytes
cut or spliced. Every answer is a 201 or a 4xx naming the field, never a 500; nothing is stored
unless it is a 201; a stored run's pages and exports open, and its export.json comes back as
an unmodified export (canonical). SQLite and PostgreSQL (`module_db_url`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.settings import Settings
from app.web.app import create_app
from app.web.urls import Urls
from tests.web.api.test_trace_upload import stored_rows

URLS = Urls()


@pytest.fixture(scope="module")
def client(module_db_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=module_db_url))
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


@pytest.fixture(scope="module")
def original(client: TestClient) -> tuple[str, bytes]:
    created = client.post(URLS.api_runs(), json={"example": "mlx5-300mb-ack"}).json()
    return created["id"], client.get(URLS.export_json(created["id"])).content


NUMBERS = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 2**53, 2**53 + 1, -(2**63), 2**64, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 1e16, 5e-324, -0.0]),
)
STRINGS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "\x00", "a\x00b", "iterate", "completed", "import", "vm_stop", "x" * 300]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, STRINGS)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _replace(document: Any, choices: list[int], value: Any, like: st.DataObject | None) -> Any:
    """The document with the value at a path (picked by `choices`) replaced by `value`, or
    (with `like`) by a value of the same JSON type drawn from it: the model then mostly
    accepts the file, and what the store and the pages make of odd values is tried."""
    if not choices or not isinstance(document, dict | list) or not document:
        if like is None or isinstance(document, dict | list):
            return value
        if isinstance(document, bool):
            return like.draw(st.booleans())
        if isinstance(document, int | float):
            return like.draw(NUMBERS)
        return like.draw(STRINGS if isinstance(document, str) else SCALARS)
    keys = list(document) if isinstance(document, dict) else list(range(len(document)))
    key = keys[choices[0] % len(keys)]
    document[key] = _replace(document[key], choices[1:], value, like)
    return document


def _dumps(document: Any) -> bytes:
    try:
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    except ValueError:  # a number too large for Python's own JSON writer: write it as text
        return json.dumps(document, default=str).encode()


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    choices=st.lists(st.integers(0, 10_000), min_size=1, max_size=6),
    value=VALUES,
    same_type=st.booleans(),
    data=st.data(),
    splice=st.one_of(
        st.none(), st.tuples(st.integers(0, 140_000), st.integers(0, 40), st.binary(max_size=4))
    ),
)
def test_any_edit_of_an_export_is_201_or_a_4xx_naming_the_field(
    client: TestClient,
    original: tuple[str, bytes],
    choices: list[int],
    value: Any,
    same_type: bool,
    data: st.DataObject,
    splice: tuple[int, int, bytes] | None,
) -> None:
    run_id, exported = original
    if splice is None:
        body = _dumps(_replace(json.loads(exported), choices, value, data if same_type else None))
    else:
        at, cut, insert = splice
        body = exported[:at] + insert + exported[at + cut :]
    before = stored_rows(client.app)  # type: ignore[arg-type]
    response = client.post(URLS.api_imports(), files={"migscope_trace": ("edited.json", body)})
    assert response.status_code < 500, response.text
    if response.status_code != 201:
        assert 400 <= response.status_code < 500
        detail = response.json()["detail"]
        assert detail[0]["loc"] == ["body", "migscope_trace"], detail
        assert stored_rows(client.app) == before  # type: ignore[arg-type]
        return
    event("stored")
    new_id = response.json()["id"]
    step_count = response.json()["step_count"]
    for url in (
        URLS.run(new_id),
        URLS.run_json(new_id),
        URLS.api_run(new_id),
        URLS.api_run_steps(new_id),
        URLS.api_run_step(new_id, step_count - 1),
        URLS.run_step(new_id, step_count - 1),
        URLS.api_run_series(new_id),
        URLS.export_csv(new_id),
        URLS.export_perfetto(new_id),
        URLS.api_compare(run_id, new_id),
        URLS.compare(run_id, new_id),
    ):
        assert client.get(url).status_code == 200, url
    again = client.get(URLS.export_json(new_id)).content
    back = client.post(URLS.api_imports(), files={"migscope_trace": ("again.json", again)})
    assert back.status_code == 201 and back.json()["trace"]["canonical"] is True
    assert client.get(URLS.export_json(back.json()["id"])).content == again
