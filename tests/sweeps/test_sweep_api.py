"""/api/sweeps on SQLite and PostgreSQL: the real app, real worker processes, real engine."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.engine import Scenario
from app.engine.examples import load_example
from app.settings import Settings
from app.sweeps.executors import InlineExecutor
from app.sweeps.output import to_csv
from app.sweeps.plan import plan_sweep
from app.sweeps.run import run_all

VARY = ["link.latency_ms=0.1,2", "guest.dirty_rate_bytes_per_s=0..1GiB:2"]


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    from app.web.app import create_app

    app = create_app(Settings(database_url=db_url, sweep_workers=1, max_concurrent_sweeps=1))
    with TestClient(app) as test_client:
        yield test_client
    # A cancelled sweep's last batch may still be running: let it end before the next test.
    assert app.state.sweeps.wait_idle(300)
    app.state.engine.dispose()


def wait_finished(client: TestClient, url: str, timeout_s: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        body = client.get(url).json()
        if body["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_sweep_runs_in_the_background_and_exports_what_the_cli_writes(client: TestClient) -> None:
    response = client.post(
        "/api/sweeps", json={"example": "mlx5-300mb-ack", "vary": VARY, "compare_ack": True}
    )
    assert response.status_code == 202, response.text
    created = response.json()
    assert response.headers["location"] == created["urls"]["self"] == f"/api/sweeps/{created['id']}"
    assert created["point_count"] == 4 and created["limits"]["max_points"] == 10_000
    assert [a["path"] for a in created["axes"]] == [
        "link.latency_ms",
        "guest.dirty_rate_bytes_per_s",
    ]
    assert created["axes"][1]["values"] == [0, 1024**3] and created["axes"][1]["labels"] == [
        "0 B/s",
        "1.0 GiB/s",
    ]
    done = wait_finished(client, created["urls"]["self"])
    assert done["status"] == "completed" and done["done_count"] == 4 and done["progress"] == 1.0

    page = client.get(created["urls"]["points"] + "?offset=1&limit=2").json()
    assert [p["index"] for p in page["items"]] == [1, 2] and page["total"] == 4
    assert page["items"][0]["values"] == [0.1, 1024**3]
    assert page["next"] == f"/api/sweeps/{created['id']}/points?offset=3&limit=2"

    plan = plan_sweep(
        Scenario.model_validate(load_example("mlx5-300mb-ack")),
        VARY,
        compare_ack=True,
        max_points=100,
    )
    csv = client.get(created["urls"]["export_csv"])
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text == to_csv(plan, run_all(plan, InlineExecutor()))

    events = client.get(created["urls"]["events"])
    assert events.headers["content-type"].startswith("text/event-stream")
    assert '"status":"completed"' in events.text.replace(
        " ", ""
    ) and '"done_count":4' in events.text.replace(" ", "")

    assert client.post(created["urls"]["cancel"]).status_code == 409
    listed = client.get("/api/sweeps").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == created["id"]


def test_a_point_opens_as_stored_runs_once(client: TestClient) -> None:
    created = client.post(
        "/api/sweeps",
        json={"example": "mlx5-300mb-ack", "vary": ["guest.dirty_rate_bytes_per_s=0,1GiB"]},
    ).json()
    wait_finished(client, created["urls"]["self"])
    first = client.post(f"/api/sweeps/{created['id']}/points/0/run")
    assert first.status_code == 200, first.text
    runs = first.json()
    assert runs["compare"] == f"/compare?a={runs['run_id']}&b={runs['off_run_id']}"
    assert (
        client.post(f"/api/sweeps/{created['id']}/points/0/run").json() == runs
    )  # a permalink, not a new run
    on = client.get(f"/api/runs/{runs['run_id']}").json()
    off = client.get(f"/api/runs/{runs['off_run_id']}").json()
    point = client.get(created["urls"]["points"]).json()["items"][0]
    assert (
        on["summary"]["downtime_ms"] == point["downtime_ms"]
        and off["summary"]["downtime_ms"] == point["off_downtime_ms"]
    )
    assert "guest.dirty_rate_bytes_per_s=0 B/s" in on["title"]
    page = client.get(f"/sweeps/{created['id']}/points/0", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == runs["compare"]
    assert client.post(f"/api/sweeps/{created['id']}/points/7/run").status_code == 404
    html = client.get(f"/sweeps/{created['id']}")
    assert html.status_code == 200 and 'id="sweep-config"' in html.text and "sweep.js" in html.text
    twin = client.get(f"/sweeps/{created['id']}.json").json()
    assert twin["id"] == created["id"] and twin["outputs"][0]["key"] == "ack_saves_ms"


@pytest.mark.parametrize(
    ("body", "loc", "message"),
    [
        (
            {"example": "mlx5-300mb-ack", "vary": ["seed=1,2", "guest.nope=1..2"]},
            ["body", "vary", 1],
            "guest.nope: unknown field 'nope' in guest",
        ),
        (
            {"example": "mlx5-300mb-ack", "vary": ["guest.ram_bytes=2GiB..1GiB"]},
            ["body", "vary", 0],
            "guest.ram_bytes: empty range",
        ),
        (
            {
                "example": "mlx5-300mb-ack",
                "vary": ["seed=0..100000:101", "link.latency_ms=0..1:100"],
            },
            ["body", "vary"],
            "too many points (101 x 100 = 10100; the limit is 10000 per sweep)",
        ),
        ({"example": "mlx5-300mb-ack", "vary": []}, ["body", "vary"], "at least 1 item"),
        ({"vary": ["seed=1,2"]}, ["body", "scenario"], "give either `scenario` or `example`"),
        ({"example": "nope", "vary": ["seed=1,2"]}, ["body", "example"], "unknown example 'nope'"),
        (
            {"scenario": {"guest": {"ram_bytes": "1 KiB"}}, "vary": ["seed=1,2"]},
            ["body", "scenario", "guest", "ram_bytes"],
            "greater than or equal",
        ),
    ],
)
def test_bad_sweeps_are_422_naming_the_field_and_store_nothing(
    client: TestClient, body: dict[str, Any], loc: list[Any], message: str
) -> None:
    response = client.post("/api/sweeps", json=body)
    assert response.status_code == 422, response.text
    item = response.json()["detail"][0]
    assert item["loc"] == loc and message in item["msg"]
    assert client.get("/api/sweeps").json()["total"] == 0


def test_full_pool_is_503_with_retry_after_and_cancel_stops_a_sweep(client: TestClient) -> None:
    big = {
        "example": "mlx5-300mb-ack",
        "vary": ["guest.dirty_rate_bytes_per_s=0..1GiB:40", "seed=1..50:50"],
    }
    first = client.post("/api/sweeps", json=big)
    assert first.status_code == 202
    second = client.post("/api/sweeps", json=big)
    assert second.status_code == 503 and second.headers["retry-after"] == "30"
    assert client.get("/api/sweeps").json()["total"] == 1
    cancelled = client.post(first.json()["urls"]["cancel"])
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    final = wait_finished(client, first.json()["urls"]["self"])
    assert final["status"] == "cancelled" and final["done_count"] < final["point_count"] == 2000
    assert client.get("/api/sweeps/no-such-sweep").status_code == 404


def test_unfinished_sweep_resumes_at_start_up(db_url: str) -> None:
    from app.store.db import make_engine
    from app.store.migrate import upgrade
    from app.store.sweeps import create_sweep, save_points, set_status
    from app.web.app import create_app

    engine = make_engine(db_url)
    upgrade(engine)
    plan = plan_sweep(
        Scenario.model_validate(load_example("mlx5-300mb-ack")),
        VARY,
        compare_ack=False,
        max_points=100,
    )
    sweep_id = create_sweep(engine, plan, VARY, source="api")
    expected = run_all(plan, InlineExecutor())
    save_points(engine, sweep_id, plan, [(0, expected[0])])
    set_status(engine, sweep_id, "running")  # as left by a server that died
    engine.dispose()
    app = create_app(Settings(database_url=db_url, sweep_workers=1))
    with TestClient(app) as client:
        done = wait_finished(client, f"/api/sweeps/{sweep_id}")
        assert done["status"] == "completed" and done["done_count"] == 4
        assert client.get(f"/api/sweeps/{sweep_id}/export.csv").text == to_csv(plan, expected)
    app.state.engine.dispose()
