"""Shared fixtures. Store and API tests take `db_url`, so they run on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from app.settings import Settings

POSTGRES_ENV = "MIGSCOPE_TEST_POSTGRES_URL"

# Tests create many runs from one client within a minute: the per-client creation limit
# (Settings.creation_rate_per_minute) is off unless a test sets it (tests/security does).
# Set here, so servers the tests start as subprocesses (browser tests) inherit it too.
os.environ.setdefault("MIGSCOPE_CREATION_RATE_PER_MINUTE", "0")

# Hypothesis: the suite draws the same examples every run (derandomize), so a run's result and
# time do not depend on luck; MIGSCOPE_HYPOTHESIS=explore draws new ones (a search for bugs,
# not a gate).
hypothesis_settings.register_profile("suite", derandomize=True, database=None)
hypothesis_settings.register_profile("explore")
hypothesis_settings.load_profile(
    "explore" if os.environ.get("MIGSCOPE_HYPOTHESIS") == "explore" else "suite"
)


def _fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """Create an empty database for one test and drop it afterwards (even with clients left)."""
    name = f"migscope_test_{secrets.token_hex(6)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium for the browser tests: a failure in CI when it is missing (browser
    tests never silently vanish there), a skip locally."""
    path = shutil.which("chromium")
    if path is None:
        message = "Debian's chromium is not installed (apt-get install chromium; `make system-deps` does it)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {message}")
        pytest.skip(message)
    return path


DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _database_url(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL to a fresh, empty database: a temporary SQLite file, or a new PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'migscope.db'}"
        return
    admin_url = os.environ.get(POSTGRES_ENV)
    if not admin_url:
        message = (
            f"{POSTGRES_ENV} is not set: run the suite with `make test` to get a PostgreSQL server"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must not skip PostgreSQL: {message}")
        pytest.skip(message)
    yield from _fresh_postgres_database(admin_url)


@pytest.fixture(params=DATABASES)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A URL to a fresh, empty database for one test, on SQLite and on PostgreSQL."""
    yield from _database_url(request.param, tmp_path_factory)


@pytest.fixture(scope="module", params=DATABASES)
def module_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database (SQLite, then PostgreSQL) shared by a module's tests, for expensive setups
    (real servers, an app with a stored run): tests that use it must not need it empty."""
    yield from _database_url(request.param, tmp_path_factory)


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh database migrated to the current schema."""
    from app.store.db import make_engine
    from app.store.migrate import upgrade

    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def api_settings(db_url: str) -> Settings:
    """Settings for an app on the fresh test database (other limits at their defaults)."""
    from app.settings import Settings

    return Settings(database_url=db_url)


@pytest.fixture
def api_app(api_settings: Settings) -> Iterator[FastAPI]:
    """The real app from the factory, migrated at creation like in production."""
    from app.web.app import create_app

    app = create_app(api_settings)
    yield app
    app.state.engine.dispose()


@pytest.fixture
def app_with(db_url: str) -> Iterator[Callable[..., FastAPI]]:
    """Build the real app on this test's fresh database with some settings changed, e.g.
    `TestClient(app_with(max_steps_per_run=20))`; every app built is disposed after the test."""
    from app.settings import Settings
    from app.web.app import create_app

    apps: list[FastAPI] = []

    def build(**settings: Any) -> FastAPI:
        app = create_app(Settings(database_url=db_url, **settings))
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.state.engine.dispose()


@pytest.fixture
def api_client(api_app: FastAPI) -> Iterator[TestClient]:
    from fastapi.testclient import TestClient

    with TestClient(api_app) as client:
        yield client
