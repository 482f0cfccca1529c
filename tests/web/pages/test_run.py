"""The run page, its JSON twin, steps in the URL, 404s and escaping of what users type."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.engine.examples import EXAMPLES
from app.settings import Settings
from app.web.app import create_app
from app.web.urls import Urls
from tests.web.helpers import FAST_EXAMPLE, XSS, figure, make_run

URLS = Urls()


@pytest.fixture(scope="module")
def examples_stored(module_db_url: str) -> Iterator[tuple[TestClient, dict[str, dict[str, Any]]]]:
    """Every example simulated and stored once for this module's read-only page tests: a client
    on that app, and the created runs by example name."""
    app = create_app(Settings(database_url=module_db_url))
    with TestClient(app) as client:
        yield client, {name: make_run(client, {"example": name}) for name in EXAMPLES}
    app.state.engine.dispose()


def test_run_page_shows_summary_controls_charts_and_json_link(api_client: TestClient) -> None:
    run = make_run(api_client)
    response = api_client.get(URLS.run(run["id"]))
    assert response.status_code == 200
    html = response.text
    assert response.headers["content-type"].startswith("text/html")
    assert (
        f'<link rel="alternate" type="application/json" href="{URLS.run_at(run["id"], step=0, json=True)}">'
        in html
    )
    for label in (
        "First step",
        "Previous step",
        "Next step",
        "Last step",
        "Step scrubber",
        "Playback speed",
    ):
        assert label in html
    for key in ("devices", "ram", "lane", "downtime"):
        assert figure(html, key)["layout"]["uirevision"] == "migscope"
    for link in (
        URLS.export_csv(run["id"]),
        URLS.export_json(run["id"]),
        URLS.export_perfetto(run["id"]),
    ):
        assert f'href="{link}"' in html
    assert "Share link" in html and 'id="copy-share"' in html
    assert "Simulate this" not in html  # only imported runs offer it


def test_run_page_opens_at_the_step_in_the_url(api_client: TestClient) -> None:
    run = make_run(api_client)
    html = api_client.get(URLS.run_at(run["id"], step=7)).text
    assert 'id="scrubber"' in html and 'value="7"' in html
    assert 'data-step="7"' in html
    assert "Step 7:" in html
    cursor = next(s for s in figure(html, "devices")["layout"]["shapes"] if s["name"] == "cursor")
    twin = api_client.get(URLS.run_at(run["id"], step=7, json=True)).json()
    assert abs(cursor["x0"] - twin["step"]["end_ms"] / 1000) < 1e-6
    # Out of range clamps to the last step.
    last = run["step_count"] - 1
    assert f"Step {last}:" in api_client.get(URLS.run_at(run["id"], step=10**6)).text


def test_run_json_twin_by_suffix_and_by_accept_header(api_client: TestClient) -> None:
    run = make_run(api_client)
    by_suffix = api_client.get(URLS.run_at(run["id"], step=3, json=True))
    by_accept = api_client.get(
        URLS.run_at(run["id"], step=3), headers={"Accept": "application/json"}
    )
    assert by_suffix.status_code == by_accept.status_code == 200
    assert by_suffix.json() == by_accept.json()
    body = by_suffix.json()
    assert body["run"]["id"] == run["id"]
    assert body["step"]["index"] == 3
    assert body["step"]["gates"] and body["step"]["decision"]["qemu_function"]
    assert body["urls"]["exports"]["perfetto"] == URLS.export_perfetto(run["id"])


def test_step_explanation_names_the_gate_and_the_qemu_function(
    examples_stored: tuple[TestClient, dict[str, dict[str, Any]]],
) -> None:
    api_client, runs = examples_stored
    run = runs[FAST_EXAMPLE]
    steps = [
        api_client.get(URLS.run_at(run["id"], step=n, json=True)).json()["step"]
        for n in range(run["step_count"])
    ]
    held = [s for s in steps if any(not g["open"] for g in s["gates"])]
    assert held, "some step must be held by a gate"
    assert all(s["holding"].startswith("Switchover is held by") for s in held)
    assert any("ack" in s["holding"] for s in held), "the ack gate must be explained while it holds"
    assert all(s["decision"]["qemu_function"] for s in steps)


def test_unknown_run_is_404_in_html_and_json(api_client: TestClient) -> None:
    html = api_client.get(URLS.run("nosuchrun"))
    assert html.status_code == 404 and "was not found" in html.text
    twin = api_client.get(URLS.run_json("nosuchrun"))
    assert twin.status_code == 404 and "was not found" in twin.json()["detail"]["message"]


def test_what_users_type_is_escaped(api_client: TestClient) -> None:
    run = make_run(
        api_client,
        {
            "title": XSS,
            "description": XSS,
            "devices": [{"name": XSS, "preset": "hisi-acc-vf"}],
            "max_time_ms": 20000,
        },
    )
    for url in (URLS.run(run["id"]), URLS.run_at(run["id"], step=1), URLS.runs()):
        html = api_client.get(url).text
        assert XSS not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
    # Inside the embedded figure JSON, `<` is escaped too, so no script tag can close early.
    html = api_client.get(URLS.run(run["id"])).text
    for block in re.findall(
        r'<script type="application/json"[^>]*>(.*?)</script>', html, re.DOTALL
    ):
        assert "<" not in block


def test_step_route_redirects_to_the_run_page_at_that_step(api_client: TestClient) -> None:
    run = make_run(api_client)
    response = api_client.get(URLS.run_step(run["id"], 4), follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == URLS.run_at(run["id"], step=4)


def test_chart_series_for_a_zoomed_range(api_client: TestClient) -> None:
    run = make_run(api_client)
    body = api_client.get(URLS.run_chart_series(run["id"]) + "?from_ms=300&to_ms=500").json()
    steps = api_client.get(f"/api/runs/{run['id']}/steps?from=0&to=1000").json()
    ends = sorted(
        s["end_ms"] / 1000 for s in (steps["steps"] if isinstance(steps, dict) else steps)
    )
    before = max(e for e in ends if e < 0.3)
    after = min(e for e in ends if e > 0.5)
    for trace in body["ram"]["data"]:
        if trace.get("mode") != "lines" or not trace["x"]:
            continue
        # The window's points, and the neighbouring step on either side: lines reach the edges.
        assert min(trace["x"]) == before and max(trace["x"]) == after, trace["name"]
        assert sum(1 for x in trace["x"] if x < 0.3 or x > 0.5) == 2


def test_a_long_run_is_downsampled_but_keeps_every_event(
    examples_stored: tuple[TestClient, dict[str, dict[str, Any]]],
) -> None:
    api_client, _ = examples_stored
    # Stored runs are collapsed (every example is under 500 steps); 200 s of a busy guest
    # with every pass kept is about 4,000 steps.
    body = {"example": "busy-guest-8.1", "overrides": {"max_time_ms": 200_000}, "every_pass": True}
    run = make_run(api_client, body)
    assert run["step_count"] > 2 * 1500
    html = api_client.get(URLS.run_at(run["id"], step=run["step_count"] // 2)).text
    devices, ram, lane = figure(html, "devices"), figure(html, "ram"), figure(html, "lane")
    lines = [t for fig in (devices, ram) for t in fig["data"] if t.get("mode") == "lines"]
    assert lines and all(len(t["x"]) <= 1500 for t in lines)
    assert any(len(t["x"]) > 1000 for t in lines)
    twin = api_client.get(f"/api/runs/{run['id']}/series?event_kinds=all&max_points=3").json()
    expected = [e for e in twin["events"] if e["kind"] not in ("window", "bitmap_sync")]
    drawn = sum(len(t["x"]) for t in lane["data"] if "event_kind" in t.get("meta", {}))
    assert drawn == len(expected)


def test_every_example_renders_at_first_middle_and_last_step(
    examples_stored: tuple[TestClient, dict[str, dict[str, Any]]],
) -> None:
    api_client, runs = examples_stored
    assert runs.keys() == EXAMPLES.keys()
    for name, run in runs.items():
        last = run["step_count"] - 1
        for step in (0, last // 2, last):
            response = api_client.get(URLS.run_at(run["id"], step=step))
            assert response.status_code == 200, (name, step)
            assert f'data-step="{step}"' in response.text, (name, step)
