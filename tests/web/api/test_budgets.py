"""One test per budget (docs/security.md): steps, stored bytes, CPU time and simulated time of
a run (and so of a branch and a comparison), an import's stored bytes, the worker queue.
A run over budget is stored whole, as cancelled with the reason; a request refused before
any work stores nothing."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

# Never converges: runs to max_time_ms (60 s simulated, ~6,800 steps) unless a budget ends it.
NEVER_CONVERGES = {"example": "mlx5-300mb-default-params"}
# Stored runs are collapsed (app.settings.COLLAPSE_STORED_TRACES): the run above is 77 steps.
# A busy guest with every pass kept (no collapsing): 600 s is ~12,000 steps.
LONG_EVERY_PASS = {
    "example": "busy-guest-8.1",
    "overrides": {"max_time_ms": 600_000},
    "every_pass": True,
}
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "qemu"
MiB = 1024**2


def _stored_whole(client: TestClient, made: dict[str, object]) -> dict[str, object]:
    run = client.get(f"/api/runs/{made['id']}").json()
    assert run["step_count"] == made["step_count"]
    last = client.get(f"/api/runs/{made['id']}/steps/{run['step_count'] - 1}").json()
    assert last["step"]["status"] == "cancelled"
    return run


def test_step_budget_ends_the_run_as_cancelled(app_with: Callable[..., FastAPI]) -> None:
    with TestClient(app_with(max_steps_per_run=500)) as client:
        made = client.post("/api/runs", json=NEVER_CONVERGES).json()
        assert made["status"] == "cancelled" and made["step_count"] <= 500
        assert "step limit (500 steps per run)" in made["summary"]["reason"]
        _stored_whole(client, made)


def test_stored_bytes_budget_ends_the_run_as_cancelled(app_with: Callable[..., FastAPI]) -> None:
    with TestClient(app_with(max_run_stored_bytes=MiB)) as client:
        made = client.post("/api/runs", json=LONG_EVERY_PASS).json()
        assert made["status"] == "cancelled"
        assert "stored-bytes budget (1 MiB per run)" in made["summary"]["reason"]
        _stored_whole(client, made)
        exported = client.get(f"/api/runs/{made['id']}/export.json").content
        # The estimate is close: the whole trace is about the budget, not a multiple of it.
        assert 0.5 * MiB < len(exported) < 1.6 * MiB


def test_cpu_budget_ends_the_run_as_cancelled(app_with: Callable[..., FastAPI]) -> None:
    with TestClient(app_with(max_run_cpu_s=0.05)) as client:
        made = client.post("/api/runs", json=LONG_EVERY_PASS).json()
        assert made["status"] == "cancelled"
        assert "CPU budget (0.05 s per run)" in made["summary"]["reason"]
        _stored_whole(client, made)


def test_branches_and_comparisons_have_the_same_budget(app_with: Callable[..., FastAPI]) -> None:
    with TestClient(app_with(max_steps_per_run=300)) as client:
        pair = client.post("/api/compare", json=LONG_EVERY_PASS).json()
        assert "step limit (300 steps per run)" in pair["a"]["summary"]["reason"]
        branch = client.post(
            f"/api/runs/{pair['a']['id']}/branch",
            json={"at_step": 5, "action": {"kind": "set_parameters", "downtime_limit_ms": 301}},
        )
        assert branch.status_code == 201, branch.text
        assert branch.json()["step_count"] <= 300


def test_simulated_time_budget_is_checked_before_any_work(app_with: Callable[..., FastAPI]) -> None:
    with TestClient(app_with(max_sim_time_ms=10_000)) as client:
        body = {**NEVER_CONVERGES, "overrides": {"max_time_ms": 20_000}}
        for path in ("/api/runs", "/api/compare"):
            refused = client.post(path, json=body)
            assert refused.status_code == 422
            assert refused.json()["detail"][0]["loc"] == ["body", "max_time_ms"]
        assert client.get("/api/runs").json()["total"] == 0
        allowed = client.post(
            "/api/runs", json={**NEVER_CONVERGES, "overrides": {"max_time_ms": 5_000}}
        )
        assert allowed.status_code == 201


def test_import_budget_refuses_an_import_too_large_to_store(
    app_with: Callable[..., FastAPI],
) -> None:
    trace = next(FIXTURES.glob("*.src.trace.log"))
    with TestClient(app_with(max_run_stored_bytes=64 * 1024)) as client:
        refused = client.post("/api/imports", files={"src_trace": (trace.name, trace.read_bytes())})
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["type"] == "too_large"
        assert "budget" in refused.json()["detail"][0]["msg"]
    with TestClient(app_with()) as client:
        assert client.get("/api/runs").json()["total"] == 0


def test_full_worker_queue_is_503_with_retry_after(app_with: Callable[..., FastAPI]) -> None:
    # One worker, no queue: of three simultaneous runs, one runs and the others are refused
    # at once (never a 500, never a pile-up).
    app = app_with(max_concurrent_runs=1, max_queued_jobs=0)

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", timeout=300
        ) as client:
            return list(
                await asyncio.gather(
                    *(client.post("/api/runs", json=NEVER_CONVERGES) for _ in range(3))
                )
            )

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        responses = pool.submit(asyncio.run, burst()).result()
    statuses = sorted(response.status_code for response in responses)
    assert statuses[0] == 201 and 503 in statuses and set(statuses) <= {201, 503}, statuses
    busy = next(response for response in responses if response.status_code == 503)
    assert int(busy.headers["retry-after"]) >= 1
    assert "busy" in busy.json()["message"]
