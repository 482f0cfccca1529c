"""The stored shape of a run: one `runs` row, its `steps` and its `events`.

Classes are split by role (as in fastapi/full-stack-fastapi-template): `RunBase` holds the
columns every view shares, `RunCreate` is what the writer fills from a Trace, `Run` is the
table, and the web layer's public models live in app/web/schemas.py.

Steps and events keep their full engine model as JSON (`data`) beside the few columns that
queries filter on, so a step window or a whole run's series is one indexed range scan and the
trace re-exports byte for byte.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import field_validator
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    event,
    false,
    true,
)
from sqlmodel import Field, SQLModel

from app.engine.trace import Summary


def utc_now() -> datetime:
    return datetime.now(UTC)


# Run.origin: where a stored run was made (revision 0008_run_origin).
ORIGIN_HERE = "here"
ORIGIN_UPLOADED = "uploaded"


class RunBase(SQLModel):
    title: str = Field(sa_type=Text)
    description: str = Field(default="", sa_type=Text)
    source: str = Field(description="simulation or import")
    engine_version: str
    qemu_profile: str


class RunCreate(RunBase):
    """Everything the writer stores for one run, taken from a Trace."""

    trace_format: str
    format_version: int
    status: str
    scenario: dict[str, Any]
    resolved: dict[str, Any]
    profile: dict[str, Any]
    summary: dict[str, Any]
    notes: list[str]
    import_info: dict[str, Any] | None
    step_count: int
    event_count: int


class Run(RunBase, table=True):
    __tablename__ = "runs"
    # The runs list: complete, listed runs, newest first (revision 0005_run_access).
    __table_args__ = (Index("ix_runs_listed_created_at", "complete", "visibility", "created_at"),)

    id: str = Field(primary_key=True, max_length=32)
    created_at: datetime = Field(
        default_factory=utc_now,
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True),
    )
    trace_format: str
    format_version: int
    # Revision 0002: copied out of `summary` so listings can show and filter it cheaply.
    status: str
    scenario: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    resolved: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    profile: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    summary: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    notes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    import_info: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    step_count: int
    event_count: int
    # Revision 0005_run_access (app/store/access.py): listed or unlisted, kept by retention
    # when pinned, its size for retention, and whether every batch of it is stored yet.
    visibility: str = Field(
        default="listed", sa_column=Column(String(16), nullable=False, server_default="listed")
    )
    pinned: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    stored_bytes: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    complete: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=true())
    )
    # Revision 0007_run_every_pass: one step per pre-copy pass (asked for per run), or runs
    # of alike passes collapsed into one step each (the default; every run stored before).
    every_pass: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    # Revision 0008_run_origin: made on this server (`here`: simulated, or imported from QEMU
    # logs) or `uploaded` as a migscope trace (a run's export.json, stored as it is, so its
    # `source` and `engine_version` are the other server's). Outside the trace, so the upload
    # re-exports byte for byte; `created_at` is then the upload's time.
    origin: str = Field(
        default=ORIGIN_HERE, sa_column=Column(String(16), nullable=False, server_default="here")
    )
    uploaded_file_name: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


def _as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class RunListPublic(RunBase):
    """A run as listed: enough to pick one."""

    id: str
    created_at: datetime
    status: str
    step_count: int
    origin: str = Field(
        default=ORIGIN_HERE,
        description="`here`: made on this server (simulated, or imported from QEMU logs); "
        "`uploaded`: a migscope trace (a run's export.json) uploaded back, simulated or "
        "imported elsewhere by engine `engine_version`",
    )
    uploaded_file_name: str | None = Field(
        default=None, description="the uploaded trace's file name (null unless `uploaded`)"
    )

    _utc = field_validator("created_at")(_as_utc)


class RunPublic(RunListPublic):
    """A run as opened: everything but its steps and events."""

    trace_format: str
    format_version: int
    event_count: int
    scenario: dict[str, Any]
    resolved: dict[str, Any]
    profile: dict[str, Any]
    summary: Summary
    notes: list[str]
    import_info: dict[str, Any] | None
    every_pass: bool = Field(
        default=False,
        description="one step per pre-copy pass (true), or runs of alike passes collapsed into "
        "one step each (false, the default)",
    )


class StepRow(SQLModel, table=True):
    """One engine Step; the primary key (run_id, index) serves step windows."""

    __tablename__ = "steps"
    # Series are read by time: (run_id, end_ms) keeps that a range scan too (revision 0002).
    __table_args__ = (Index("ix_steps_run_id_end_ms", "run_id", "end_ms"),)

    run_id: str = Field(
        sa_column=Column(String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    )
    index: int = Field(primary_key=True)
    t_ms: float
    end_ms: float
    phase: str
    status: str
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class EventRow(SQLModel, table=True):
    """One engine Event; `seq` keeps the trace's own order."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_run_id_step", "run_id", "step"),
        Index("ix_events_run_id_kind", "run_id", "kind"),
    )

    run_id: str = Field(
        sa_column=Column(String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    )
    seq: int = Field(primary_key=True)
    step: int
    t_ms: float
    kind: str
    side: str
    device: str | None = None
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class StoredRunImmutable(RuntimeError):
    """Stored runs never change: a shared URL must keep showing the same trace."""


@event.listens_for(Run, "before_update")
@event.listens_for(StepRow, "before_update")
@event.listens_for(EventRow, "before_update")
def _refuse_update(_mapper: Any, _connection: Any, target: Any) -> None:
    raise StoredRunImmutable(f"{type(target).__name__} rows are immutable once stored")


class PresentationBase(SQLModel):
    """A teacher's presenter session (revision 0003): which run, and the step the class sees."""

    run_id: str
    step: int


class Presentation(PresentationBase, table=True):
    """The one mutable table: the presenter's step moves; followers poll it (several workers)."""

    __tablename__ = "presentations"

    session_id: str = Field(sa_column=Column(String(32), primary_key=True))
    run_id: str = Field(
        sa_column=Column(
            String(32), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    # Only a SHA-256 of the presenter key is kept: reading the database does not let anyone
    # drive a class.
    presenter_key_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class PresentationPublic(PresentationBase):
    """A presenter session as anyone with its id sees it (never the key)."""

    session_id: str
    updated_at: datetime

    _utc = field_validator("updated_at")(_as_utc)


class Sweep(SQLModel, table=True):
    """A parameter sweep (revision 0004): the base scenario and its axes. Points are rows of
    `sweep_points`, written as they finish; the plan gives every point's values from its
    index, so the points not stored yet are the ones a resume runs."""

    __tablename__ = "sweeps"

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    created_at: datetime = Field(
        default_factory=utc_now,
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True),
    )
    updated_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    title: str = Field(sa_type=Text)
    # queued, running, completed, cancelled, failed
    status: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    source: str = Field(sa_column=Column(String(16), nullable=False))  # api or cli
    engine_version: str
    base_scenario: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    vary: list[str] = Field(sa_column=Column(JSON, nullable=False))
    axes: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))  # [{path, values}]
    compare_ack: bool
    max_steps: int
    point_count: int
    done_count: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The process running it and when it last wrote: a worker resumes a sweep at start-up
    # only when its owner has been silent for a while (several workers share one database).
    owner: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    heartbeat_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class SweepPoint(SQLModel, table=True):
    """One finished point of a sweep: its values and the summary outputs."""

    __tablename__ = "sweep_points"

    sweep_id: str = Field(
        sa_column=Column(String(32), ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True)
    )
    index: int = Field(primary_key=True)
    axis_values: list[float] = Field(sa_column=Column(JSON, nullable=False))  # one per axis
    status: str = Field(sa_column=Column(String(16), nullable=False))
    reason: str = Field(sa_type=Text)
    downtime_ms: float | None = None
    total_time_ms: float | None = None
    ack_received_at_ms: float | None = None
    dirty_sync_count: int | None = None
    transferred_bytes: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    off_status: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    off_downtime_ms: float | None = None
    off_total_time_ms: float | None = None
    ack_saves_ms: float | None = None
    # The point opened as full stored runs (ack on, ack off), made on first click.
    run_id: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    off_run_id: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
