"""HTMX requests get only the block they target (jinja2-fragments), with Vary: HX-Request."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.web.urls import Urls
from tests.web.helpers import make_run

URLS = Urls()
HX = {"HX-Request": "true"}


def test_step_panel_fragment(api_client: TestClient) -> None:
    run = make_run(api_client)
    response = api_client.get(
        URLS.run_at(run["id"], step=5), headers={**HX, "HX-Target": "step-panel"}
    )
    assert response.status_code == 200
    html = response.text.strip()
    assert html.startswith('<article class="step-explained" data-step="5"')
    assert "<html" not in html and "fig-devices" not in html
    assert "HX-Request" in response.headers["vary"]


def test_full_page_when_not_htmx_or_other_target(api_client: TestClient) -> None:
    run = make_run(api_client)
    for headers in ({}, {**HX, "HX-Target": "something-else"}):
        response = api_client.get(URLS.run_at(run["id"], step=5), headers=headers)
        assert response.text.lstrip().startswith("<!doctype html>")
        assert "HX-Request" in response.headers["vary"]


def test_scenario_form_fragment_for_an_example(api_client: TestClient) -> None:
    response = api_client.get(
        URLS.new_run(),
        params={"example": "two-mlx5-vfs"},
        headers={**HX, "HX-Target": "scenario-form"},
    )
    html = response.text.strip()
    assert html.startswith('<form id="scenario-form"')
    assert 'name="devices.1.preset"' in html and "<html" not in html


def test_runs_table_fragment(api_client: TestClient) -> None:
    make_run(api_client)
    response = api_client.get(URLS.runs(), headers={**HX, "HX-Target": "runs-table"})
    html = response.text.strip()
    assert html.startswith('<div id="runs-table">') and "<html" not in html


def test_device_row_partial(api_client: TestClient) -> None:
    response = api_client.get(URLS.new_device_row(), params={"index": 1}, headers=HX)
    html = response.text.strip()
    assert html.startswith('<div class="device-row" data-index="1"')
