"""Writing and reading runs. A run is seen whole or not at all, and never changes after."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Engine, Text, and_, cast, func, or_
from sqlalchemy import delete as sa_delete
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from app.engine.trace import Event, Step, Trace

from .models import ORIGIN_HERE, ORIGIN_UPLOADED, EventRow, Run, RunCreate, StepRow, utc_now

# One validator call per list is about twice as fast as one per row on long runs.
_STEPS: TypeAdapter[list[Step]] = TypeAdapter(list[Step])
_EVENTS: TypeAdapter[list[Event]] = TypeAdapter(list[Event])

RUN_ID_BYTES = 16  # 128 random bits: run URLs are shared, so they must not be guessable


class TraceTooLarge(ValueError):
    """The trace has more steps than the store accepts (Settings.max_steps_per_run)."""


def new_id(nbytes: int) -> str:
    """A URL-safe random id that never starts with "-": an id given on the command line
    (`migscope runs pin ID`) must not read as an option."""
    while (token := secrets.token_urlsafe(nbytes)).startswith("-"):
        pass
    return token


def new_run_id() -> str:
    return new_id(RUN_ID_BYTES)


def run_create_from_trace(trace: Trace) -> RunCreate:
    description = trace.scenario.get("description", "")
    return RunCreate(
        title=trace.title,
        description=description if isinstance(description, str) else "",
        source=trace.source,
        engine_version=trace.engine_version,
        qemu_profile=trace.qemu_profile,
        trace_format=trace.format,
        format_version=trace.format_version,
        status=trace.summary.status,
        scenario=trace.scenario,
        resolved=trace.resolved,
        profile=trace.profile,
        summary=trace.summary.model_dump(mode="json"),
        notes=list(trace.notes),
        import_info=trace.import_info,
        step_count=len(trace.steps),
        event_count=len(trace.events),
    )


_STEP_COLUMNS = ("run_id", "index", "t_ms", "end_ms", "phase", "status", "data")
_EVENT_COLUMNS = ("run_id", "seq", "step", "t_ms", "kind", "side", "device", "data")


def _rows(
    run_id: str, trace: Trace, created_at: datetime
) -> tuple[Run, list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The run row, then step and event rows as plain tuples (in _STEP_COLUMNS/_EVENT_COLUMNS
    order) whose JSON is serialised once, by pydantic."""
    run = Run.model_validate(
        run_create_from_trace(trace), update={"id": run_id, "created_at": created_at}
    )
    step_rows = [
        (
            run_id,
            step.index,
            step.t_ms,
            step.end_ms,
            step.phase,
            step.status,
            step.model_dump_json(),
        )
        for step in trace.steps
    ]
    event_rows = [
        (run_id, seq, ev.step, ev.t_ms, ev.kind, ev.side, ev.device, ev.model_dump_json())
        for seq, ev in enumerate(trace.events)
    ]
    return run, step_rows, event_rows


_RUN_ID = re.compile(r"[A-Za-z0-9_-]+")


def _storable(trace: Trace) -> Trace:
    """Imported logs may carry NUL bytes, which PostgreSQL text and JSON cannot hold: they
    are stored as U+FFFD. Simulated traces come from validated scenarios and need no check."""
    if trace.source != "import":
        return trace
    text = trace.to_json()
    if "\\u0000" not in text:
        return trace
    return Trace.model_validate_json(text.replace("\\u0000", "\\ufffd"))


# Rows per write transaction: each batch holds SQLite's write lock for a few milliseconds, so
# other writers (another run, a presenter's step) wait for one batch, not a whole long run.
BATCH_ROWS = 2000
VISIBILITIES = ("listed", "unlisted")
MAX_OFFSET = 2**62


def default_visibility(trace: Trace) -> str:
    """Imported logs come from real hosts: unlisted unless asked otherwise (the link works)."""
    return "unlisted" if trace.source == "import" else "listed"


def _row_bytes(rows: list[tuple[Any, ...]]) -> int:
    return sum(len(row[-1]) + 16 * len(row) for row in rows)


