"""An imported run on the dashboard: clock offset, import details, Simulate this, escaping."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.web.urls import Urls
from tests.web.helpers import XSS

URLS = Urls()
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "constructed"
STEM = "vfio100-dec-two-devices"


def _import(client: TestClient, title: str) -> dict:
    files = {
        "src_trace": (f"{STEM}.src.trace.log", (FIXTURES / f"{STEM}.src.trace.log").read_bytes()),
        "dst_trace": (f"{STEM}.dst.trace.log", (FIXTURES / f"{STEM}.dst.trace.log").read_bytes()),
        "info_migrate": (
            f"{STEM}.info-migrate.txt",
            (FIXTURES / f"{STEM}.info-migrate.txt").read_bytes(),
        ),
    }
    response = client.post(URLS.api_imports(), files=files, data={"title": title})
    assert response.status_code == 201, response.text
    return response.json()


def test_imported_run_page_shows_clock_offset_and_simulate_this(api_client: TestClient) -> None:
    imported = _import(api_client, "constructed two-device import")
    html = api_client.get(imported["url"]).text
    assert "imported from QEMU logs" in html
    assert "Clocks:" in html and "+2500.000 ms" in html
    assert "Simulate this" in html and f'action="{URLS.api_simulate_this(imported["id"])}"' in html
    assert f"{STEM}.dst.trace.log" in html


def test_simulate_this_then_the_comparison_of_real_and_simulated(api_client: TestClient) -> None:
    imported = _import(api_client, "constructed two-device import")
    answer = api_client.post(URLS.api_simulate_this(imported["id"])).json()
    twin = api_client.get(answer["compare_url"].replace("/compare?", "/compare.json?")).json()
    assert twin["headline"].startswith("The real migration's downtime was")
    assert twin["a"]["label"] == "A: real (imported)"


def test_imported_title_is_escaped(api_client: TestClient) -> None:
    imported = _import(api_client, XSS)
    html = api_client.get(imported["url"]).text
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
