"""The app factory, OpenAPI docs, static files, and `migscope serve` as a real server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from app.store.migrate import current_revision, head_revision
from app.web.app import api_routers

REPO = Path(__file__).resolve().parents[2]


def test_start_up_migrates_an_empty_database(api_app: FastAPI) -> None:
    assert current_revision(api_app.state.engine) == head_revision()


def _store_api_operations() -> set[tuple[str, str]]:
    """(path, method) of the routers this module's part owns (app.web.app.api_routers)."""
    return {
        (route.path, method.lower())
        for router in api_routers()
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }


def test_every_api_operation_is_documented(api_client: TestClient) -> None:
    assert "swagger" in api_client.get("/docs").text.lower()
    spec = api_client.get("/openapi.json").json()
    mine = _store_api_operations()
    operations = [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if (path, method) in mine
    ]
    assert len(operations) >= 12
    for path, method, op in operations:
        assert op.get("description"), f"{method} {path} has no docstring"
        success = next(
            (op["responses"][code] for code in ("200", "201", "202") if code in op["responses"]),
            None,
        )
        assert success, f"{method} {path} documents no success response"
        content = success["content"]
        schema = next(iter(content.values()))["schema"]
        assert schema, f"{method} {path} has no response model"
        for code in ("404", "422", "500"):
            if code in op["responses"]:
                assert "application/json" in op["responses"][code]["content"]


def test_static_files_are_served(api_client: TestClient) -> None:
    static = REPO / "static"
    files = [p for p in static.rglob("*") if p.is_file()]
    if not files:
        pytest.skip("static/ is empty")
    relative = files[0].relative_to(static).as_posix()
    assert api_client.get(f"/static/{relative}").status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Start-up takes seconds on an idle machine and much longer on a busy one: wait on readiness
# (the server answering), with a bound only a hung server reaches.
SERVER_START_TIMEOUT_S = 120.0


def _wait_until_up(
    base: str, process: subprocess.Popen[bytes], timeout_s: float = SERVER_START_TIMEOUT_S
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/api/limits", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"server did not answer within {timeout_s:.0f} s")


def _workers(pid: int) -> list[int]:
    """Worker processes of a uvicorn supervisor (spawned children; not its resource tracker)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    return [
        child for child in children if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def test_serve_with_two_workers_shares_one_database(db_url: str) -> None:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": db_url}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the workers stop with it
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process)
        created = httpx.post(f"{base}/api/runs", json={"title": "served"}, timeout=60).json()
        # Whichever worker answers, the run is there: no state lives outside the database.
        for _ in range(8):
            with httpx.Client(base_url=base) as client:  # new connection: any worker
                answer = client.get(created["urls"]["api"])
                assert answer.status_code == 200 and answer.json()["title"] == "served"
        assert httpx.get(f"{base}/api/runs").json()["total"] == 1
        assert len(_workers(process.pid)) == 2, "both workers must still be running"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_first_start_creates_the_sqlite_database_and_its_directory(tmp_path: Path) -> None:
    from app.settings import Settings
    from app.web.app import create_app

    path = tmp_path / "not" / "there" / "migscope.db"
    app = create_app(Settings(database_url=f"sqlite:///{path}"))
    with TestClient(app) as client:
        assert client.get("/api/runs").json()["total"] == 0
    assert path.is_file()
    with app.state.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    app.state.engine.dispose()