def save_traces(
    engine: Engine,
    traces: Sequence[Trace],
    *,
    max_steps: int | None = None,
    created_at: datetime | None = None,
    visibility: str | None = None,
    pinned: bool = False,
    every_pass: bool = False,
    uploaded_file_name: str | None = None,
) -> list[str]:
    """Store several traces and return their new ids, in order: all or none of them is ever seen.
    `every_pass` records that the traces keep one step per pass (not collapsed);
    `uploaded_file_name` that they are migscope traces uploaded back from that file, not made
    here (origin `uploaded`; without it, `here`).

    The run rows, then the steps, events and chart columns of each run, go in transactions of
    at most BATCH_ROWS rows (under the write lock: app.store.writes): the runs with the first,
    marked incomplete unless that is the only one, and the last marks them complete. A run of
    up to BATCH_ROWS rows (most runs, now that alike passes collapse) is one commit. Readers
    (get_run, list_runs) see only complete runs; a failure deletes what was written, and a
    killed writer's leftovers are invisible and removed by
    app.store.access.delete_incomplete_runs.
    """
    from . import chart_columns
    from .writes import Rows, checkpoint_if_large, insert_rows, transactions, write_lock

    for trace in traces:
        if max_steps is not None and len(trace.steps) > max_steps:
            raise TraceTooLarge(
                f"the run has {len(trace.steps)} steps; at most {max_steps} are stored per run "
                "(shorten max_time_ms or make the migration converge)"
            )
    if visibility is not None and visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {VISIBILITIES}")
    ids = [new_run_id() for _ in traces]
    runs: list[Run] = []
    pieces: list[Rows] = []
    for run_id, trace in zip(ids, traces, strict=True):
        storable = _storable(trace)
        run, step_rows, event_rows = _rows(run_id, storable, created_at or utc_now())
        run.visibility = visibility or default_visibility(trace)
        run.pinned = pinned
        run.every_pass = every_pass
        run.origin = ORIGIN_HERE if uploaded_file_name is None else ORIGIN_UPLOADED
        run.uploaded_file_name = uploaded_file_name
        run.complete = False  # set below; stored_bytes counts the row as first written
        run.stored_bytes = (
            len(run.model_dump_json()) + _row_bytes(step_rows) + _row_bytes(event_rows)
        )
        runs.append(run)
        # The charts' columns are computed before any write: the lock is held only for
        # inserts, never for numpy work.
        columns = chart_columns.column_rows(
            run_id, chart_columns.columns_from_steps(storable.steps)
        )
        pieces += [
            Rows(StepRow.__tablename__, _STEP_COLUMNS, step_rows),
            Rows(EventRow.__tablename__, _EVENT_COLUMNS, event_rows),
            Rows(chart_columns.ChartColumnRow.__tablename__, chart_columns.ROW_COLUMNS, columns),
        ]
    batches = transactions(pieces, BATCH_ROWS)
    for run in runs:
        run.complete = len(batches) == 1  # written whole in one transaction
    run_table = Run.__table__  # type: ignore[attr-defined]
    try:
        for number, batch in enumerate(batches):
            last = number == len(batches) - 1
            with write_lock(engine):
                with engine.begin() as connection:
                    if number == 0:  # Core, not the ORM: no unit of work for a plain insert
                        connection.execute(run_table.insert(), [r.model_dump() for r in runs])
                    for piece in batch:
                        insert_rows(connection, piece)
                    if last and number > 0:
                        connection.execute(
                            sa_update(Run).where(col(Run.id).in_(ids)).values(complete=True)
                        )
                if last:
                    checkpoint_if_large(engine)
    except BaseException:
        _discard(engine, ids)
        raise
    return ids


def _discard(engine: Engine, ids: list[str]) -> None:
    """Best effort: remove the runs of a failed store (leftovers stay invisible anyway)."""
    from .chart_columns import ChartColumnRow
    from .writes import write_lock

    try:
        with write_lock(engine, timeout_s=30), engine.begin() as connection:
            for table in (ChartColumnRow, EventRow, StepRow):
                connection.execute(sa_delete(table).where(col(table.run_id).in_(ids)))
            connection.execute(sa_delete(Run).where(col(Run.id).in_(ids)))
    except Exception:  # noqa: BLE001  the original error matters more; leftovers are invisible
        pass


def save_trace(
    engine: Engine,
    trace: Trace,
    *,
    max_steps: int | None = None,
    created_at: datetime | None = None,
    visibility: str | None = None,
) -> str:
    """Store a whole trace (all or nothing, see save_traces) and return the new run's id."""
    return save_traces(
        engine, [trace], max_steps=max_steps, created_at=created_at, visibility=visibility
    )[0]


