"""The `migscope` command line."""

from __future__ import annotations

import typer

from app import engine_cli
from app.importers import cli as importers_cli
from app.store import cli as store_cli
from app.sweeps import cli as sweeps_cli
from app.web import cli as web_cli
from app.web.urls import Urls

cli = typer.Typer(
    name="migscope",
    help="See how QEMU live migration with VFIO devices and switchover-ack switches over.",
    no_args_is_help=True,
    add_completion=False,
    # Errors reach main() (one line, exit 2) instead of a page-long rich traceback.
    pretty_exceptions_enable=False,
)

# Each part registers its commands here (one line each): see docs/architecture.md. This module
# is the only one that sees every part, so it hands the importer what it needs from the others.
engine_cli.register(cli)
store_cli.register(cli)
web_cli.register(cli)
importers_cli.register(cli, run_path=Urls().run, summary_text=engine_cli.summary_text)
sweeps_cli.register(cli)


def main() -> None:
    """The console script: a bad DATABASE_URL, setting or file path is one line and exit 2,
    never a traceback (typer's pretty exceptions are off so they reach here)."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    try:
        cli()
    except (SQLAlchemyError, ModuleNotFoundError) as error:
        import os

        from app.store.db import describe_database_error

        url = (
            os.environ.get("DATABASE_URL") or os.environ.get("MIGSCOPE_DATABASE_URL") or "(default)"
        )
        _exit(describe_database_error(url, error))
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        _exit(f"{where}{error.strerror or error}")
    except ValidationError as error:
        first = error.errors()[0]
        name = ".".join(str(part) for part in first["loc"])
        _exit(
            f"setting {name.upper() if name else '?'}: {first['msg']} (see docs/api.md, Settings)"
        )


def _exit(message: str) -> None:
    import sys

    typer.echo(f"error: {message}", err=True)
    sys.exit(2)


if __name__ == "__main__":
    main()
