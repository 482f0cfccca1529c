"""The "What if? Branch from this step" panel in a real browser: an inline 422, then a branch
that lands on the comparison with both runs' status."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from app.engine.units import format_ms
from tests.browser.helpers import make_run, ready, wait_step

NEVER_CONVERGES = "mlx5-300mb-default-params"
# A step of a run QEMU's defaults never finish; stored runs are collapsed, so its time is read
# from the stored trace (about 45 s in), not assumed from one step per 100 ms pass.
STEP = 50


def test_branch_from_a_step_opens_the_comparison(page: Page, shot: Any) -> None:
    run = make_run(page, {"example": NEVER_CONVERGES})
    assert run["status"] == "cancelled"
    at_ms = page.request.get(f"/api/runs/{run['id']}/steps/{STEP}").json()["step"]["end_ms"]
    page.goto(f"{run['urls']['page']}?step={STEP - 1}")
    ready(page, charts=4)
    late = page.locator("#branch-late")
    expect(late).to_be_hidden()
    # The last step is the cancellation: nothing can change there, and the panel says so.
    page.keyboard.press("End")
    wait_step(page, run["step_count"] - 1)
    expect(late).to_be_visible()
    page.keyboard.press("Home")
    wait_step(page, 0)
    expect(late).to_be_hidden()
    page.goto(f"{run['urls']['page']}?step={STEP - 1}")
    ready(page, charts=4)
    # Step with the keyboard: the panel follows the step the page shows.
    page.keyboard.press("ArrowRight")
    wait_step(page, STEP)
    panel = page.get_by_role("region", name="What if? Branch from this step")
    expect(panel.locator("#branch-step")).to_have_text(str(STEP))
    expect(panel.locator("#branch-at")).to_have_text(format_ms(at_ms))
    avail = panel.get_by_label("avail-switchover-bandwidth")
    downtime = panel.get_by_label("downtime-limit")
    expect(downtime).to_have_attribute("placeholder", "300")
    expect(panel.get_by_label("max-bandwidth")).to_have_attribute("placeholder", "128 MiB")

    # A value the engine refuses: the 422 is shown next to its field, nothing is stored.
    panel.get_by_label("The operator").select_option("set_parameters")
    downtime.fill("0")
    panel.get_by_role("button", name="Branch and compare").click()
    error = panel.locator("#branch-err-action-downtime_limit_ms")
    expect(error).to_contain_text("greater than or equal to 1")
    expect(downtime).to_have_attribute("aria-invalid", "true")
    expect(downtime).to_be_focused()
    assert "/runs/" in page.url
    shot("branch-form-error")

    downtime.fill("")
    avail.fill("10 Gbit")
    avail.press("Enter")  # the form submits from the keyboard
    page.wait_for_url(re.compile(r"/compare\?a=[\w-]+&b=[\w-]+$"), timeout=30_000)
    ready(page)
    assert f"a={run['id']}" in page.url
    statuses = page.locator(
        ".compare-grid section.summary .tile.status-cancelled dd, "
        ".compare-grid section.summary .tile.status-completed dd"
    )
    expect(statuses).to_have_text(["cancelled", "completed"])
    b_title = page.locator(".compare-grid section.summary").nth(1).locator("h2 a")
    expect(b_title).to_contain_text(
        f"[branch at {format_ms(at_ms)}: avail-switchover-bandwidth 1.2 GiB/s]"
    )
    # The branch point is drawn on both runs' time charts, at the step's end (in seconds).
    ready(page, charts=7)
    for chart in ("chart-devices-a", "chart-ram-b", "chart-lane-b"):
        xs = page.evaluate(
            f"document.getElementById('{chart}').layout.shapes.filter(s => s.name === 'branch').map(s => s.x0)"
        )
        assert xs == [pytest.approx(at_ms / 1000)], chart
    shot("branch-compare", full_page=True)
