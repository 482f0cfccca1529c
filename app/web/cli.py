"""`migscope serve`: uvicorn on the app factory (DATABASE_URL picks the database)."""

from __future__ import annotations

from typing import Annotated

import typer


def register(cli: typer.Typer) -> None:
    @cli.command()
    def serve(
        host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port")] = 8000,
        workers: Annotated[
            int, typer.Option(min=1, help="uvicorn worker processes (use PostgreSQL for more than one)")
        ] = 1,
        reload: Annotated[bool, typer.Option(help="restart on code changes (development)")] = False,
    ) -> None:
        """Serve the web app and the JSON API (SQLite in migrations_db/ unless DATABASE_URL is set)."""
        import uvicorn

        from app.settings import Settings
        from app.store.db import is_sqlite

        settings = Settings()
        if workers > 1 and is_sqlite(settings.database_url):
            typer.echo("note: several workers on SQLite share one file; PostgreSQL suits them better", err=True)
        # An import string plus factory=True: each worker process builds its own app and engine.
        uvicorn.run(
            "app.web.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            reload=reload,
            proxy_headers=True,
            # Open event streams (presenter sessions) must not hold a shutdown for minutes.
            timeout_graceful_shutdown=5,
        )
