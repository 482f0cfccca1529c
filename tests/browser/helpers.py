"""What the browser tests share: waiting for a page and its charts, making a run through the
API, stepping, and the phone and projector screens."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page

EXAMPLE = "mlx5-300mb-ack"
# A phone (390x844 CSS px at 2x, touch) and a classroom projector (1280x720): new_context(**...).
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
PROJECTOR: dict[str, Any] = {"viewport": {"width": 1280, "height": 720}}


def ready(page: Page, charts: int = 0) -> None:
    """The page's script has run; with `charts`, at least that many charts are drawn."""
    page.wait_for_function("document.body.dataset.ready === '1'")
    if charts:
        page.wait_for_function(
            f"document.querySelectorAll('.chart.drawn .main-svg').length >= {charts}"
        )


def make_run(page: Page, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """A stored run made through the API (an example by default)."""
    response = page.request.post("/api/runs", data=body or {"example": EXAMPLE})
    assert response.status == 201, response.text()
    return response.json()


def step_in_url(page: Page) -> int | None:
    value = re.search(r"[?&]step=(\d+)", page.url)
    return int(value.group(1)) if value else None


def wait_step(page: Page, n: int) -> None:
    """Step `n` is shown and the address says so (a reload or a shared link opens it)."""
    page.wait_for_selector(f'#step-panel article[data-step="{n}"]')
    assert step_in_url(page) == n
