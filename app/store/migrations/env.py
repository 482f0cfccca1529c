"""Alembic environment: the engine comes from app.store.migrate (never from an ini file)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text
from sqlmodel import SQLModel

import app.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)

target_metadata = SQLModel.metadata

# Any constant works; it only has to be the same in every process that migrates.
MIGRATION_LOCK_KEY = 0x6D6967736370


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several workers start at once: one migrates, the others wait and then find head.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


def run_migrations_online() -> None:
    engine = context.config.attributes.get("engine")
    if engine is None:
        from app.settings import Settings
        from app.store.db import make_engine

        engine = make_engine(Settings().database_url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode drops and re-creates tables; with foreign keys on, dropping `runs`
            # would cascade and delete every step and event. The pragma only changes
            # outside a transaction, hence the commit.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            _run(connection)
            connection.commit()
            if sqlite:
                problems = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if problems:
                    raise RuntimeError(f"migration broke foreign keys: {problems[:5]}")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `migscope db upgrade`")
run_migrations_online()
