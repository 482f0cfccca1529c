"""The `migscope` command line.

Commands are loaded on first use: `migscope simulate` imports the engine and its CLI, never
the store (SQLAlchemy, Alembic) or the web (FastAPI), which used to be most of its start-up.
COMMANDS names every command and the part that registers it; a part is imported only when one
of its commands runs (or when the top-level help lists them all).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import typer
from typer.core import TyperGroup


def _engine(cli: typer.Typer) -> None:
    from app import engine_cli

    engine_cli.register(cli)


def _store(cli: typer.Typer) -> None:
    from app.store import cli as store_cli

    store_cli.register(cli)


def _web(cli: typer.Typer) -> None:
    from app.web import cli as web_cli

    web_cli.register(cli)


def _importers(cli: typer.Typer) -> None:
    # This module is the only one that sees every part, so it hands the importer what it needs
    # from the others (docs/architecture.md).
    from app import engine_cli
    from app.importers import cli as importers_cli
    from app.web.urls import Urls

    importers_cli.register(cli, run_path=Urls().run, summary_text=engine_cli.summary_text)


def _sweeps(cli: typer.Typer) -> None:
    from app.sweeps import cli as sweeps_cli

    sweeps_cli.register(cli)


Part = Callable[[typer.Typer], None]
# A built command: typer's own (vendored, private) click.Command, so not named here.
Command = Any
# Every command, in the order the help lists them, and the part that registers it (each part's
# `register(cli)`: see docs/architecture.md). tests/test_cli.py checks that the parts register
# exactly these names.
COMMANDS: dict[str, Part] = {
    "simulate": _engine,
    "schema": _engine,
    "presets": _engine,
    "examples": _engine,
    "fidelity": _engine,
    "db": _store,
    "serve": _web,
    "import": _importers,
    "sweep": _sweeps,
}


def part_commands(part: Part) -> dict[str, Command]:
    """The click commands one part registers (on a Typer app of their own)."""
    app = typer.Typer()
    part(app)
    return dict(typer.main.get_group(app).commands)


class _LazyCommands(MutableMapping[str, Command]):
    """The root group's commands: the names are known up front (so typo suggestions and the
    help's order need no import); a command is built when it is looked up."""

    def __init__(self) -> None:
        self._built: dict[str, Command] = {}

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            part = COMMANDS.get(name)
            if part is None:
                raise KeyError(name)
            self._built.update(part_commands(part))
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._built if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(1 for name in self._built if name not in COMMANDS)


class LazyGroup(TyperGroup):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = _LazyCommands()


cli = typer.Typer(
    name="migscope",
    cls=LazyGroup,
    help="See how QEMU live migration with VFIO devices and switchover-ack switches over.",
    no_args_is_help=True,
    add_completion=False,
    # Errors reach main() (one line, exit 2) instead of a page-long rich traceback.
    pretty_exceptions_enable=False,
)


@cli.callback()
def _root() -> None:
    # A callback makes `cli` a group even though no command is registered on it up front.
    return None


def main() -> None:
    """The console script: a bad DATABASE_URL, setting or file path is one line and exit 2,
    never a traceback (typer's pretty exceptions are off so they reach here)."""
    try:
        cli()
    except Exception as error:
        message = _one_line(error)
        if message is None:
            raise
        _exit(message)


def _one_line(error: Exception) -> str | None:
    """The one-line message for an error users cause, None for anything else (a bug).

    The error classes are looked up in sys.modules: a command that never imported SQLAlchemy
    cannot have raised its errors, and importing it here would cost what the lazy commands save.
    """
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if isinstance(error, ModuleNotFoundError) or (
        sa_exc is not None and isinstance(error, sa_exc.SQLAlchemyError)
    ):
        import os

        from app.store.db import describe_database_error

        url = (
            os.environ.get("DATABASE_URL") or os.environ.get("MIGSCOPE_DATABASE_URL") or "(default)"
        )
        return describe_database_error(url, error)
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror or error}"
    pydantic_core = sys.modules.get("pydantic_core")
    if pydantic_core is not None and isinstance(error, pydantic_core.ValidationError):
        first = error.errors()[0]
        name = ".".join(str(part) for part in first["loc"])
        return (
            f"setting {name.upper() if name else '?'}: {first['msg']} (see docs/api.md, Settings)"
        )
    return None


def _exit(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    sys.exit(2)


if __name__ == "__main__":
    main()
