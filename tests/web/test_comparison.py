"""One direction for every difference: the compare API, the compare page (HTML and JSON twin)
and the engine all read a pair as A - B (app.engine.compare.difference)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.engine.compare import difference
from app.engine.trace import Summary
from app.engine.units import format_bytes, format_ms
from app.web.urls import Urls
from tests.web.helpers import make_comparison, make_run

URLS = Urls()


def _page_rows(twin: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """Every difference the page shows, keyed (table, field)."""
    diffs = twin["differences"]
    rows = {("summary", r["field"]): r["diff"] for r in diffs["summary"] if r["field"] != "status"}
    rows |= {("component", c["component"]): c["diff"] for c in diffs["components"]}
    for device in diffs["devices"]:
        rows |= {(device["name"], r["field"]): r["diff"] for r in device["fields"]}
    return rows


def _api_rows(diff: dict[str, Any]) -> dict[tuple[str, str], Any]:
    rows = {("summary", key): m["delta"] for key, m in diff["summary"].items()}
    rows |= {("component", key): m["delta"] for key, m in diff["downtime_components_ms"].items()}
    for device in diff["devices"]:
        rows |= {(device["name"], key): m["delta"] for key, m in device["metrics"].items()}
    return rows


def test_api_and_page_show_the_same_signed_differences(api_client: TestClient) -> None:
    # An ack on/off pair: the ack (a) takes the destination's initial-bytes load out of the
    # downtime, so the downtime difference is negative read A - B and positive read B - A.
    pair = make_comparison(api_client)
    a, b = pair["a"], pair["b"]
    api = api_client.get(pair["api"]).json()["diff"]
    twin = api_client.get(URLS.compare_page(a["id"], b["id"], json=True)).json()
    page, from_api = _page_rows(twin), _api_rows(api)
    assert page == from_api
    assert len([v for v in page.values() if v]) >= 8, "a pair with real, nonzero differences"

    downtime_a, downtime_b = a["summary"]["downtime_ms"], b["summary"]["downtime_ms"]
    assert downtime_a < downtime_b
    assert api["summary"]["downtime_ms"]["delta"] == round(downtime_a - downtime_b, 3) < 0
    # The engine's own reading of the same pair gives the same signed numbers.
    engine = difference(Summary.model_validate(a["summary"]), Summary.model_validate(b["summary"]))
    assert api["summary"]["downtime_ms"]["delta"] == engine["downtime_ms"]
    assert api["summary"]["total_time_ms"]["delta"] == engine["total_time_ms"]
    assert {key: m["delta"] for key, m in api["downtime_components_ms"].items()} == engine[
        "downtime_breakdown_ms"
    ]
    assert engine["downtime_breakdown_ms"]["dest_load_initial_bytes"] < 0

    # The page's HTML prints the same signed figures (a minus sign where A is smaller).
    html = api_client.get(pair["page"]).text
    assert format_ms(api["summary"]["downtime_ms"]["delta"]) in html
    assert format_ms(api["summary"]["downtime_ms"]["delta"]).startswith("-")
    component = api["downtime_components_ms"]["dest_load_initial_bytes"]["delta"]
    assert format_ms(component) in html


def test_runs_in_the_other_order_flip_every_sign(api_client: TestClient) -> None:
    first = make_run(api_client)
    second = make_run(api_client, {"example": "two-mlx5-vfs"})
    forward = api_client.get(URLS.api_compare(first["id"], second["id"])).json()["diff"]
    backward = api_client.get(URLS.api_compare(second["id"], first["id"])).json()["diff"]
    rows_forward, rows_backward = _api_rows(forward), _api_rows(backward)
    assert rows_forward.keys() == rows_backward.keys()
    known = {k: v for k, v in rows_forward.items() if v is not None}
    assert any(known.values())
    assert all(rows_backward[k] == -v for k, v in known.items())
    twin = api_client.get(URLS.compare_page(first["id"], second["id"], json=True)).json()
    assert _page_rows(twin) == rows_forward
    transferred = forward["summary"]["transferred_bytes"]
    assert transferred["delta"] == transferred["a"] - transferred["b"]
    assert (
        format_bytes(transferred["delta"])
        in api_client.get(URLS.compare_page(first["id"], second["id"])).text
    )
