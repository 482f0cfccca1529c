"""Visibility (listed/unlisted), retention (oldest unpinned first), pinning, and their CLI."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from app.cli import cli
from app.store.access import prune, set_pinned, stored_bytes_total
from app.store.models import utc_now
from app.store.runs import get_run, list_runs, save_trace
from tests.store.factories import make_trace

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "qemu"


def test_unlisted_runs_open_by_link_but_are_not_listed(api_client: TestClient) -> None:
    listed = api_client.post("/api/runs", json={"example": "zero-devices"}).json()
    unlisted = api_client.post(
        "/api/runs?visibility=unlisted", json={"example": "zero-devices"}
    ).json()
    trace = next(FIXTURES.glob("*.src.trace.log"))
    imported = api_client.post(
        "/api/imports", files={"src_trace": (trace.name, trace.read_bytes())}
    ).json()
    page = api_client.get("/api/runs").json()
    assert [item["id"] for item in page["items"]] == [listed["id"]] and page["total"] == 1
    # Imports are unlisted by default; the link works for both.
    for run in (unlisted, imported):
        assert api_client.get(f"/api/runs/{run['id']}").status_code == 200
        assert api_client.get(f"/runs/{run['id']}").status_code == 200
    runs_page = api_client.get("/runs").text
    assert (
        listed["id"] in runs_page
        and unlisted["id"] not in runs_page
        and imported["id"] not in runs_page
    )
    # "Simulate this" of an unlisted import stays unlisted; an import may be listed on request.
    simulated = api_client.post(f"/api/runs/{imported['id']}/simulate-this").json()
    assert simulated["simulated_id"] not in {
        item["id"] for item in api_client.get("/api/runs").json()["items"]
    }
    shown = api_client.post(
        "/api/imports",
        files={"src_trace": (trace.name, trace.read_bytes())},
        data={"visibility": "listed"},
    ).json()
    assert shown["id"] in {item["id"] for item in api_client.get("/api/runs").json()["items"]}
    assert (
        api_client.post("/api/runs?visibility=public", json={"example": "zero-devices"}).status_code
        == 422
    )


def test_retention_deletes_the_oldest_unpinned_runs(db_engine: Engine) -> None:
    now = utc_now()
    ids = [
        save_trace(db_engine, make_trace(n_steps=200), created_at=now - timedelta(minutes=10 - n))
        for n in range(5)
    ]
    set_pinned(db_engine, ids[0], True)  # the oldest, but pinned
    total = stored_bytes_total(db_engine)
    per_run = total // 5
    deleted = prune(db_engine, total - 2 * per_run)  # room for three runs
    assert deleted == ids[1:3]
    with Session(db_engine) as session:
        assert [get_run(session, run_id) is not None for run_id in ids] == [
            True,
            False,
            False,
            True,
            True,
        ]
        assert list_runs(session, offset=0, limit=10)[1] == 3
    assert stored_bytes_total(db_engine) <= total - 2 * per_run
    # Only pinned runs left over the limit: they stay.
    assert prune(db_engine, 1) == ids[3:]
    assert prune(db_engine, 1) == []
    assert prune(db_engine, 0) == []  # 0: no limit


def test_stored_bytes_are_about_the_export_size(db_engine: Engine) -> None:
    trace = make_trace(n_steps=500)
    save_trace(db_engine, trace)
    assert 0.8 < stored_bytes_total(db_engine) / len(trace.to_json()) < 1.5


def test_cli_pin_visibility_prune(db_url: str, db_engine: Engine, monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("DATABASE_URL", db_url)
    old = save_trace(db_engine, make_trace(n_steps=100), created_at=utc_now() - timedelta(hours=1))
    new = save_trace(db_engine, make_trace(n_steps=100))
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "pin", old]).exit_code == 0
    assert runner.invoke(cli, ["db", "pin", "nosuchrun"]).exit_code == 2
    assert runner.invoke(cli, ["db", "visibility", new, "unlisted"]).exit_code == 0
    assert runner.invoke(cli, ["db", "visibility", new, "hidden"]).exit_code == 2
    missing = runner.invoke(cli, ["db", "visibility", "nosuchrun", "listed"])
    assert missing.exit_code == 2 and "no run with id 'nosuchrun'" in missing.output
    with Session(db_engine) as session:
        assert [run.id for run in list_runs(session, offset=0, limit=10)[0]] == [old]
    monkeypatch.setenv("MIGSCOPE_MAX_STORED_BYTES", "1")
    result = runner.invoke(cli, ["db", "prune"])
    assert result.exit_code == 0 and "deleted 1 runs by retention" in result.output
    with Session(db_engine) as session:
        assert get_run(session, old) is not None and get_run(session, new) is None
