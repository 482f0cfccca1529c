"""Alembic, driven from code: `migscope db upgrade` and app start-up both call `upgrade`."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from .writes import sqlite_file

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # env.py uses this engine instead of building its own from a URL.
    config.attributes["engine"] = engine
    return config


@contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    """Several workers starting on one SQLite file must not create the tables twice.

    PostgreSQL serialises migrations with an advisory lock (env.py); SQLite DDL takes no
    lock up front, so a file lock beside the database does the same job.
    """
    database = sqlite_file(engine)
    if database is None:
        yield
        return
    lock_path = Path(f"{database}-migrate.lock")  # matches .gitignore's migrations_db/*.db-*
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision` (creating the schema in an empty database)."""
    with _sqlite_migration_lock(engine):
        command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None, "no Alembic revisions found"
    return head
