"""POST /api/imports and POST /api/runs/{id}/simulate-this on the real app and store."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from app.importers.limits import MAX_FILE_BYTES
from tests.importers.helpers import CONSTRUCTED, REAL

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

RUN = "q100-w64-r2048-bw128-dt300-1"


def _files(base: str, **roles: str) -> dict[str, tuple[str, bytes, str]]:
    return {
        field: (
            f"{base.split('/')[-1]}{suffix}",
            open(f"{base}{suffix}", "rb").read(),
            "text/plain",
        )
        for field, suffix in roles.items()
    }


def _run_count(client: TestClient) -> int:
    return int(client.get("/api/runs").json()["total"])


def test_upload_real_run_then_simulate_this(api_client: TestClient) -> None:
    base = str(REAL / RUN)
    files = _files(
        base,
        src_trace=".src.trace.log",
        dst_trace=".dst.trace.log",
        query_migrate=".query-migrate.jsonl",
        src_events=".src.events.jsonl",
        dst_events=".dst.events.jsonl",
    )
    response = api_client.post("/api/imports", files=files, data={"title": "real run"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "completed" and body["title"] == "real run"
    assert body["summary"]["downtime_ms"] == 17.0 and body["summary"]["dirty_sync_count"] == 3
    assert body["summary"]["vfio_transferred_bytes"] is None
    assert body["url"] == f"/runs/{body['id']}"
    assert body["clock"]["offset_ms"] == 0.0
    stored = api_client.get(f"/api/runs/{body['id']}").json()
    assert stored["source"] == "import"
    assert stored["import_info"]["qemu_reported"]["downtime_ms"] == 17
    assert api_client.get(body["url"]).status_code == 200  # the run page renders the imported run
    answer = api_client.post(f"/api/runs/{body['id']}/simulate-this")
    assert answer.status_code == 201, answer.text
    pair = answer.json()
    assert pair["imported_id"] == body["id"] and pair["simulated_id"] != body["id"]
    assert pair["compare_url"] == f"/compare?a={body['id']}&b={pair['simulated_id']}"
    assert pair["scenario"]["params"]["max_bandwidth_bytes_per_s"] == 128 * 1024**2
    assert pair["provenance"]["params.downtime_limit_ms"] == "derived-from-log"
    assert api_client.get(f"/api/runs/{pair['simulated_id']}").status_code == 200


def test_simulate_this_refuses_a_simulated_run(api_client: TestClient) -> None:
    base = str(CONSTRUCTED / "vfio81-hex-one-device")
    imported = api_client.post(
        "/api/imports", files=_files(base, src_trace=".src.trace.log", dst_trace=".dst.trace.log")
    ).json()
    simulated = api_client.post(f"/api/runs/{imported['id']}/simulate-this").json()["simulated_id"]
    again = api_client.post(f"/api/runs/{simulated}/simulate-this")
    assert again.status_code == 422 and "needs an imported run" in again.json()["message"]
    assert api_client.post("/api/runs/nope/simulate-this").status_code == 404


def test_bad_line_is_a_422_naming_field_file_and_line_and_nothing_is_stored(
    api_client: TestClient,
) -> None:
    before = _run_count(api_client)
    files = {
        "src_trace": ("good.src.log", (REAL / f"{RUN}.src.trace.log").read_bytes(), "text/plain"),
        "dst_trace": (
            "bad.dst.log",
            b"1@1.000000:migrate_set_state new state setup\n1@1.1:loadvm_approve_switchover num=one\n",
            "text/plain",
        ),
    }
    response = api_client.post("/api/imports", files=files)
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "dst_trace"]
    assert (item["file"], item["line"]) == ("bad.dst.log", 2)
    assert "Switchover ack pending num=<n>" in item["expected"]
    assert _run_count(api_client) == before


def test_nothing_usable_and_no_file_are_422(api_client: TestClient) -> None:
    response = api_client.post(
        "/api/imports", files={"query_migrate": ("q.jsonl", b"hello\n", "text/plain")}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "query_migrate"]
    response = api_client.post("/api/imports", data={"title": "x"})
    assert response.status_code == 422


def test_file_over_the_limit_is_a_413_naming_the_field(app_with: Callable[..., FastAPI]) -> None:
    from fastapi.testclient import TestClient

    # An app whose request-body limit lets the upload reach the endpoint's per-file check.
    with TestClient(app_with(max_request_bytes=MAX_FILE_BYTES * 3)) as client:
        big = b"x" * (MAX_FILE_BYTES + 1)
        response = client.post(
            "/api/imports", files={"info_migrate": ("huge.txt", big, "text/plain")}
        )
        assert response.status_code == 413
        (item,) = response.json()["detail"]
        assert item["loc"] == ["body", "info_migrate"] and "20 MiB" in item["msg"]
        assert client.get("/api/runs").json()["total"] == 0
