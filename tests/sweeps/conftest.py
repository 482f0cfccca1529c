"""The sweep command on its own Typer app: these tests need nothing else of the CLI."""

from __future__ import annotations

import typer

from app.sweeps import cli as sweeps_cli

cli = typer.Typer()


@cli.callback()
def _group() -> None:
    """Keeps `sweep` a sub-command, as in `migscope sweep`."""


sweeps_cli.register(cli)
