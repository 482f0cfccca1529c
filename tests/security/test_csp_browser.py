"""Every page under the real Content-Security-Policy (no bypass) in Debian's Chromium against a
real server: no CSP violation and no page error; Plotly draws its charts, htmx is loaded, and
Swagger UI renders (it starts from /docs/init.js, not an inline script)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.own_thread import in_own_thread
from tests.security.live import served

pytestmark = pytest.mark.browser
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("csp")
    with served(f"sqlite:///{tmp / 'csp.db'}", tmp / "server.log") as base:
        yield base


def test_pages_work_under_the_csp(chromium_path: str, server: str) -> None:
    from playwright.sync_api import sync_playwright

    created = httpx.post(f"{server}/api/compare", json={"example": "mlx5-300mb-ack"}, timeout=300)
    assert created.status_code == 201, created.text
    pair = created.json()
    run_id = pair["a"]["id"]
    presenting = httpx.post(f"{server}/api/runs/{run_id}/presentations", timeout=60)
    assert presenting.status_code == 201, presenting.text
    session = presenting.json()["session_id"]
    pages = {
        "/": None,
        "/new": None,
        "/runs": None,
        f"/runs/{run_id}?step=5": ".js-plotly-plot .main-svg",
        f"/compare?a={pair['a']['id']}&b={pair['b']['id']}": ".js-plotly-plot .main-svg",
        "/about": None,
        f"/present/{session}": None,
        "/docs": ".swagger-ui .info",
    }
    problems: list[str] = []

    def visit_pages() -> None:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()  # the policy is enforced (no bypass_csp)
                page.on(
                    "console",
                    lambda m: (
                        problems.append(f"console {m.type}: {m.text}")
                        if m.type == "error" or "Content Security Policy" in m.text
                        else None
                    ),
                )
                page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
                for path, drawn in pages.items():
                    response = page.goto(server + path, wait_until="load")
                    assert response is not None and response.status == 200, path
                    assert "script-src 'self'" in (
                        response.headers.get("content-security-policy") or ""
                    )
                    if drawn is not None:
                        page.wait_for_selector(drawn, timeout=30_000)
                    if path.startswith("/runs/") or path == "/new":
                        assert page.evaluate("typeof htmx") == "object", (
                            f"htmx not loaded on {path}"
                        )
                    # What the page's scripts fetch after `load` (series, panels) has been
                    # answered, so a violation it causes is reported before the next page.
                    page.wait_for_load_state("networkidle")
                    if problems:
                        break
            finally:
                browser.close()

    in_own_thread(visit_pages)
    assert not problems, problems
