"""Browser tests never silently vanish in CI: without chromium they fail there, and skip locally."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TARGET = "tests/browser/test_dashboard.py::test_runs_and_about_pages"
# Plugins the target does not use: loading schemathesis and Hypothesis alone takes seconds.
UNUSED_PLUGINS = [
    *("-p", "no:schemathesis"),
    *("-p", "no:hypothesispytest"),
    *("-p", "no:xdist"),
    *("-p", "no:anyio"),
]


def _run_without_chromium(ci: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": "/nonexistent", "CI": ci}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *UNUSED_PLUGINS, TARGET],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_missing_chromium_fails_in_ci() -> None:
    result = _run_without_chromium("true")
    assert result.returncode != 0
    assert "CI must run the browser tests" in result.stdout


def test_missing_chromium_skips_locally() -> None:
    result = _run_without_chromium("false")
    assert result.returncode == 0, result.stdout
    assert "skipped" in result.stdout
