"""Hypothesis over every field of POST /api/imports (the six files, title, clock_offset_ms,
visibility, and the file names): any value is a 201 or a 4xx naming a field, never a 500, and
nothing is stored unless the answer is 201."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.settings import Settings
from app.web.api.imports import FIELDS
from app.web.app import create_app

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "qemu"
REAL = {
    "src_trace": next(FIXTURES.glob("*.src.trace.log")).read_bytes()[:20_000],
    "dst_trace": next(FIXTURES.glob("*.dst.trace.log")).read_bytes()[:20_000],
    "src_events": next(FIXTURES.glob("*.src.events.jsonl")).read_bytes(),
}
TEXT_ANY = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
FILE_BYTES = st.one_of(
    st.binary(max_size=2000),
    TEXT_ANY.map(str.encode),
    st.sampled_from(list(REAL.values())),
    # Real lines with a mutation: a truncated tail, or a control character inside.
    st.tuples(
        st.sampled_from(list(REAL.values())),
        st.integers(0, 5000),
        st.sampled_from([b"", b"\x00", b"\x1b", b"\xff"]),
    ).map(lambda part: part[0][: part[1]] + part[2] + part[0][part[1] :]),
)
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e308", "-1e308", "", " ", "0x10", "1_000", "\x00"]),
    TEXT_ANY,
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'm.db'}"))
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    files=st.dictionaries(st.sampled_from(FIELDS), st.tuples(TEXT_ANY, FILE_BYTES), max_size=3),
    title=st.one_of(st.none(), TEXT_ANY),
    clock_offset_ms=st.one_of(st.none(), NUMBERS),
    visibility=st.one_of(st.none(), st.sampled_from(["listed", "unlisted", "public", "\x00"])),
)
def test_any_import_form_is_201_or_a_4xx_naming_a_field(
    client: TestClient,
    files: dict[str, tuple[str, bytes]],
    title: str | None,
    clock_offset_ms: str | None,
    visibility: str | None,
) -> None:
    data = {
        key: value
        for key, value in (
            ("title", title),
            ("clock_offset_ms", clock_offset_ms),
            ("visibility", visibility),
        )
        if value is not None
    }
    before = _stored(client)
    response = client.post(
        "/api/imports",
        files={k: (name or "f", body) for k, (name, body) in files.items()},
        data=data,
    )
    assert response.status_code < 500, response.text
    if response.status_code == 201:
        assert client.get(response.json()["api_url"]).status_code == 200
        return
    assert 400 <= response.status_code < 500
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail[0]["loc"][0] == "body", detail
    assert _stored(client) == before


def _stored(client: TestClient) -> int:
    # Imports are unlisted: count every stored run through the store, not the runs list.
    from sqlmodel import Session, func, select

    from app.store.models import Run

    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        return int(session.exec(select(func.count()).select_from(Run)).one())
