"""Where sweep points run: worker processes on this machine (default) or a Dask cluster.

Both hand out `PointBatch`es through the concurrent.futures interface (Dask's
`Client.get_executor()` provides it), so the loop in `run.py` is the same for both and the
results, sorted by point index, are the same bytes whatever runs them.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import socket
import threading
from collections.abc import Sequence
from typing import Literal, Protocol

from .point import PointBatch, PointResult, run_batch

ExecutorName = Literal["local", "dask"]
StartMethod = Literal["forkserver", "fork"]


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


# What a sweep worker needs, imported once by the fork server instead of by every worker:
# "__main__" (the parent's script, as multiprocessing does by default) and the engine.
SWEEP_PRELOAD: tuple[str, ...] = ("__main__", "app.sweeps.point")


class LocalExecutor:
    """A pool of worker processes, started once and kept for every batch (and, in the server,
    every sweep).

    start_method "forkserver" (the default; the server's): forking a threaded process can copy
    a held lock into the child, so workers come from a fork server, which imports `preload`
    once so each worker starts with the engine loaded. The fork server is one per process,
    shared with any other pool: whichever starts it first sets what it preloads
    (app/web/sweep_pool.py passes the run workers' modules too).

    start_method "fork" (the command line's): the workers are forked at once, from this process
    with the engine already imported (about 0.05 s instead of about 1 s for a fork server and
    its imports); only while this process has a single thread, else it falls back to the fork
    server."""

    def __init__(
        self,
        workers: int | None = None,
        preload: Sequence[str] = SWEEP_PRELOAD,
        start_method: StartMethod = "forkserver",
    ) -> None:
        self.workers = workers or default_workers()
        if start_method == "fork" and threading.active_count() > 1:
            start_method = "forkserver"
        self.start_method: StartMethod = start_method
        context = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            context.set_forkserver_preload(list(preload))
        self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        if start_method == "fork":
            # Every worker forked now, before the pool (or a progress bar) starts a thread.
            self.warm_up()

    def submit(self, batch: PointBatch) -> cf.Future[list[tuple[int, PointResult]]]:
        return self._pool.submit(run_batch, batch)

    def warm_up(self) -> None:
        """Start every worker now (the benchmark times the start-up apart from the points)."""
        for future in [self._pool.submit(_ready) for _ in range(self.workers)]:
            future.result()

    def close(self, wait: bool = True) -> None:
        # wait=False: a server shutting down does not wait for the batches still running.
        self._pool.shutdown(wait=wait, cancel_futures=True)


def _ready() -> None:
    return None


class DaskExecutor:
    """Points on a Dask distributed cluster (`tcp://HOST:PORT` of its scheduler). Every worker
    needs migscope installed at the same version: the batches call app.sweeps.point.run_batch."""

    def __init__(self, scheduler: str, timeout_s: float = 10.0) -> None:
        from distributed import Client

        _refuse_fast(scheduler, timeout_s)
        self._client = Client(scheduler, timeout=timeout_s)
        self.workers = max(1, sum(self._client.nthreads().values()))
        # pure=False: two batches with equal content are still two tasks (never deduplicated).
        self._executor = self._client.get_executor(pure=False)

    def submit(self, batch: PointBatch) -> cf.Future[list[tuple[int, PointResult]]]:
        return self._executor.submit(run_batch, batch)

    def close(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=False)
        self._client.close()


def _refuse_fast(scheduler: str, timeout_s: float) -> None:
    """A tcp:// scheduler that refuses the connection (nothing listens there) is an OSError at
    once; Dask's Client would retry it for its whole timeout (10 s) before saying so. Other
    failures (a slow network, another protocol) are left to the Client and its timeout."""
    if not scheduler.startswith("tcp://"):
        return
    host, _, port = scheduler.removeprefix("tcp://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        # A short probe: a host that drops packets is left to the Client's own timeout.
        socket.create_connection((host.strip("[]"), int(port)), timeout=min(1.0, timeout_s)).close()
    except ConnectionRefusedError:
        raise ConnectionRefusedError(
            "the connection was refused: nothing listens on that port"
        ) from None
    except OSError:
        return  # an unreachable or slow host: the Client's own timeout and message


def make_executor(
    name: str,
    workers: int | None = None,
    scheduler: str | None = None,
    start_method: StartMethod = "forkserver",
) -> SweepExecutor:
    """`local` (workers processes; 1 = in this process) or `dask` (needs scheduler);
    start_method as for LocalExecutor."""
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
    return LocalExecutor(workers, start_method=start_method)
