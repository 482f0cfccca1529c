"""The `migscope` command line."""

from __future__ import annotations

import typer

cli = typer.Typer(
    name="migscope",
    help="See how QEMU live migration with VFIO devices and switchover-ack switches over.",
    no_args_is_help=True,
    add_completion=False,
)

# Each part registers its commands here (one line each): see docs/architecture.md. This module
# is the only one that sees every part, so it hands the importer what it needs from the others.
from app import engine_cli
from app.importers import cli as importers_cli
from app.store import cli as store_cli
from app.sweeps import cli as sweeps_cli
from app.web import cli as web_cli
from app.web.urls import Urls

engine_cli.register(cli)
store_cli.register(cli)
web_cli.register(cli)
importers_cli.register(cli, run_path=Urls().run, summary_text=engine_cli.summary_text)
sweeps_cli.register(cli)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
