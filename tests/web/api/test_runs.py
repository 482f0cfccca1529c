"""POST/GET /api/runs and the step endpoints, against the real engine and a real database."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.engine.trace import Trace
from app.settings import Settings
from app.web.urls import Urls
from app.web.workers import get_pool

FAST_EXAMPLE = "mlx5-300mb-ack"  # one VFIO device, a few dozen steps
# One step per pass of an example with thousands of them (6,858 steps): about a second of
# engine and store time. Collapsed runs are too quick to still be running when a read returns.
SLOW_RUN = {"example": "mlx5-300mb-default-params", "every_pass": True}
# A generous bound on waiting for the server to reach a state (a busy machine is slow).
READY_TIMEOUT_S = 120.0


def post_run(client: TestClient, body: dict) -> dict:
    response = client.post("/api/runs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_from_scenario_answers_id_urls_and_summary(api_client: TestClient) -> None:
    created = post_run(api_client, {"title": "plain guest", "devices": []})
    run_id = created["id"]
    assert len(run_id) == 22
    assert created["title"] == "plain guest"
    assert created["summary"]["status"] == "completed"
    assert created["urls"]["api"] == Urls().api_run(run_id)
    assert created["urls"]["export_perfetto"] == Urls().export_perfetto(run_id)
    detail = api_client.get(created["urls"]["api"]).json()
    assert detail["scenario"]["title"] == "plain guest"
    assert detail["resolved"]["guest"]["ram_bytes"] > 0
    assert detail["step_count"] == created["step_count"] > 0


def test_create_from_example_with_overrides(api_client: TestClient) -> None:
    created = post_run(
        api_client, {"example": FAST_EXAMPLE, "overrides": {"title": "changed", "seed": 7}}
    )
    detail = api_client.get(created["urls"]["api"]).json()
    assert detail["title"] == "changed"
    assert detail["scenario"]["seed"] == 7
    assert [d["name"] for d in detail["devices"]] == [
        d["name"] for d in detail["summary"]["devices"]
    ]
    assert detail["devices"][0]["preset"]


def test_same_scenario_twice_gives_the_same_trace(api_client: TestClient) -> None:
    first = post_run(api_client, {"example": FAST_EXAMPLE})
    second = post_run(api_client, {"example": FAST_EXAMPLE})
    assert first["id"] != second["id"]
    one = api_client.get(first["urls"]["export_json"]).content
    two = api_client.get(second["urls"]["export_json"]).content
    assert one == two
    assert Trace.from_json(one.decode()).summary.status == first["summary"]["status"]


def test_listing_is_paged_newest_first(api_client: TestClient) -> None:
    ids = [post_run(api_client, {"title": f"run {i}"})["id"] for i in range(3)]
    page1 = api_client.get("/api/runs", params={"per_page": 2}).json()
    assert [item["id"] for item in page1["items"]] == [ids[2], ids[1]]
    assert page1["total"] == 3 and page1["prev"] is None
    page2 = api_client.get(page1["next"]).json()
    assert [item["id"] for item in page2["items"]] == [ids[0]]
    assert page2["next"] is None
    assert page2["items"][0]["urls"]["page"] == Urls().run(ids[0])
    too_big = api_client.get("/api/runs", params={"per_page": 101})
    assert too_big.status_code == 422
    assert too_big.json()["detail"][0]["loc"] == ["query", "per_page"]


def test_step_window_and_one_step(api_client: TestClient) -> None:
    created = post_run(api_client, {"example": FAST_EXAMPLE})
    run_id, count = created["id"], created["step_count"]
    window = api_client.get(f"/api/runs/{run_id}/steps", params={"from": 2, "to": 6}).json()
    assert [s["index"] for s in window["steps"]] == [2, 3, 4, 5]
    assert all(2 <= e["step"] < 6 for e in window["events"])
    assert window["step_count"] == count
    step = api_client.get(Urls().api_run_step(run_id, 3)).json()
    assert step["step"]["index"] == 3
    assert step["explanation"].startswith("Step 3 (")
    assert step["step"]["decision"]["reason"] in step["explanation"]
    assert step["prev"] == Urls().api_run_step(run_id, 2)
    last = api_client.get(Urls().api_run_step(run_id, count - 1)).json()
    assert last["next"] is None
    missing = api_client.get(Urls().api_run_step(run_id, count))
    assert missing.status_code == 404 and "has no step" in missing.json()["message"]
    wide = api_client.get(f"/api/runs/{run_id}/steps", params={"from": 0, "to": 5000})
    assert wide.status_code == 422 and wide.json()["detail"][0]["loc"] == ["query", "to"]


def test_unknown_run_is_404_everywhere(api_client: TestClient) -> None:
    urls = Urls()
    for url in (
        urls.api_run("nope"),
        urls.api_run_steps("nope"),
        urls.api_run_step("nope", 0),
        urls.api_run_series("nope"),
        urls.export_csv("nope"),
        urls.export_json("nope"),
        urls.export_perfetto("nope"),
        urls.api_compare("nope", "nope2"),
    ):
        response = api_client.get(url)
        assert response.status_code == 404, url
        assert "nope" in response.json()["message"]


def test_invalid_scenario_is_422_with_field_path_and_stores_nothing(api_client: TestClient) -> None:
    response = api_client.post(
        "/api/runs",
        json={"guest": {"ram_bytes": "lots"}, "devices": [{"name": "x", "preset": "no-such"}]},
    )
    assert response.status_code == 422
    body = response.json()
    locs = [item["loc"] for item in body["detail"]]
    assert ["body", "guest", "ram_bytes"] in locs
    assert ["body", "devices", 0, "preset"] in locs
    assert "guest.ram_bytes" in body["message"]
    assert all(set(item) == {"loc", "msg", "type"} for item in body["detail"])
    extra = api_client.post("/api/runs", json={"bogus": 1})
    assert extra.json()["detail"][0]["loc"] == ["body", "bogus"]
    override = api_client.post(
        "/api/runs", json={"example": FAST_EXAMPLE, "overrides": {"guest": {"ram_bytes": 5}}}
    )
    assert override.json()["detail"][0]["loc"] == ["body", "overrides", "guest", "ram_bytes"]
    unknown = api_client.post("/api/runs", json={"example": "no-such-example"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "example"]
    too_many = api_client.post(
        "/api/runs",
        json={"devices": [{"name": f"d{i}", "preset": "hisi-acc-vf"} for i in range(17)]},
    )
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["loc"] == [
        "body",
        "devices",
    ]
    too_long = api_client.post("/api/runs", json={"max_time_ms": 3_600_001})
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["loc"] == [
        "body",
        "max_time_ms",
    ]
    not_json = api_client.post(
        "/api/runs", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422
    assert api_client.get("/api/runs").json()["total"] == 0


def test_step_limit_ends_the_run_as_cancelled_with_the_reason(
    app_with: Callable[..., FastAPI],
) -> None:
    with TestClient(app_with(max_steps_per_run=20)) as client:
        response = client.post("/api/runs", json={"example": FAST_EXAMPLE})
        assert response.status_code == 201
        body = response.json()
        assert body["status"] == "cancelled" and body["step_count"] <= 20
        assert "step limit (20 steps per run) reached" in body["summary"]["reason"]
        assert client.get("/api/runs").json()["total"] == 1
        limits = client.get("/api/limits").json()
        assert limits["store"]["max_steps_per_run"] == 20
        assert limits["scenario"]["devices_per_run"] == 16


def test_stored_runs_cannot_be_changed_through_the_api(api_app: FastAPI) -> None:
    methods = {
        (path, method)
        for path, item in api_app.openapi()["paths"].items()
        if path.startswith("/api/")
        for method in item
    }
    # POST only ever creates new runs; nothing replaces, edits or deletes a stored one. The one
    # DELETE ends a presenter's session (its followers are told); the run stays.
    assert {method for _, method in methods} <= {"get", "post", "delete"}
    assert {(path, method) for path, method in methods if method == "delete"} == {
        ("/api/presentations/{session_id}", "delete")
    }


async def _until_jobs_in_pool(settings: Settings, jobs: int) -> None:
    """Wait until `jobs` engine jobs have reached the worker pool (running or queued): the
    state the test is about, not a guess at how long that takes (bound: a hung pool)."""
    pool = get_pool(settings)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while pool.pending() < jobs:
        assert time.monotonic() < deadline, f"{pool.pending()} of {jobs} jobs reached the pool"
        await asyncio.sleep(0.01)


def test_a_long_run_does_not_block_other_requests(api_app: FastAPI, api_settings: Settings) -> None:
    async def scenario() -> tuple[bool, int]:
        transport = httpx.ASGITransport(app=api_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            long_post = asyncio.create_task(client.post("/api/runs", json=SLOW_RUN))
            await _until_jobs_in_pool(api_settings, 1)
            listing = await client.get("/api/runs")
            still_running = not long_post.done()
            created = await long_post
            assert listing.status_code == 200
            return still_running, created.status_code

    # A fresh thread owns its own event loop, so this works even when another test (the
    # browser tests' sync Playwright) left a loop running in the main thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        still_running, status = pool.submit(asyncio.run, scenario()).result()
    assert status == 201
    # The listing was answered while the long run was still being simulated: the engine
    # runs off the event loop. (No timing bound: these machines are noisy.)
    assert still_running, "the long run finished too fast to show anything; pick a slower example"


def test_queued_engine_runs_do_not_hold_up_reads(app_with: Callable[..., FastAPI]) -> None:
    app = app_with(max_concurrent_runs=1)
    settings: Settings = app.state.settings

    async def scenario() -> tuple[bool, list[int], int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            posts = [asyncio.create_task(client.post("/api/runs", json=SLOW_RUN)) for _ in range(2)]
            # One run in the only worker, the other queued behind it.
            await _until_jobs_in_pool(settings, 2)
            listing = await client.get("/api/limits")
            pending = not all(post.done() for post in posts)
            statuses = [(await post).status_code for post in posts]
            return pending, statuses, listing.status_code

    # Own thread, own event loop (see test_a_long_run_does_not_block_other_requests).
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending, statuses, listed = pool.submit(asyncio.run, scenario()).result()
    assert listed == 200 and pending, "a read waited for queued engine runs"
    assert statuses == [201, 201]
