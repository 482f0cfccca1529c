"""Errors are JSON with a readable message; limits answer 413; nothing internal leaks."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text


def test_body_over_the_limit_is_413(app_with: Callable[..., FastAPI]) -> None:
    with TestClient(app_with(max_request_bytes=2048)) as client:
        big = {"title": "x", "description": "y" * 4000}
        response = client.post("/api/runs", json=big)
        assert response.status_code == 413
        assert "at most 2048 bytes" in response.json()["message"]

        def chunks():  # no Content-Length: the limit applies while the body streams
            data = json.dumps(big).encode()
            for start in range(0, len(data), 512):
                yield data[start : start + 512]

        streamed = client.post(
            "/api/runs", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        assert client.get("/api/runs").json()["total"] == 0


def test_unknown_path_is_json_404(api_client: TestClient) -> None:
    response = api_client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["message"]


def test_database_failure_is_a_bare_500(api_app: FastAPI, db_url: str) -> None:
    created = TestClient(api_app).post("/api/runs", json={"title": "soon broken"}).json()
    # A real failure, not a mock: the events table disappears under the running app.
    with api_app.state.engine.begin() as connection:
        connection.execute(text("DROP TABLE events"))
    client = TestClient(api_app, raise_server_exceptions=False)
    response = client.get(created["urls"]["export_json"])
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"detail", "message"}
    lowered = response.text.lower()
    for leak in (
        "select",
        "events",
        "traceback",
        "sqlalchemy",
        "operationalerror",
        "psycopg",
        'file "',
    ):
        assert leak not in lowered, leak
    assert "server log" in body["message"]


def test_every_answer_carries_a_request_id(api_client: TestClient) -> None:
    generated = api_client.get("/api/limits").headers["x-request-id"]
    assert len(generated) == 16
    assert (
        api_client.get("/api/nothing", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    forged = api_client.get("/api/limits", headers={"X-Request-ID": "bad id\nwith newline"})
    assert forged.headers["x-request-id"] != "bad id\nwith newline"
