"""Serialized writes on SQLite: one writer at a time, within and across processes.

SQLite allows one writer; a second one waits in `busy_timeout` and, past it, fails with
"database is locked" (after the engine had finished: the simulation was lost). So every
write the application makes takes a file lock beside the database first (`<db>-write.lock`,
`flock`: threads and processes alike queue on it, and the kernel drops it when a process
dies), and runs are stored in batches of short transactions, so a waiting writer waits for
one batch, never for a whole long run. PostgreSQL takes row locks by itself: no lock here.

After a write the WAL is checkpointed back into the database once it has grown past
`WAL_CHECKPOINT_BYTES` (SQLite's automatic checkpoint never truncates the file).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, text

log = structlog.get_logger("migscope.store")

WAL_CHECKPOINT_BYTES = 32 * 1024**2
# A waiting writer waits this long for the file lock before giving up (StoreBusy, a 503).
WRITE_LOCK_TIMEOUT_S = 120.0
_POLL_S = 0.005


class StoreBusy(RuntimeError):
    """The write lock was not free within WRITE_LOCK_TIMEOUT_S (answered as 503 + Retry-After)."""


def sqlite_file(engine: Engine | Connection) -> Path | None:
    """The SQLite database file, or None (PostgreSQL, an in-memory or URI database)."""
    engine = engine.engine
    database = engine.url.database
    if (
        engine.dialect.name != "sqlite"
        or not database
        or database == ":memory:"
        or database.startswith("file:")
    ):
        return None
    return Path(database)


@contextmanager
def write_lock(
    engine: Engine | Connection, timeout_s: float = WRITE_LOCK_TIMEOUT_S
) -> Iterator[None]:
    """Hold the database's write lock (SQLite files only; a no-op elsewhere)."""
    path = sqlite_file(engine)
    if path is None:
        yield
        return
    lock_path = Path(f"{path}-write.lock")  # matches .gitignore's migrations_db/*.db-*
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout_s
        delay = _POLL_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreBusy(f"the database stayed busy for {timeout_s:.0f} s") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def checkpoint_if_large(engine: Engine, limit_bytes: int = WAL_CHECKPOINT_BYTES) -> bool:
    """Fold the WAL back into the database and truncate it once it passes `limit_bytes`.

    Call with the write lock held (no application writer then); readers are never blocked:
    a checkpoint that meets an open reader simply does what it can and the next one finishes.
    """
    path = sqlite_file(engine)
    if path is None:
        return False
    wal = Path(f"{path}-wal")
    try:
        size = wal.stat().st_size
    except FileNotFoundError:
        return False
    if size < limit_bytes:
        return False
    with engine.connect() as connection:
        busy, _frames, _done = connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)")).one()
    log.info("wal checkpoint", wal_bytes_before=size, complete=not busy)
    return True


@dataclass(frozen=True)
class Rows:
    """Rows for one table as plain tuples in `columns` order: numbers, text (JSON already
    serialised) and bytes, which SQLite and PostgreSQL both take as they are."""

    table: str
    columns: tuple[str, ...]
    rows: Sequence[tuple[Any, ...]]


def transactions(pieces: Sequence[Rows], limit_rows: int) -> list[list[Rows]]:
    """The pieces cut, in order, into transactions of at most `limit_rows` rows (at least one
    transaction, maybe empty): a small run is one transaction, a long one holds the write lock
    for one batch at a time."""
    out: list[list[Rows]] = [[]]
    room = limit_rows
    for piece in pieces:
        start = 0
        while start < len(piece.rows):
            if room == 0:
                out.append([])
                room = limit_rows
            part = piece.rows[start : start + room]
            out[-1].append(Rows(piece.table, piece.columns, part))
            start += len(part)
            room -= len(part)
    return out


def insert_rows(connection: Connection, piece: Rows) -> None:
    """The driver's own executemany: SQLAlchemy's per-row parameter processing costs as much as
    the insert itself, and these rows need none."""
    if not piece.rows:
        return
    quote = connection.dialect.identifier_preparer.quote
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {quote(piece.table)} ({', '.join(quote(c) for c in piece.columns)}) "
        f"VALUES ({', '.join([mark] * len(piece.columns))})"
    )
    rows = piece.rows if isinstance(piece.rows, list) else list(piece.rows)
    connection.exec_driver_sql(sql, rows)
