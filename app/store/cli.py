"""`migscope db upgrade`: bring the database named by DATABASE_URL to the current schema."""

from __future__ import annotations

import typer

from app.settings import Settings

from .db import make_engine
from .migrate import current_revision, head_revision, upgrade


def register(cli: typer.Typer) -> None:
    db = typer.Typer(help="The run database (SQLite by default; DATABASE_URL for PostgreSQL).")

    @db.command("upgrade")
    def db_upgrade() -> None:
        """Create the schema, or migrate an older database to the current one."""
        settings = Settings()
        engine = make_engine(settings.database_url)
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
        engine.dispose()
        typer.echo(f"database schema: {before or 'empty'} -> {after} (head {head_revision()})")

    cli.add_typer(db, name="db")
