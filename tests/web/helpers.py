"""Helpers for the web tests: make runs through the real JSON API, read a page's figures."""

from __future__ import annotations

import json
import re
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


def figure(html: str, key: str) -> dict[str, Any]:
    """The Plotly figure a page embeds as JSON under id `fig-KEY`."""
    match = re.search(
        rf'<script type="application/json" id="fig-{key}">(.*?)</script>', html, re.DOTALL
    )
    assert match, f"figure {key} missing"
    result: dict[str, Any] = json.loads(match.group(1))
    return result
