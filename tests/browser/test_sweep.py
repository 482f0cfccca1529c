"""A sweep page in a real browser: the heat map holds the API's numbers, and clicking a cell
lands on that point's ack on/off comparison (simulated on the first click)."""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import Page, expect

VARY = ["guest.ram_bytes=2GiB,4GiB,8GiB", "guest.dirty_rate_bytes_per_s=0,512MiB,1GiB"]


def start_sweep(page: Page) -> dict[str, Any]:
    response = page.request.post(
        "/api/sweeps", data={"example": "mlx5-300mb-ack", "vary": VARY, "compare_ack": True}
    )
    assert response.status == 202, response.text()
    sweep = response.json()
    deadline = time.monotonic() + 180
    while sweep["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.3)
        sweep = page.request.get(sweep["urls"]["self"]).json()
    assert sweep["status"] == "completed", sweep
    return sweep


def test_sweep_heat_map_and_a_click_on_a_cell(page: Page, shot: Any) -> None:
    sweep = start_sweep(page)
    points = page.request.get(sweep["urls"]["points"]).json()["items"]
    page.goto(sweep["urls"]["page"])
    page.wait_for_function("document.getElementById('sweep-charts').dataset.loaded === '9'")
    expect(page.locator("#sweep-status")).to_have_text("completed")
    # The heat map: rows are guest sizes, columns dirty rates; z is the ack's saving per point.
    z = page.evaluate("document.getElementById('sweep-chart-0').data[0].z")
    assert page.evaluate("document.getElementById('sweep-chart-0').data[0].type") == "heatmap"
    assert z == [[p["ack_saves_ms"] for p in points[r * 3 : (r + 1) * 3]] for r in range(3)]
    assert page.evaluate("document.getElementById('sweep-chart-0').data[1].type") == "contour"
    # Another output: the downtime with the ack.
    page.get_by_label("Show").select_option("downtime_ms")
    page.wait_for_function("document.getElementById('sweep-chart-0').data[0].z[2][1] !== null")
    assert (
        page.evaluate("document.getElementById('sweep-chart-0').data[0].z[2][1]")
        == points[7]["downtime_ms"]
    )
    shot("sweep-heatmap")

    # Click the cell of point 7 (8 GiB, 512 MiB/s): its centre in the plot area.
    box = page.locator("#sweep-chart-0 .nsewdrag").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * (1.5 / 3), box["y"] + box["height"] * (1 - 2.5 / 3))
    page.wait_for_url(re.compile(r"/compare\?a=[\w-]+&b=[\w-]+$"), timeout=60_000)
    runs = page.request.post(f"/api/sweeps/{sweep['id']}/points/7/run").json()
    assert page.url.endswith(runs["compare"])  # the same runs: a permalink now
    expect(page.locator("h1")).to_have_text("Compare two runs")
    expect(page.locator("section.summary h2").first).to_contain_text("guest.ram_bytes=8.0 GiB")


def test_a_click_with_every_pass_ticked_opens_new_one_step_per_pass_runs(page: Page) -> None:
    sweep = start_sweep(page)
    page.goto(sweep["urls"]["page"])
    page.wait_for_function("document.getElementById('sweep-charts').dataset.loaded === '9'")
    page.get_by_label("Open points with every pass (no collapsing)").check()
    box = page.locator("#sweep-chart-0 .nsewdrag").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * (1.5 / 3), box["y"] + box["height"] * (1 - 2.5 / 3))
    page.wait_for_url(re.compile(r"/compare\?a=[\w-]+&b=[\w-]+$"), timeout=60_000)
    found = re.search(r"a=([\w-]+)&b=([\w-]+)$", page.url)
    assert found is not None
    opened = [page.request.get(f"/api/runs/{run_id}").json() for run_id in found.groups()]
    # The point's own (permalink) runs stay collapsed; the click made new every-pass runs of it.
    own = page.request.post(f"/api/sweeps/{sweep['id']}/points/7/run").json()
    assert [run["id"] for run in opened] != [own["run_id"], own["off_run_id"]]
    for run, own_id in zip(opened, (own["run_id"], own["off_run_id"]), strict=True):
        collapsed = page.request.get(f"/api/runs/{own_id}").json()
        assert run["every_pass"] is True and collapsed["every_pass"] is False
        assert run["step_count"] > collapsed["step_count"]
        assert run["summary"] == collapsed["summary"]


def test_new_run_page_starts_a_sweep_from_its_scenario(page: Page) -> None:
    page.goto("/new?example=mlx5-300mb-ack")
    page.get_by_text("Start a sweep from this scenario").click()
    vary = page.get_by_label("Fields to vary")
    vary.fill("guest.nope=1..2")
    page.get_by_role("button", name="Start the sweep").click()
    expect(page.locator("#sweep-start-error")).to_contain_text(
        "guest.nope: unknown field 'nope' in guest"
    )
    assert "/new" in page.url
    vary.fill("guest.dirty_rate_bytes_per_s=0,1GiB")
    page.get_by_role("button", name="Start the sweep").click()
    page.wait_for_url(re.compile(r"/sweeps/[\w-]+$"), timeout=30_000)
    page.wait_for_function(
        "document.getElementById('sweep-charts').dataset.loaded === '2'", timeout=120_000
    )
    expect(page.locator("#sweep-status")).to_have_text("completed")
    # One field: a line over its two values.
    assert page.evaluate("document.getElementById('sweep-chart-0').data[0].type") == "scatter"
    assert page.evaluate("document.getElementById('sweep-chart-0').data[0].y.length") == 2


def test_three_fields_draw_one_heat_map_per_value_of_the_first(page: Page) -> None:
    response = page.request.post(
        "/api/sweeps",
        data={
            "example": "mlx5-300mb-ack",
            "compare_ack": False,
            "vary": [
                "link.latency_ms=0.1,1",
                "guest.ram_bytes=2GiB,4GiB",
                "guest.dirty_rate_bytes_per_s=0,1GiB",
            ],
        },
    )
    assert response.status == 202, response.text()
    page.goto(response.json()["urls"]["page"])
    page.wait_for_function(
        "document.getElementById('sweep-charts').dataset.loaded === '8'", timeout=120_000
    )
    assert page.evaluate("document.querySelectorAll('#sweep-charts .sweep-chart').length") == 2
    titles = page.evaluate(
        "[0, 1].map((i) => document.getElementById(`sweep-chart-${i}`).layout.title.text)"
    )
    assert titles == ["link.latency_ms = 0.1 ms", "link.latency_ms = 1 ms"]
    # Without --compare-ack the picker offers what one run has.
    options = page.locator("#sweep-output option").all_text_contents()
    assert options == ["downtime", "converged (1) or not (0)", "total migration time"]
    expect(page.locator("#sweep-threshold")).to_have_count(0)
