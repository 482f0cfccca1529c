"""Database engines: SQLite (default, WAL mode) or PostgreSQL (psycopg 3) from one URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Sync requests run in AnyIO's 40 worker threads, and a page may open a second session: up to
# 80 connections, so a thread never waits for one (10 kept open, the rest opened on demand).
# A PostgreSQL server needs max_connections of about 90 per web worker (docs/security.md).
POOL: dict[str, Any] = {"pool_size": 10, "max_overflow": 70, "pool_timeout": 30}


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_file(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer, and a killed writer leaves no torn run behind.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine; a SQLite file's directory is created so first start needs no set-up."""
    if is_sqlite(url):
        path = _sqlite_file(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # Requests run in a thread pool: connections move between threads.
        # An in-memory database has one connection per thread (SingletonThreadPool): no sizes.
        pool = POOL if path is not None else {}
        engine = create_engine(url, connect_args={"check_same_thread": False}, **pool)
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    return create_engine(url, pool_pre_ping=True, **POOL)


def describe_database_error(url: str, error: BaseException) -> str:
    """One line about a database that cannot be used (no traceback, no password)."""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001  a URL that does not even parse
        shown = repr(url[:200])
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return f"cannot use the database {shown}: {text[:300]}"


def check_database(url: str) -> str | None:
    """None when the database named by `url` can be opened, else one line saying why not."""
    from sqlalchemy import text

    try:
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as error:  # noqa: BLE001  every failure becomes the one line
        return describe_database_error(url, error)
    return None