def get_run(session: Session, run_id: str) -> Run | None:
    # Ids are token_urlsafe: anything else cannot be a run (and a NUL byte would make
    # PostgreSQL refuse the query instead of finding nothing).
    if not run_id or len(run_id) > 32 or not _RUN_ID.fullmatch(run_id):
        return None
    run = session.get(Run, run_id)
    # A run still being written (or left by a killed writer) does not exist yet.
    return run if run is not None and run.complete else None


def first_complete_run_with_description(session: Session, description: str) -> str | None:
    """The id of the oldest complete run stored with exactly this description (None if none)."""
    found = session.exec(
        select(Run.id)
        .where(col(Run.description) == description, col(Run.complete).is_(True))
        .order_by(col(Run.created_at))
    ).first()
    return str(found) if found is not None else None


def list_runs(
    session: Session,
    *,
    offset: int,
    limit: int,
    status: str | None = None,
    source: str | None = None,
) -> tuple[Sequence[Run], int]:
    """Listed, complete runs, newest first; one page and the total count (after the filters).

    Unlisted runs (imports by default) are left out: they open only by their link."""
    shown = (col(Run.complete).is_(True), col(Run.visibility) == "listed")
    # A page far past the end (?page=10**20) is simply empty: SQLite's integers stop at 2**63.
    offset, limit = min(max(offset, 0), MAX_OFFSET), min(max(limit, 0), MAX_OFFSET)
    query = select(Run).where(*shown)
    count = select(func.count()).select_from(Run).where(*shown)
    if status is not None:
        query = query.where(Run.status == status)
        count = count.where(col(Run.status) == status)
    if source is not None:
        query = query.where(Run.source == source)
        count = count.where(col(Run.source) == source)
    query = (
        query.order_by(col(Run.created_at).desc(), col(Run.id).desc()).offset(offset).limit(limit)
    )
    return session.exec(query).all(), session.exec(count).one()


def load_steps(
    session: Session, run_id: str, start: int = 0, stop: int | None = None
) -> list[Step]:
    """Steps with start <= index < stop: one range scan of the (run_id, index) key."""
    query = select(StepRow.data).where(StepRow.run_id == run_id, col(StepRow.index) >= start)
    if stop is not None:
        query = query.where(col(StepRow.index) < stop)
    rows = session.exec(query.order_by(col(StepRow.index))).all()
    return _STEPS.validate_python(rows)


def load_step(session: Session, run_id: str, index: int) -> Step | None:
    steps = load_steps(session, run_id, index, index + 1)
    return steps[0] if steps else None


def load_step_data_in_time(
    session: Session, run_id: str, from_ms: float | None = None, to_ms: float | None = None
) -> list[dict[str, Any]]:
    """Stored step dicts whose end falls in [from_ms, to_ms]: one range scan of (run_id, end_ms).

    Series building reads a handful of numbers from thousands of steps; skipping model
    validation here keeps that fast.
    """
    query = select(StepRow.data).where(StepRow.run_id == run_id)
    if from_ms is not None:
        query = query.where(col(StepRow.end_ms) >= from_ms)
    if to_ms is not None:
        query = query.where(col(StepRow.end_ms) <= to_ms)
    return [
        dict(row)
        for row in session.exec(query.order_by(col(StepRow.end_ms), col(StepRow.index))).all()
    ]


def last_step_in_phases(session: Session, run_id: str, phases: Iterable[str]) -> int | None:
    """The index of the run's last step in one of `phases` (None if it has none)."""
    query = sa_select(func.max(col(StepRow.index))).where(
        col(StepRow.run_id) == run_id, col(StepRow.phase).in_(list(phases))
    )
    last = session.execute(query).scalar()
    return None if last is None else int(last)


def count_steps_in_phases(session: Session, run_id: str, phases: Iterable[str]) -> int:
    """How many of the run's steps are in one of `phases` (one indexed range count)."""
    query = sa_select(func.count()).where(
        col(StepRow.run_id) == run_id, col(StepRow.phase).in_(list(phases))
    )
    return int(session.execute(query).scalar() or 0)


