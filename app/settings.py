"""Settings for the web app and the CLI, read from the environment.

Build one with `Settings()` where the process starts (the CLI command, the app factory) and
pass it down; there is deliberately no module-level instance, so tests can run the same code
on a temporary SQLite file and on PostgreSQL in one session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_PATH = REPO_ROOT / "migrations_db" / "migscope.db"
# Every trace the web app and `migscope simulate` make collapses runs of alike pre-copy passes
# into one step (app/engine/collapse.py; the summary is byte-identical): a never-converging
# migration would otherwise be stored as up to one step per pass, 200,000 near-identical steps.
COLLAPSE_STORED_TRACES = True


def default_database_url() -> str:
    return f"sqlite:///{DEFAULT_DATABASE_PATH}"


class Settings(BaseSettings):
    """Every setting is documented in docs/api.md (tests/test_settings_documented.py checks)."""

    model_config = SettingsConfigDict(env_prefix="MIGSCOPE_", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default_factory=default_database_url,
        # The conventional, unprefixed name: what PaaS hosts and docker-compose files set.
        validation_alias=AliasChoices("DATABASE_URL", "MIGSCOPE_DATABASE_URL"),
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db",
    )
    max_request_bytes: int = Field(
        default=1_000_000, ge=1024, description="largest request body accepted (413 above it)"
    )
    max_upload_bytes: int = Field(
        default=65 * 1024**2,
        ge=1024,
        description="largest multipart/form-data body (file imports: 64 MiB of files plus form overhead)",
    )
    max_concurrent_runs: int = Field(
        default=4,
        ge=1,
        description="engine runs at once per worker process; more wait (reads are never held up)",
    )
    max_steps_per_run: int = Field(
        default=50_000,
        ge=20,
        description="steps stored per run: a simulation reaching it ends as cancelled "
        "with the reason (an import is merged down to fit)",
    )
    sweep_workers: int = Field(
        default=0,
        ge=0,
        le=256,
        description="worker processes running sweep points per web worker (0 = every core)",
    )
    max_concurrent_sweeps: int = Field(
        default=2,
        ge=1,
        le=64,
        description="sweeps queued or running at once per web worker; more get 503 with Retry-After",
    )
    sweep_executor: Literal["local", "dask"] = Field(
        default="local",
        description="where sweep points run: local worker processes or a Dask cluster",
    )
    sweep_scheduler: str | None = Field(
        default=None,
        max_length=500,
        description="Dask scheduler address (tcp://HOST:PORT) when sweep_executor is dask",
    )
    migrate_on_start: bool = Field(
        default=True, description="run `alembic upgrade head` when the app is created"
    )
    # Budgets and the worker pool (docs/security.md). Engine, import and export work runs in
    # one bounded pool of worker processes per web worker.
    max_queued_jobs: int = Field(
        default=16,
        ge=0,
        le=10_000,
        description="engine/import/export jobs waiting for a worker process beyond max_concurrent_runs; "
        "more get 503 with Retry-After",
    )
    worker_max_tasks: int = Field(
        default=50,
        ge=1,
        le=100_000,
        description="jobs a worker process runs before it is replaced (gives a heavy run's memory back)",
    )
    max_run_stored_bytes: int = Field(
        default=64 * 1024**2,
        ge=64 * 1024,
        description="stored bytes budget of one run, branch, import or sweep point: a simulation reaching it "
        "ends as cancelled with the reason",
    )
    max_run_cpu_s: float = Field(
        default=60.0,
        gt=0,
        le=86_400,
        description="CPU seconds one simulation may take: reaching it ends the run as cancelled with the reason",
    )
    max_sim_time_ms: float = Field(
        default=3_600_000,
        gt=0,
        le=3_600_000,
        description="largest max_time_ms a request may ask for (422 above it, before any work)",
    )
    max_stored_bytes: int = Field(
        default=0,
        ge=0,
        description="retention: stored bytes of all runs; above it the oldest unpinned runs are deleted (0 = no limit)",
    )
    # Access and web hygiene.
    auth: str = Field(
        default="",
        max_length=500,
        description="'' (none; refused by `serve` on a non-loopback address), 'token:SECRET' (Bearer, or HTTP "
        "Basic with SECRET as password), 'basic:USER:PASSWORD', or 'off' (explicitly none)",
    )
    creation_rate_per_minute: int = Field(
        default=30,
        ge=0,
        le=100_000,
        description="runs, branches, comparisons, imports and presentations one client may create per minute "
        "(429 with Retry-After above it; 0 = no limit)",
    )
    public_base_url: str = Field(
        default="",
        max_length=500,
        pattern=r"^(https?://[^/?#\s]+)?$",
        description="scheme://host[:port] of share and follow links; '' = the address the server listens on "
        "(never the Host header). Required by `serve` on a non-loopback address",
    )
    trusted_hosts: list[str] = Field(
        default=["127.0.0.1", "localhost", "[::1]", "testserver"],
        description="Host header values answered (others get 400); the public_base_url host is always added",
    )
    header_read_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="`serve`: a connection that has not sent complete request headers by then is closed",
    )
