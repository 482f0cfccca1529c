"""One bounded pool of worker PROCESSES per web process for all engine, import and export work.

A heavy run then costs a worker process, never the event loop or the threads that serve
reads. At most `max_concurrent_runs` jobs run at once and at most `max_queued_jobs` more wait;
past that a request is refused at once with 503 and Retry-After (PoolBusy) instead of piling
up. Worker processes come from a fork server (clean, quick to start, no inherited database
connections or threads) and are replaced after `worker_max_tasks` jobs, so the memory of a
heavy job goes back to the system.

Other parts (sweeps) may submit their own picklable functions: `get_pool(settings).run(fn, *args)`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import structlog

from app.settings import Settings

log = structlog.get_logger("migscope.workers")
T = TypeVar("T")

RETRY_AFTER_S = 5
# Imported once by the fork server: every worker starts with the engine and the store loaded.
_PRELOAD = ["app.web.jobs"]


class PoolBusy(RuntimeError):
    """Every worker is busy and the queue is full: answered as 503 with Retry-After."""

    def __init__(self, message: str, retry_after_s: int = RETRY_AFTER_S) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class WorkerPool:
    def __init__(self, workers: int, queue_limit: int, max_tasks: int) -> None:
        self.workers = workers
        self.queue_limit = queue_limit
        self.max_tasks = max_tasks
        self._lock = threading.Lock()
        self._pending = 0
        self._executor: cf.ProcessPoolExecutor | None = None

    @property
    def capacity(self) -> int:
        return self.workers + self.queue_limit

    def pending(self) -> int:
        """Jobs running or queued now."""
        with self._lock:
            return self._pending

    def _get_executor(self) -> cf.ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            self._executor = cf.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=context, max_tasks_per_child=self.max_tasks
            )
        return self._executor

    def submit(self, func: Callable[..., T], *args: Any) -> cf.Future[T]:
        """Queue a job (a picklable top-level function); PoolBusy when the queue is full."""
        with self._lock:
            if self._pending >= self.capacity:
                raise PoolBusy(
                    f"all {self.workers} workers are busy and {self.queue_limit} jobs are waiting; "
                    f"try again in {RETRY_AFTER_S} s"
                )
            self._pending += 1
            try:
                future = self._get_executor().submit(func, *args)
            except BrokenProcessPool:
                # A worker died (killed, out of memory): start a fresh pool for the next jobs.
                self._executor = None
                future = self._get_executor().submit(func, *args)
            except BaseException:
                self._pending -= 1
                raise
        # Counted until the job has really finished, even if the client went away meanwhile.
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: cf.Future[Any]) -> None:
        with self._lock:
            self._pending -= 1

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        """Run a job in a worker process and wait for it without blocking the event loop."""
        future = self.submit(func, *args)
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            with self._lock:
                self._executor = None
            raise PoolBusy("a worker process stopped unexpectedly; try again") from None

    def shutdown(self, wait: bool = False) -> None:
        """Stop the worker processes (a later submit starts new ones). wait=True (an app's
        shutdown): return once they have exited. A fork-server child holds the fork server's
        keep-alive pipe, so a worker left waiting on its queue would keep itself and the fork
        server alive after the web process has gone."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=True)


_POOLS: dict[tuple[int, int, int], WorkerPool] = {}
_POOLS_LOCK = threading.Lock()


def get_pool(settings: Settings) -> WorkerPool:
    """This process's pool for these settings (apps built with the same limits share one)."""
    key = (settings.max_concurrent_runs, settings.max_queued_jobs, settings.worker_max_tasks)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = WorkerPool(*key)
        return pool
