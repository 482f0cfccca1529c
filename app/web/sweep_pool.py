"""Sweeps in the server: each runs in a thread of its own that feeds a bounded pool of worker
processes (or a Dask cluster), never in the web's thread pool, so pages stay responsive.

The database holds everything a sweep needs: a cancel is a status change any worker can make,
and at start-up (then every `RESCAN_S`) each web worker resumes unfinished sweeps whose owner
has gone silent, so a sweep survives a restart.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading

import structlog
from sqlalchemy import Engine

from app.settings import Settings
from app.store.sweeps import (
    claim_sweep,
    release_sweeps,
    run_stored_sweep,
    set_status,
    unfinished_sweep_ids,
)
from app.sweeps.executors import LocalExecutor, SweepExecutor, make_executor

log = structlog.get_logger("migscope.sweeps")

RESCAN_S = 30.0
# What the fork server imports once (so no worker imports it itself): the run workers' jobs
# (app/web/workers.py preloads the same) and the sweep points' engine.
SERVER_PRELOAD = ("app.web.jobs", "app.sweeps.point")
RETRY_AFTER_S = 30


class SweepPoolFull(RuntimeError):
    """max_concurrent_sweeps sweeps are queued or running in this worker."""


class SweepPool:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.owner = f"{socket.gethostname()[:32]}-{os.getpid()}-{secrets.token_hex(4)}"
        self._lock = threading.Lock()
        self._active: dict[str, threading.Thread] = {}
        self._executor: SweepExecutor | None = None
        self._closing = threading.Event()
        self._rescan: threading.Thread | None = None

    @property
    def capacity(self) -> int:
        return self.settings.max_concurrent_sweeps

    def active(self) -> int:
        with self._lock:
            return len(self._active)

    def _get_executor(self) -> SweepExecutor:
        # Created on first use, then kept for every sweep of this process: a server that never
        # sweeps starts no processes, and one that does pays the pool's start-up once.
        with self._lock:
            if self._executor is None:
                settings = self.settings
                if settings.sweep_executor == "local" and not settings.sweep_scheduler:
                    # Worker processes even for one core: they keep the engine off the web
                    # process. The fork server is shared with the run workers (app.web.workers):
                    # whichever pool starts it first, it preloads what both need.
                    self._executor = LocalExecutor(
                        settings.sweep_workers or None, preload=SERVER_PRELOAD
                    )
                else:
                    self._executor = make_executor(
                        settings.sweep_executor,
                        settings.sweep_workers or None,
                        settings.sweep_scheduler,
                    )
            return self._executor

    def reserve(self) -> None:
        """Raise SweepPoolFull when no more sweeps fit (checked before anything is stored)."""
        if self.active() >= self.capacity:
            raise SweepPoolFull(
                f"{self.capacity} sweeps are already queued or running here; try again later"
            )

    def start(self, sweep_id: str) -> bool:
        """Run a stored sweep in the background; False when the pool is full or it runs already."""
        with self._lock:
            if (
                sweep_id in self._active
                or len(self._active) >= self.capacity
                or self._closing.is_set()
            ):
                return False
            thread = threading.Thread(
                target=self._drive, args=(sweep_id,), name=f"sweep-{sweep_id}", daemon=True
            )
            self._active[sweep_id] = thread
        thread.start()
        return True

    def _drive(self, sweep_id: str) -> None:
        try:
            if not claim_sweep(self.engine, sweep_id, self.owner):
                return
            status = run_stored_sweep(
                self.engine,
                sweep_id,
                self._get_executor(),
                owner=self.owner,
                stop_requested=self._closing.is_set,
            )
            log.info("sweep ended", sweep_id=sweep_id, status=status)
        except Exception as error:  # noqa: BLE001  recorded on the sweep; the thread must not die loudly
            log.error(
                "sweep runner failed", sweep_id=sweep_id, error=f"{type(error).__name__}: {error}"
            )
            set_status(
                self.engine,
                sweep_id,
                "failed",
                error=f"{type(error).__name__}: {error}",
                only_from=("queued", "running"),
            )
        finally:
            with self._lock:
                self._active.pop(sweep_id, None)

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait for every sweep thread of this pool to end (tests; a shutdown does not wait)."""
        with self._lock:
            threads = list(self._active.values())
        for thread in threads:
            thread.join(timeout=timeout_s)
        return self.active() == 0

    def resume_unfinished(self) -> int:
        """Start every unfinished sweep that no live process holds (as many as fit)."""
        started = 0
        for sweep_id in unfinished_sweep_ids(self.engine):
            if self.active() >= self.capacity:
                break
            if claim_sweep(self.engine, sweep_id, self.owner) and self.start(sweep_id):
                started += 1
        if started:
            log.info("sweeps resumed", count=started)
        return started

    def open(self) -> None:
        self.resume_unfinished()

        def rescan() -> None:
            while not self._closing.wait(RESCAN_S):
                try:
                    self.resume_unfinished()
                except Exception as error:  # noqa: BLE001  the next scan tries again
                    log.warning("sweep rescan failed", error=str(error))

        self._rescan = threading.Thread(target=rescan, name="sweep-rescan", daemon=True)
        self._rescan.start()

    def close(self) -> None:
        """Stop handing out points; unfinished sweeps stay `running` and resume at the next start."""
        self._closing.set()
        with self._lock:
            threads = list(self._active.values())
        for thread in threads:
            thread.join(timeout=5)  # a point in flight is run again at the next start
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.close(wait=False)
        release_sweeps(self.engine, self.owner)
