"""Real `migscope serve` processes for the hardening tests (two writers, budgets, stress)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.live_server import free_port, wait_ready

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Server:
    base: str
    pid: int


@contextmanager
def served_process(database_url: str, log_path: Path, **settings: str) -> Iterator[Server]:
    """`migscope serve` on a free loopback port; yields its URL and pid, stops it afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MIGSCOPE_CREATION_RATE_PER_MINUTE": "0",
        **{f"MIGSCOPE_{name.upper()}": value for name, value in settings.items()},
    }
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from app.cli import main; main()", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, base, log_path)
        yield Server(base, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextmanager
def served(database_url: str, log_path: Path, **settings: str) -> Iterator[str]:
    """served_process, yielding only the base URL."""
    with served_process(database_url, log_path, **settings) as server:
        yield server.base
