"""`migscope serve`: uvicorn on the app factory (DATABASE_URL picks the database)."""

from __future__ import annotations

import ipaddress
import os
from typing import Annotated

import typer

# uvicorn's own connection limits (docs/security.md): idle kept-alive connections close after
# KEEP_ALIVE_S, request headers larger than MAX_HEADER_BYTES are refused, at most
# MAX_CONNECTIONS connections and tasks at once per worker (more get 503).
KEEP_ALIVE_S = 5
MAX_HEADER_BYTES = 16 * 1024
MAX_CONNECTIONS = 2000


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def register(cli: typer.Typer) -> None:
    @cli.command()
    def serve(
        host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port")] = 8000,
        workers: Annotated[
            int,
            typer.Option(min=1, help="uvicorn worker processes (use PostgreSQL for more than one)"),
        ] = 1,
        reload: Annotated[bool, typer.Option(help="restart on code changes (development)")] = False,
    ) -> None:
        """Serve the web app and the JSON API (SQLite in migrations_db/ unless DATABASE_URL is set).

        On an address other than loopback, MIGSCOPE_AUTH (or MIGSCOPE_AUTH=off) and
        MIGSCOPE_PUBLIC_BASE_URL must be set."""
        import uvicorn

        from app.settings import Settings
        from app.store.db import check_database, is_sqlite

        from .security import Access, auth_enabled
        from .server import ENV, HeaderTimeoutH11Protocol

        settings = Settings()
        if not is_loopback(host):
            if settings.auth == "":
                raise _fail(
                    f"serving on {host} needs a login: set MIGSCOPE_AUTH=token:SECRET (or "
                    "basic:USER:PASSWORD), or MIGSCOPE_AUTH=off to serve without one"
                )
            if not settings.public_base_url:
                raise _fail(
                    f"serving on {host} needs MIGSCOPE_PUBLIC_BASE_URL (e.g. https://migscope.example): "
                    "share and follow links are built from it"
                )
        if auth_enabled(settings.auth):
            try:
                Access(lambda *_: None, settings.auth)  # type: ignore[arg-type]
            except ValueError as error:
                raise _fail(str(error)) from None
        problem = check_database(settings.database_url)
        if problem is not None:
            raise _fail(problem)
        if workers > 1 and is_sqlite(settings.database_url):
            typer.echo(
                "note: several workers on SQLite share one file (writes take turns); PostgreSQL suits them better",
                err=True,
            )
        os.environ[ENV] = str(settings.header_read_timeout_s)
        # An import string plus factory=True: each worker process builds its own app and engine.
        uvicorn.run(
            "app.web.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            reload=reload,
            proxy_headers=True,
            http=HeaderTimeoutH11Protocol,
            timeout_keep_alive=KEEP_ALIVE_S,
            h11_max_incomplete_event_size=MAX_HEADER_BYTES,
            limit_concurrency=MAX_CONNECTIONS,
            # Open event streams (presenter sessions) must not hold a shutdown for minutes.
            timeout_graceful_shutdown=5,
        )


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)
