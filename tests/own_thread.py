"""Run a test's blocking body in a thread of its own.

An xdist worker that has run a browser test keeps pytest-playwright's sync API alive in the
test thread, and with it a running event loop: `asyncio.run()` and a second `sync_playwright()`
refuse to start there. A fresh thread has no loop, whatever ran before in the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def in_own_thread(body: Callable[[], T]) -> T:
    """Call `body` in a new thread and return its result (its exception is re-raised here)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-body") as pool:
        return pool.submit(body).result()
