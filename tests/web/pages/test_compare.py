"""The compare page: headline, both downtimes, aligned axes, differences, JSON twin."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from app.engine.units import format_ms
from app.web.urls import Urls
from tests.web.helpers import make_comparison, make_run

URLS = Urls()


def test_ack_on_off_headline_with_both_downtimes(api_client: TestClient) -> None:
    pair = make_comparison(api_client)
    a, b = pair["a"], pair["b"]
    response = api_client.get(pair["page"])
    assert response.status_code == 200
    html = response.text
    on, off = a["summary"]["downtime_ms"], b["summary"]["downtime_ms"]
    assert off > on
    moved = b["summary"]["downtime_breakdown_ms"][
        "dest_load_initial_bytes"
    ]  # none of it with the ack
    sentence = (
        f"With switchover-ack the downtime is {format_ms(on)}, without it {format_ms(off)}: "
        f"{format_ms(moved)} of destination work (loading initial bytes) moved into pre-copy; total time "
        f"{format_ms(a['summary']['total_time_ms'])} vs {format_ms(b['summary']['total_time_ms'])}."
    )
    assert sentence in html
    twin = api_client.get(URLS.compare_page(a["id"], b["id"], json=True)).json()
    assert twin["headline"] == sentence
    assert twin["a"]["switchover_ack"] is True and twin["b"]["switchover_ack"] is False
    components = {c["component"]: c for c in twin["differences"]["components"]}
    assert components["dest_load_initial_bytes"]["a"] is None
    # A - B, the engine's direction: the ack (a) loads the initial bytes outside the downtime.
    assert components["dest_load_initial_bytes"]["diff"] < -1000
    assert twin["differences"]["devices"][0]["name"] == a["summary"]["devices"][0]["name"]


def test_compare_charts_share_one_time_axis(api_client: TestClient) -> None:
    pair = make_comparison(api_client)
    html = api_client.get(pair["page"]).text
    ranges = re.findall(r'"xaxis": \{[^}]*"range": \[([^\]]*)\]', html)
    assert len(ranges) >= 6 and len(set(ranges)) == 1


def test_compare_without_ids_offers_a_picker_and_unknown_is_404(api_client: TestClient) -> None:
    run = make_run(api_client)
    picker = api_client.get(URLS.compare_page())
    assert picker.status_code == 200 and run["id"] in picker.text
    missing = api_client.get(URLS.compare_page(run["id"], "nosuchrun"))
    assert missing.status_code == 404
