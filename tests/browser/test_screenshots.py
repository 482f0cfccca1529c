"""One 1280x800 screenshot per page, the run page on a phone (390x844) and on a projector
(1280x720, presentation mode): always into test-artifacts/screenshots/, and into
docs/screenshots/ when MIGSCOPE_UPDATE_SCREENSHOTS=1 (then commit them)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, FilePayload, Page

from tests.browser.helpers import PHONE, PROJECTOR, ready

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "constructed"


def _save(page: Page, name: str) -> None:
    targets = [ROOT / "test-artifacts" / "screenshots"]
    if os.environ.get("MIGSCOPE_UPDATE_SCREENSHOTS") == "1":
        targets.append(ROOT / "docs" / "screenshots")
    for folder in targets:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"))


def _ready(page: Page, charts: int = 0) -> None:
    ready(page, charts)
    if charts:
        page.wait_for_function("document.body.dataset.charts === '1'")
    # Fonts and Plotly's responsive resize settle on the next frames.
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def _scroll_to(page: Page, selector: str) -> None:
    page.evaluate(
        f"window.scrollTo(0, document.querySelector('{selector}').getBoundingClientRect().top + window.scrollY - 8)"
    )
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def test_screenshot_every_page(page: Page) -> None:
    assert page.viewport_size == {"width": 1280, "height": 800}
    pair: dict[str, Any] = page.request.post(
        "/api/compare", data={"example": "mlx5-300mb-ack"}
    ).json()
    run_id = pair["a"]["id"]
    ack = page.request.get(f"/api/runs/{run_id}/series?event_kinds=ack_received").json()["events"][
        0
    ]["step"]

    page.goto("/new")
    _ready(page)
    _save(page, "new-run")

    page.goto(f"/runs/{run_id}?step={ack}")
    _ready(page, charts=4)
    _scroll_to(page, "#stepper")
    _save(page, "run")

    page.goto(pair["page"])
    _ready(page, charts=7)
    _save(page, "compare")

    stem = "vfio100-dec-two-devices"
    files = {
        "src_trace": FIXTURES / f"{stem}.src.trace.log",
        "dst_trace": FIXTURES / f"{stem}.dst.trace.log",
        "query_migrate": FIXTURES / f"{stem}.query-migrate.jsonl",
        "info_migrate": FIXTURES / f"{stem}.info-migrate.txt",
    }
    multipart: dict[str, str | float | bool | bytes | FilePayload] = {
        k: {"name": v.name, "mimeType": "text/plain", "buffer": v.read_bytes()}
        for k, v in files.items()
    }
    multipart["title"] = "two VFs (constructed VFIO logs)"
    imported = page.request.post("/api/imports", multipart=multipart).json()
    page.goto(imported["url"] + "?step=6")
    _ready(page, charts=4)
    _save(page, "run-imported")

    page.goto("/runs")
    _ready(page)
    _save(page, "runs")

    page.goto("/about")
    _ready(page)
    _save(page, "about")
    assert re.search(r"/about$", page.url)

    page.goto("/evidence")
    _ready(page)
    _save(page, "evidence")


def _ack_step(page: Page) -> tuple[str, int]:
    run = page.request.post("/api/runs", data={"example": "mlx5-300mb-ack"}).json()
    ack = page.request.get(f"/api/runs/{run['id']}/series?event_kinds=ack_received").json()[
        "events"
    ][0]["step"]
    return run["id"], ack


def test_screenshot_phone_and_projector(browser: Browser, live_server: str) -> None:
    phone = browser.new_context(base_url=live_server, bypass_csp=True, **PHONE)
    page = phone.new_page()
    run_id, ack = _ack_step(page)
    page.goto(f"/runs/{run_id}?step={ack}")
    _ready(page, charts=4)
    _scroll_to(page, "#stepper")
    _save(page, "run-phone")
    phone.close()
    projector = browser.new_context(base_url=live_server, bypass_csp=True, **PROJECTOR)
    page = projector.new_page()
    page.goto(f"/runs/{run_id}?step={ack}")
    _ready(page, charts=4)
    page.keyboard.press("p")
    page.wait_for_function("document.getElementById('chart-devices')._fullLayout.font.size > 13")
    # Presentation mode changes the grid: wait until the chart fills its new width.
    page.wait_for_function(
        "(() => { const gd = document.getElementById('chart-devices');"
        " return gd._fullLayout.width >= gd.clientWidth - 2; })()"
    )
    _scroll_to(page, "#stepper")
    _save(page, "run-presentation")
    projector.close()
