"""Where sweep points run: worker processes on this machine (default) or a Dask cluster.

Both hand out `PointBatch`es through the concurrent.futures interface (Dask's
`Client.get_executor()` provides it), so the loop in `run.py` is the same for both and the
results, sorted by point index, are the same bytes whatever runs them.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from typing import Literal, Protocol

from .point import PointBatch, PointResult, run_batch

ExecutorName = Literal["local", "dask"]


class SweepExecutor(Protocol):
    workers: int

    def submit(self, batch: PointBatch) -> cf.Future[list[tuple[int, PointResult]]]: ...

    def close(self, wait: bool = True) -> None: ...


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))


class InlineExecutor:
    """One process, no pool: the reference the benchmark compares the pool against."""

    workers = 1

    def submit(self, batch: PointBatch) -> cf.Future[list[tuple[int, PointResult]]]:
        future: cf.Future[list[tuple[int, PointResult]]] = cf.Future()
        future.set_result(run_batch(batch))
        return future

    def close(self, wait: bool = True) -> None:
        return None


class LocalExecutor:
    """A pool of worker processes. forkserver: the web server has threads, and forking a
    threaded process can copy a held lock into the child."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self._pool = cf.ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("forkserver")
        )

    def submit(self, batch: PointBatch) -> cf.Future[list[tuple[int, PointResult]]]:
        return self._pool.submit(run_batch, batch)

    def close(self, wait: bool = True) -> None:
        # wait=False: a server shutting down does not wait for the batches still running.
        self._pool.shutdown(wait=wait, cancel_futures=True)


class DaskExecutor:
    """Points on a Dask distributed cluster (`tcp://HOST:PORT` of its scheduler). Every worker
    needs migscope installed at the same version: the batches call app.sweeps.point.run_batch."""

    def __init__(self, scheduler: str, timeout_s: float = 10.0) -> None:
        from distributed import Client

        self._client = Client(scheduler, timeout=timeout_s)
        self.workers = max(1, sum(self._client.nthreads().values()))
        # pure=False: two batches with equal content are still two tasks (never deduplicated).
        self._executor = self._client.get_executor(pure=False)

    def submit(self, batch: PointBatch) -> cf.Future[list[tuple[int, PointResult]]]:
        return self._executor.submit(run_batch, batch)

    def close(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=False)
        self._client.close()


def make_executor(
    name: str, workers: int | None = None, scheduler: str | None = None
) -> SweepExecutor:
    """`local` (workers processes; 1 = in this process) or `dask` (needs scheduler)."""
    if name == "dask":
        if not scheduler:
            raise ValueError("--executor dask needs --scheduler tcp://HOST:PORT")
        return DaskExecutor(scheduler)
    if name != "local":
        raise ValueError(f"unknown executor {name!r}: use local or dask")
    if scheduler:
        raise ValueError("--scheduler is for --executor dask")
    if workers is not None and workers < 1:
        raise ValueError("--workers must be at least 1")
    if workers == 1:
        return InlineExecutor()
    return LocalExecutor(workers)
