"""Every setting and its environment variable appear in docs/api.md (datasette does the same)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings

DOC = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_setting_is_documented(name: str) -> None:
    assert f"`{name}`" in DOC
    if name != "database_url":
        assert f"MIGSCOPE_{name.upper()}" in DOC
    else:
        assert "DATABASE_URL" in DOC


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("MIGSCOPE_MAX_STEPS_PER_RUN", "123")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.max_steps_per_run == 123


def test_default_database_is_sqlite_in_migrations_db(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("MIGSCOPE_DATABASE_URL", raising=False)
    url = Settings().database_url
    assert url.startswith("sqlite:///") and url.endswith("/migrations_db/migscope.db")
