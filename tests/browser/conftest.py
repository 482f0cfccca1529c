"""Browser tests: Debian's Chromium (no browser download) against a REAL uvicorn subprocess on a
free port with a temporary SQLite database. In CI a missing chromium fails; locally it skips
(the `chromium_path` fixture of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import UVICORN, serving

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 800}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, chromium_path: str) -> Iterator[str]:
    """`uvicorn app.web.app:create_app --factory` on a free port and a fresh SQLite file: one
    server for every browser test of a test process."""
    db = tmp_path_factory.mktemp("browser-db") / "migscope.db"
    log_path = tmp_path_factory.mktemp("browser-log") / "uvicorn.log"
    with serving(UVICORN, f"sqlite:///{db}", log_path) as server:
        yield server.base


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any], chromium_path: str
) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": chromium_path, "args": CHROMIUM_ARGS}


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any], live_server: str) -> dict[str, Any]:
    # Playwright's wait_for_function evaluates its predicate as a string, which the app's
    # Content-Security-Policy (script-src 'self') forbids; test_csp.py checks every page with
    # the policy enforced.
    return {
        **browser_context_args,
        "base_url": live_server,
        "viewport": VIEWPORT,
        "accept_downloads": True,
        "bypass_csp": True,
    }


@pytest.fixture
def shot(page: Any, request: pytest.FixtureRequest) -> Any:
    """Save a screenshot of the current page under test-artifacts/browser/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(name: str, full_page: bool = False) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture(autouse=True)
def browser_console(page: Any) -> Iterator[list[str]]:
    """Collect console messages and page errors; a page error fails the test, with the log."""
    messages: list[str] = []
    errors: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(15_000)
    yield messages
    assert not errors, f"JavaScript errors: {errors}; console: {messages[-20:]}"
