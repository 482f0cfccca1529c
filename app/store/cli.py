"""`migscope db upgrade`: bring the database named by DATABASE_URL to the current schema."""

from __future__ import annotations

from collections.abc import Callable

import typer
from sqlalchemy import Engine

from app.settings import Settings

from .access import delete_incomplete_runs, prune, set_pinned, set_visibility, stored_bytes_total
from .db import make_engine
from .migrate import current_revision, head_revision, upgrade


def _change_run(run_id: str, change: Callable[[Engine], bool]) -> None:
    """Apply `change` to the run on DATABASE_URL's database; exit 2 with one line when there is
    no such run (`change` answers whether it found it)."""
    engine = make_engine(Settings().database_url)
    try:
        found = change(engine)
    finally:
        engine.dispose()
    if not found:
        typer.echo(f"error: no run with id {run_id!r}", err=True)
        raise typer.Exit(code=2)


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

    @db.command("pin")
    def db_pin(
        run_id: str,
        unpin: bool = typer.Option(False, "--unpin", help="let retention delete it again"),
    ) -> None:
        """Keep a run whatever the retention limit (MIGSCOPE_MAX_STORED_BYTES)."""
        _change_run(run_id, lambda engine: set_pinned(engine, run_id, not unpin))
        typer.echo(f"run {run_id} {'unpinned' if unpin else 'pinned'}")

    @db.command("visibility")
    def db_visibility(
        run_id: str, visibility: str = typer.Argument(..., help="listed or unlisted")
    ) -> None:
        """List a run in the runs list, or unlist it (its link keeps working)."""
        if visibility not in ("listed", "unlisted"):
            typer.echo("error: visibility is listed or unlisted", err=True)
            raise typer.Exit(code=2)
        _change_run(run_id, lambda engine: set_visibility(engine, run_id, visibility))
        typer.echo(f"run {run_id} {visibility}")

    @db.command("prune")
    def db_prune() -> None:
        """Apply retention now: delete the oldest unpinned runs above MIGSCOPE_MAX_STORED_BYTES
        and runs a killed writer left incomplete."""
        settings = Settings()
        engine = make_engine(settings.database_url)
        leftovers = delete_incomplete_runs(engine)
        deleted = prune(engine, settings.max_stored_bytes)
        total = stored_bytes_total(engine)
        engine.dispose()
        typer.echo(
            f"deleted {len(deleted)} runs by retention and {leftovers} incomplete runs; "
            f"{total / 2**20:.1f} MiB stored"
        )

    cli.add_typer(db, name="db")
