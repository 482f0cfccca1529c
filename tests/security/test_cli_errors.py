"""A new user's first contact: a bad DATABASE_URL, setting or path is one line and exit 2 (the
real console script in a subprocess, as a user runs it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRACE = next((ROOT / "tests" / "fixtures" / "qemu").glob("*.src.trace.log"))
BAD_URLS = [
    "nonsense",
    "postgresql+psycopg://user:hunter2@127.0.0.1:1/migscope",  # nothing listens on port 1
    "mysql://user@db.example/migscope",  # no driver installed
    "sqlite:////proc/no/such/dir/migscope.db",
]


def _migscope(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_line_exit_2(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


@pytest.mark.parametrize(
    ("url", "command"),
    [(url, ["db", "upgrade"]) for url in BAD_URLS]
    + [
        (url, command)
        for url in BAD_URLS[:2]
        for command in (["import", str(TRACE)], ["serve", "--port", "1"])
    ],
)
def test_a_bad_database_url_is_one_line(url: str, command: list[str]) -> None:
    line = _one_line_exit_2(_migscope(*command, DATABASE_URL=url))
    assert "hunter2" not in line  # never the password


def test_trace_into_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    line = _one_line_exit_2(
        _migscope(
            "simulate", "--example", "zero-devices", "--trace", str(tmp_path / "no" / "t.json")
        )
    )
    assert "No such file or directory" in line


def test_a_bad_setting_is_one_line() -> None:
    line = _one_line_exit_2(_migscope("db", "upgrade", MIGSCOPE_MAX_STEPS_PER_RUN="many"))
    assert "MAX_STEPS_PER_RUN" in line


@pytest.mark.parametrize("extra", [["--steps"], ["--trace", "/tmp/never-written.json"]])
def test_compare_ack_refuses_single_run_options(extra: list[str]) -> None:
    line = _one_line_exit_2(
        _migscope("simulate", "--example", "zero-devices", "--compare-ack", *extra)
    )
    assert "--compare-ack" in line
    assert not Path("/tmp/never-written.json").exists()


def test_serve_off_loopback_needs_a_login_and_a_public_url() -> None:
    env = {"MIGSCOPE_AUTH": "", "MIGSCOPE_PUBLIC_BASE_URL": ""}
    assert "MIGSCOPE_AUTH" in _one_line_exit_2(_migscope("serve", "--host", "0.0.0.0", **env))
    env["MIGSCOPE_AUTH"] = "off"
    assert "MIGSCOPE_PUBLIC_BASE_URL" in _one_line_exit_2(
        _migscope("serve", "--host", "0.0.0.0", **env)
    )
    env["MIGSCOPE_AUTH"] = "token:"
    assert "MIGSCOPE_AUTH" in _one_line_exit_2(_migscope("serve", **env))
