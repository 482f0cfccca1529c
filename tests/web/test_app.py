"""The app factory, OpenAPI docs, static files, and `migscope serve` as a real server."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from app.store.migrate import current_revision, head_revision
from app.web.app import api_routers
from tests.live_server import MIGSCOPE_SERVE, serving

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


def _workers(pid: int) -> list[int]:
    """Worker processes of a uvicorn supervisor (spawned children; not its resource tracker)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    return [
        child for child in children if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def test_serve_with_two_workers_shares_one_database(db_url: str, tmp_path: Path) -> None:
    command = [*MIGSCOPE_SERVE, "--workers", "2"]
    # group: its own process group, so the workers stop with it.
    with serving(command, db_url, tmp_path / "serve.log", group=True) as server:
        base = server.base
        created = httpx.post(f"{base}/api/runs", json={"title": "served"}, timeout=60).json()
        # Whichever worker answers, the run is there: no state lives outside the database.
        for _ in range(8):
            with httpx.Client(base_url=base) as client:  # new connection: any worker
                answer = client.get(created["urls"]["api"])
                assert answer.status_code == 200 and answer.json()["title"] == "served"
        assert httpx.get(f"{base}/api/runs").json()["total"] == 1
        assert len(_workers(server.pid)) == 2, "both workers must still be running"


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


def _descendants(pid: int) -> set[int]:
    """Every process below `pid` (its fork server and that server's workers included)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").iterdir():
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except FileNotFoundError:
                continue
            todo += children
            found.update(children)
    return found


def _still_running(pids: set[int], timeout_s: float) -> set[int]:
    """The pids among `pids` still alive (and not zombies) after up to `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = set()
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (FileNotFoundError, ProcessLookupError):
                continue
            if state != "Z":
                alive.add(pid)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def test_a_stopped_server_leaves_no_worker_processes(tmp_path: Path) -> None:
    # Without a process group, SIGTERM reaches the server alone: its run workers and their fork
    # server must stop because the app shuts its pool down, not because they were signalled.
    # (A fork-server child holds the fork server's keep-alive pipe, so a forgotten worker kept
    # both alive forever: 242 of them piled up on a development machine.)
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    with serving(MIGSCOPE_SERVE, db, tmp_path / "serve.log") as server:
        created = httpx.post(f"{server.base}/api/runs", json={"title": "w"}, timeout=120)
        assert created.status_code == 201, created.text
        below = _descendants(server.pid)
        assert below, "a run was simulated in a worker process"
    leftover = _still_running(below, timeout_s=60)
    assert not leftover, {pid: Path(f"/proc/{pid}/cmdline").read_bytes()[:120] for pid in leftover}
