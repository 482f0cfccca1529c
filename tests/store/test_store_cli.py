"""`migscope db upgrade` on a real database named by DATABASE_URL."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from app.store.cli import register
from app.store.db import make_engine
from app.store.migrate import current_revision, head_revision


def test_db_upgrade_creates_the_schema(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = typer.Typer()
    register(cli)

    @cli.callback()
    def _root() -> None:
        """Group callback so `db` stays a sub-command."""

    monkeypatch.setenv("DATABASE_URL", db_url)
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"empty -> {head_revision()}" in result.output
    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()
    again = CliRunner().invoke(cli, ["db", "upgrade"])
    assert f"{head_revision()} -> {head_revision()}" in again.output
