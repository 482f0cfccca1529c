"""Two real server processes store large runs into one database at once: on SQLite (writes
take turns through the lock beside the file) and on PostgreSQL. No error, nothing lost."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.security.live import served

# About 6,000 steps (a busy guest never converges; cancelled at max_time_ms): a large run to
# store. Stored runs are collapsed; this one keeps every pass, so it stays long.
LARGE = {"example": "busy-guest-8.1", "overrides": {"max_time_ms": 300_000}, "every_pass": True}
# Two per server: with max_concurrent_runs=2 all four runs are written at once (the most
# contention the two servers allow), each in ~14 batches that interleave with the others.
RUNS_PER_SERVER = 2


def _post(base: str) -> tuple[int, dict[str, Any]]:
    response = httpx.post(f"{base}/api/runs", json=LARGE, timeout=300)
    return response.status_code, response.json()


def test_two_servers_store_large_runs_into_one_database(db_url: str, tmp_path: Path) -> None:
    with (
        served(db_url, tmp_path / "one.log", max_concurrent_runs="2") as one,
        served(db_url, tmp_path / "two.log", max_concurrent_runs="2") as two,
        concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool,
    ):
        futures = [pool.submit(_post, base) for base in (one, two) for _ in range(RUNS_PER_SERVER)]
        results = [future.result() for future in futures]
        statuses = [status for status, _ in results]
        assert statuses == [201] * len(futures), [body for _, body in results]
        ids = {str(body["id"]) for _, body in results}
        assert len(ids) == 2 * RUNS_PER_SERVER
        # Every stored run is whole, read back through either server.
        for _status, body in results:
            run = httpx.get(f"{one}/api/runs/{body['id']}", timeout=30).json()
            assert run["step_count"] == body["step_count"] > 5000
            last = httpx.get(
                f"{two}/api/runs/{body['id']}/steps/{run['step_count'] - 1}", timeout=30
            )
            assert last.status_code == 200
        listed = httpx.get(f"{two}/api/runs?per_page=100", timeout=30).json()
        assert {item["id"] for item in listed["items"]} == ids
    for name in ("one.log", "two.log"):
        log = (tmp_path / name).read_text()
        assert "database is locked" not in log and "Traceback" not in log, log[-3000:]


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIGSCOPE_AUTH", raising=False)
