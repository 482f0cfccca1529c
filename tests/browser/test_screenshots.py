"""One 1280x800 screenshot per page: always into test-artifacts/screenshots/, and into
docs/screenshots/ when MIGSCOPE_UPDATE_SCREENSHOTS=1 (then commit them)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

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
    page.wait_for_function("document.body.dataset.ready === '1'")
    if charts:
        page.wait_for_function(f"document.querySelectorAll('.chart.drawn .main-svg').length >= {charts}")
    page.wait_for_timeout(300)


def _scroll_to(page: Page, selector: str) -> None:
    page.evaluate(f"window.scrollTo(0, document.querySelector('{selector}').getBoundingClientRect().top + window.scrollY - 8)")
    page.wait_for_timeout(200)


def test_screenshot_every_page(page: Page) -> None:
    assert page.viewport_size == {"width": 1280, "height": 800}
    pair: dict[str, Any] = page.request.post("/api/compare", data={"example": "mlx5-300mb-ack"}).json()
    run_id = pair["a"]["id"]
    ack = page.request.get(f"/api/runs/{run_id}/series?event_kinds=ack_received").json()["events"][0]["step"]

    page.goto("/new")
    _ready(page)
    _save(page, "new-run")

    page.goto(f"/runs/{run_id}?step={max(0, ack - 1)}")
    _ready(page, charts=4)
    _scroll_to(page, "#stepper")
    _save(page, "run")

    page.keyboard.press("p")
    _ready(page, charts=4)
    _scroll_to(page, "#stepper")
    _save(page, "run-presentation")
    page.keyboard.press("p")

    page.goto(pair["page"])
    _ready(page, charts=7)
    _save(page, "compare")

    stem = "vfio100-dec-two-devices"
    files = {
        "src_trace": FIXTURES / f"{stem}.src.trace.log", "dst_trace": FIXTURES / f"{stem}.dst.trace.log",
        "query_migrate": FIXTURES / f"{stem}.query-migrate.jsonl", "info_migrate": FIXTURES / f"{stem}.info-migrate.txt",
    }
    multipart = {k: {"name": v.name, "mimeType": "text/plain", "buffer": v.read_bytes()} for k, v in files.items()}
    multipart["title"] = "two VFs (constructed VFIO logs)"  # type: ignore[assignment]
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
