"""Real `migscope serve` processes for the hardening tests (two writers, budgets, stress)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.live_server import MIGSCOPE_SERVE, ROOT, Server, serving

__all__ = ["ROOT", "Server", "served", "served_process"]


@contextmanager
def served_process(database_url: str, log_path: Path, **settings: str) -> Iterator[Server]:
    """`migscope serve` on a free loopback port with MIGSCOPE_<NAME> settings (no creation
    rate limit unless given); yields its URL and pid, stops it afterwards."""
    env = {
        "MIGSCOPE_CREATION_RATE_PER_MINUTE": "0",
        **{f"MIGSCOPE_{name.upper()}": value for name, value in settings.items()},
    }
    with serving(MIGSCOPE_SERVE, database_url, log_path, env) as server:
        yield server


@contextmanager
def served(database_url: str, log_path: Path, **settings: str) -> Iterator[str]:
    """served_process, yielding only the base URL."""
    with served_process(database_url, log_path, **settings) as server:
        yield server.base
