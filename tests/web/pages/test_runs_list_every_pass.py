"""The runs list says which runs were stored with one step per pre-copy pass: `every_pass` on
each item of GET /api/runs and of the Runs page's JSON twin, and an "every pass" marker in the
row of such a run (none on a collapsed run's row). Real engine, real database."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from app.web.urls import Urls
from tests.web.helpers import FAST_EXAMPLE, make_comparison, make_run

URLS = Urls()
MARKER = '<span class="badge every-pass"'


def row_of(html: str, run_id: str) -> str:
    """The Runs page's table row that links to the run."""
    rows = [
        row
        for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)
        if f'href="{URLS.run(run_id)}"' in row
    ]
    assert len(rows) == 1, (run_id, rows)
    return rows[0]


def test_runs_list_says_which_runs_show_every_pass(api_client: TestClient) -> None:
    collapsed = make_run(api_client, {"example": FAST_EXAMPLE})
    every = make_run(api_client, {"example": FAST_EXAMPLE, "every_pass": True})
    # Both sides of a comparison asked with every_pass are stored that way.
    pair = make_comparison(api_client, {"example": FAST_EXAMPLE, "every_pass": True})
    every_ids = {every["id"], pair["a"]["id"], pair["b"]["id"]}
    # The same scenario: only the steps differ (one per pass is more steps).
    assert every["step_count"] > collapsed["step_count"]

    listed = api_client.get(URLS.api_runs()).json()
    assert listed["total"] == 4
    flags = {item["id"]: item["every_pass"] for item in listed["items"]}
    assert flags == {collapsed["id"]: False, **dict.fromkeys(every_ids, True)}
    # Each item agrees with the run itself.
    for run_id, flag in flags.items():
        assert api_client.get(URLS.api_run(run_id)).json()["every_pass"] is flag
    # The filters keep the field.
    filtered = api_client.get(URLS.api_runs(status="completed", per_page=1)).json()
    assert [item["every_pass"] for item in filtered["items"]] == [flags[filtered["items"][0]["id"]]]

    html = api_client.get(URLS.runs()).text
    for run_id in every_ids:
        row = row_of(html, run_id)
        assert MARKER in row and ">every pass</span>" in row
    assert MARKER not in row_of(html, collapsed["id"])
    assert html.count(MARKER) == len(every_ids)
    twin = api_client.get(URLS.runs(json=True)).json()
    assert {r["id"]: r["every_pass"] for r in twin["runs"]} == flags
    # The htmx pager's fragment is the same table: the marker is there too.
    fragment = api_client.get(
        URLS.runs(), headers={"HX-Request": "true", "HX-Target": "runs-table"}
    ).text
    assert fragment.count(MARKER) == len(every_ids) and "<h1>" not in fragment
