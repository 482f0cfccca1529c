"""The `migscope` command line."""

from __future__ import annotations

import typer

cli = typer.Typer(
    name="migscope",
    help="See how QEMU live migration with VFIO devices and switchover-ack switches over.",
    no_args_is_help=True,
    add_completion=False,
)

# Each part registers its commands here (one line each): see docs/CONTRACT.md.
from app import engine_cli
from app.importers import cli as importers_cli
from app.store import cli as store_cli
from app.sweeps import cli as sweeps_cli
from app.web import cli as web_cli

engine_cli.register(cli)
store_cli.register(cli)
web_cli.register(cli)
importers_cli.register(cli)
sweeps_cli.register(cli)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