def first_step_not_replayed(
    engine: Engine, parent_id: str, branch_id: str, last: int
) -> int | None:
    """The first of the parent's steps 0..`last` that the branch does not have as it is (None
    when all are equal): one indexed range query over both runs' stored step JSON, which the
    store writes the same way for equal steps (pydantic's JSON of the engine's Step). A fresh
    connection: the branch was committed by a worker process after this request's reads."""
    parent, child = aliased(StepRow), aliased(StepRow)
    differs = or_(
        col(child.index).is_(None),
        cast(col(parent.data), Text) != cast(col(child.data), Text),
    )
    query = (
        sa_select(func.min(col(parent.index)))
        .select_from(parent)
        .outerjoin(
            child, and_(col(child.run_id) == branch_id, col(child.index) == col(parent.index))
        )
        .where(col(parent.run_id) == parent_id, col(parent.index) <= last, differs)
    )
    with engine.connect() as connection:
        found = connection.execute(query).scalar()
    return None if found is None else int(found)


def load_steps_in_time(
    session: Session, run_id: str, from_ms: float | None = None, to_ms: float | None = None
) -> list[Step]:
    """Steps whose end falls in [from_ms, to_ms], as models."""
    return _STEPS.validate_python(load_step_data_in_time(session, run_id, from_ms, to_ms))


def load_events_in_time(
    session: Session,
    run_id: str,
    from_ms: float | None = None,
    to_ms: float | None = None,
    kinds: Iterable[str] | None = None,
    exclude_kinds: Iterable[str] | None = None,
) -> list[Event]:
    """Events with from_ms <= t_ms <= to_ms, in trace order (no downsampling, ever)."""
    where = []
    if from_ms is not None:
        where.append(col(EventRow.t_ms) >= from_ms)
    if to_ms is not None:
        where.append(col(EventRow.t_ms) <= to_ms)
    if exclude_kinds is not None:
        where.append(col(EventRow.kind).not_in(list(exclude_kinds)))
    return _events_where(session, run_id, where, kinds)


def load_events_by_kind(session: Session, run_id: str, kinds: Iterable[str]) -> list[Event]:
    """Events of some kinds, in trace order. Filtered through the (run_id, kind) index and ordered
    here: ordering by seq in SQL makes SQLite walk every event of the run instead (a 50,000-step
    run has one bitmap_sync per step)."""
    query = sa_select(col(EventRow.seq), col(EventRow.data)).where(
        col(EventRow.run_id) == run_id, col(EventRow.kind).in_(list(kinds))
    )
    rows = sorted(session.execute(query).all(), key=lambda row: row[0])
    return _EVENTS.validate_python([row[1] for row in rows])


def load_events(
    session: Session,
    run_id: str,
    *,
    step_from: int | None = None,
    step_to: int | None = None,
    kinds: Iterable[str] | None = None,
) -> list[Event]:
    """Events in trace order, optionally for steps step_from <= step < step_to and some kinds."""
    where = []
    if step_from is not None:
        where.append(col(EventRow.step) >= step_from)
    if step_to is not None:
        where.append(col(EventRow.step) < step_to)
    return _events_where(session, run_id, where, kinds)


def _events_where(
    session: Session, run_id: str, where: list[Any], kinds: Iterable[str] | None
) -> list[Event]:
    """The run's events matching `where` (and of `kinds`, when given), in trace order."""
    query = select(EventRow.data).where(EventRow.run_id == run_id, *where)
    if kinds is not None:
        query = query.where(col(EventRow.kind).in_(list(kinds)))
    return _EVENTS.validate_python(session.exec(query.order_by(col(EventRow.seq))).all())


def load_trace(session: Session, run_id: str) -> Trace | None:
    """The whole trace, equal to the one stored (Trace.to_json gives the same bytes)."""
    run = get_run(session, run_id)
    if run is None:
        return None
    return trace_from_run(session, run)


def trace_from_run(session: Session, run: Run) -> Trace:
    return trace_of(run, load_steps(session, run.id), load_events(session, run.id))


def trace_of(run: Run, steps: list[Step], events: list[Event]) -> Trace:
    """The trace a stored run row stands for, with the given steps and events (the one place
    that maps the row's columns back to the trace model)."""
    return Trace(
        format=run.trace_format,
        format_version=run.format_version,
        engine_version=run.engine_version,
        source=run.source,  # type: ignore[arg-type]
        title=run.title,
        qemu_profile=run.qemu_profile,
        scenario=run.scenario,
        resolved=run.resolved,
        profile=run.profile,
        summary=run.summary,  # type: ignore[arg-type]
        steps=steps,
        events=events,
        notes=run.notes,
        import_info=run.import_info,
    )
