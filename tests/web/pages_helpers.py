"""Helpers for the dashboard page tests: make runs through the real JSON API."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

FAST_EXAMPLE = "mlx5-300mb-ack"
XSS = "<script>alert(1)</script>"


def make_run(client: TestClient, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post("/api/runs", json=body or {"example": FAST_EXAMPLE})
    assert response.status_code == 201, response.text
    return response.json()


def make_comparison(client: TestClient, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post("/api/compare", json=body or {"example": FAST_EXAMPLE})
    assert response.status_code == 201, response.text
    return response.json()
