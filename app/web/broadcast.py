"""Presenter step changes fanned out to followers: one reader per web process, not per follower.

Every follower's event stream waits on this process's `StepBroadcaster`. It reads the steps of
all sessions someone follows here in ONE query per round, off the event loop, and wakes the
followers of the sessions that changed. A round starts
- at once when this process moved a step (`poke`),
- at once on PostgreSQL's NOTIFY (`move_presentation` notifies on the `migscope_presentations`
  channel; a listener thread per process LISTENs), then every FALLBACK_POLL_S in case a
  notification was missed,
- on SQLite (no notifications between processes) every SQLITE_POLL_S: still one query per
  process and round, however many followers there are.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

import structlog
from sqlalchemy import Engine
from sqlmodel import Session

from app.store.models import PresentationPublic
from app.store.presentations import NOTIFY_CHANNEL, get_presentations

log = structlog.get_logger("migscope.web")

CHANNEL = NOTIFY_CHANNEL
SQLITE_POLL_S = 0.25
FALLBACK_POLL_S = 2.0


class StepBroadcaster:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._state: dict[str, PresentationPublic | None] = {}
        self._events: dict[str, asyncio.Event] = {}
        self._followers: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        self.rounds = 0  # queries made (tests and the stress run read it)

    # --- followers -----------------------------------------------------------------------
    def _ensure_running(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None and self._loop is loop and not self._task.done():
            return
        self._loop = loop
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._run(), name="presenter-broadcaster")
        if self.postgres and self._listener is None:
            self._listener = threading.Thread(
                target=self._listen, name="presenter-listen", daemon=True
            )
            self._listener.start()

    async def wait_change(
        self, session_id: str, seen: PresentationPublic, timeout_s: float
    ) -> PresentationPublic | None:
        """The session's state once it differs from `seen` (or after timeout_s: the latest);
        None once the session is gone."""
        self._ensure_running()
        self._followers[session_id] = self._followers.get(session_id, 0) + 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            while True:
                current = self._state.get(session_id, seen)
                if current is None or (current.step, current.updated_at) != (
                    seen.step,
                    seen.updated_at,
                ):
                    return current
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return current
                event = self._events.setdefault(session_id, asyncio.Event())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
        finally:
            self._followers[session_id] -= 1
            if self._followers[session_id] <= 0:
                del self._followers[session_id]
                self._state.pop(session_id, None)
                self._events.pop(session_id, None)

    def poke(self) -> None:
        """A step was moved through this process: read at once (thread-safe)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    # --- the one reader ------------------------------------------------------------------
    def _read(self, session_ids: list[str]) -> dict[str, PresentationPublic]:
        with Session(self.engine) as session:
            return get_presentations(session, session_ids)

    async def _run(self) -> None:
        assert self._wake is not None
        interval = FALLBACK_POLL_S if self.postgres else SQLITE_POLL_S
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            watched = list(self._followers)
            if not watched:
                continue
            try:
                found = await asyncio.to_thread(self._read, watched)
            except Exception as error:  # noqa: BLE001  the next round tries again
                log.warning("presenter broadcaster read failed", error=str(error))
                continue
            self.rounds += 1
            for session_id in watched:
                new = found.get(session_id)
                old = self._state.get(session_id)
                if (
                    session_id in self._state
                    and (old is None) == (new is None)
                    and (
                        old is None
                        or new is None
                        or (old.step, old.updated_at) == (new.step, new.updated_at)
                    )
                ):
                    continue
                self._state[session_id] = new
                event = self._events.pop(session_id, None)
                if event is not None:
                    event.set()

    def _listen(self) -> None:
        """PostgreSQL: LISTEN on the channel and poke the reader on every notification."""
        import psycopg

        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    while not self._stop.is_set():
                        for _notice in connection.notifies(timeout=1.0):
                            self.poke()
            except Exception as error:  # noqa: BLE001  reconnect; the fallback poll covers the gap
                log.warning("presenter LISTEN failed", error=str(error))
                self._stop.wait(FALLBACK_POLL_S)

    def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()

    def stats(self) -> dict[str, Any]:
        return {
            "followed_sessions": len(self._followers),
            "followers": sum(self._followers.values()),
            "rounds": self.rounds,
        }
