"""Sweeps in the database (revision 0004): create, run and resume, read back.

A sweep row keeps the base scenario and every axis's values; a finished point is one row of
`sweep_points`, inserted in batches as results arrive. A point's values follow from its
index (app.sweeps.plan), so after a restart the points without a row are exactly the ones
left to run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import Engine, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app import __version__ as ENGINE_VERSION
from app.sweeps.executors import SweepExecutor
from app.sweeps.plan import SweepPlan
from app.sweeps.point import OUTPUT_FIELDS, PointResult
from app.sweeps.run import run_points
from app.sweeps.vary import Axis, resolve_field

from .models import Sweep, SweepPoint, utc_now
from .runs import new_id

log = structlog.get_logger("migscope.sweeps")

STATUSES = ("queued", "running", "completed", "cancelled", "failed")
UNFINISHED = ("queued", "running")
# Results are written in batches: one transaction per point would cost more than the point.
FLUSH_POINTS = 500
FLUSH_SECONDS = 1.0
# A running sweep whose owner wrote nothing for this long is taken over at start-up.
STALE_AFTER_S = 60.0
_SWEEP_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def new_sweep_id() -> str:
    return new_id(12)


def create_sweep(
    engine: Engine, plan: SweepPlan, vary: Sequence[str], *, source: str, title: str | None = None
) -> str:
    """Store a new, queued sweep (no points yet) and return its id."""
    sweep = Sweep(
        id=new_sweep_id(),
        title=title or f"{plan.base.get('title', 'sweep')}: {' x '.join(plan.paths)}",
        status="queued",
        source=source,
        engine_version=ENGINE_VERSION,
        base_scenario=plan.base,
        vary=list(vary),
        axes=[
            {"path": axis.path, "values": list(axis.values), "spec": axis.spec}
            for axis in plan.axes
        ],
        compare_ack=plan.compare_ack,
        max_steps=plan.max_steps,
        point_count=plan.point_count,
    )
    with Session(engine) as session:
        session.add(sweep)
        session.commit()
        return sweep.id


def plan_of(sweep: Sweep) -> SweepPlan:
    """The plan back from its row: the stored axis values, never re-parsed (a changed parser
    must not move a half-done sweep's points)."""
    axes = tuple(
        Axis(
            field=resolve_field(item["path"], sweep.base_scenario),
            values=tuple(item["values"]),
            spec=item.get("spec", item["path"]),
        )
        for item in sweep.axes
    )
    return SweepPlan(
        base=sweep.base_scenario,
        axes=axes,
        compare_ack=sweep.compare_ack,
        max_steps=sweep.max_steps,
    )


def get_sweep(session: Session, sweep_id: str) -> Sweep | None:
    if not _SWEEP_ID.fullmatch(sweep_id or ""):
        return None
    return session.get(Sweep, sweep_id)


def list_sweeps(
    session: Session, *, offset: int = 0, limit: int = 50
) -> tuple[Sequence[Sweep], int]:
    query = (
        select(Sweep)
        .order_by(col(Sweep.created_at).desc(), col(Sweep.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return session.exec(query).all(), session.exec(select(func.count()).select_from(Sweep)).one()


def list_points(
    session: Session, sweep_id: str, *, offset: int = 0, limit: int | None = None
) -> Sequence[SweepPoint]:
    query = (
        select(SweepPoint)
        .where(SweepPoint.sweep_id == sweep_id)
        .order_by(col(SweepPoint.index))
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return session.exec(query).all()


def get_point(session: Session, sweep_id: str, index: int) -> SweepPoint | None:
    return session.get(SweepPoint, (sweep_id, index))


def point_result(point: SweepPoint) -> PointResult:
    return PointResult(**{name: getattr(point, name) for name in OUTPUT_FIELDS})


def point_results(session: Session, sweep_id: str) -> dict[int, PointResult]:
    return {p.index: point_result(p) for p in list_points(session, sweep_id)}


def done_indices(session: Session, sweep_id: str) -> set[int]:
    rows = session.exec(select(SweepPoint.index).where(SweepPoint.sweep_id == sweep_id)).all()
    return set(rows)


def _point_rows(
    sweep_id: str, plan: SweepPlan, results: Iterable[tuple[int, PointResult]]
) -> list[dict[str, Any]]:
    return [
        {
            "sweep_id": sweep_id,
            "index": index,
            "axis_values": list(plan.values_at(index)),
            **result.as_dict(),
        }
        for index, result in results
    ]


def save_points(
    engine: Engine,
    sweep_id: str,
    plan: SweepPlan,
    results: Sequence[tuple[int, PointResult]],
    owner: str | None = None,
) -> None:
    """Insert finished points in one transaction (one executemany) and move the progress."""
    if not results:
        return
    rows = _point_rows(sweep_id, plan, results)
    table = SweepPoint.__table__  # type: ignore[attr-defined]
    try:
        with engine.begin() as connection:
            connection.execute(insert(table), rows)
            connection.execute(
                update(Sweep)
                .where(col(Sweep.id) == sweep_id)
                .values(
                    done_count=col(Sweep.done_count) + len(rows),
                    updated_at=utc_now(),
                    heartbeat_at=utc_now(),
                )
            )
    except IntegrityError:
        # Another process stored some of these points (a resume overlapping a slow owner):
        # keep the rows already there, add the rest, recount.
        with engine.begin() as connection, Session(bind=connection) as session:
            have = set(
                session.exec(
                    select(SweepPoint.index).where(
                        SweepPoint.sweep_id == sweep_id,
                        col(SweepPoint.index).in_([r["index"] for r in rows]),
                    )
                ).all()
            )
            fresh = [r for r in rows if r["index"] not in have]
            if fresh:
                connection.execute(insert(table), fresh)
            count = session.exec(
                select(func.count()).select_from(SweepPoint).where(SweepPoint.sweep_id == sweep_id)
            ).one()
            connection.execute(
                update(Sweep)
                .where(col(Sweep.id) == sweep_id)
                .values(done_count=count, updated_at=utc_now(), heartbeat_at=utc_now())
            )


def set_status(
    engine: Engine,
    sweep_id: str,
    status: str,
    *,
    error: str | None = None,
    only_from: Iterable[str] | None = None,
) -> bool:
    """Change the status (only from the given ones, when given); True if a row changed."""
    assert status in STATUSES
    query = update(Sweep).where(col(Sweep.id) == sweep_id)
    if only_from is not None:
        query = query.where(col(Sweep.status).in_(list(only_from)))
    values: dict[str, Any] = {"status": status, "updated_at": utc_now()}
    if error is not None:
        values["error"] = error[:2000]
    with engine.begin() as connection:
        return connection.execute(query.values(**values)).rowcount == 1


def cancel_sweep(engine: Engine, sweep_id: str) -> bool:
    """Mark a queued or running sweep cancelled; its runner stops at its next batch."""
    return set_status(engine, sweep_id, "cancelled", only_from=UNFINISHED)


def claim_sweep(
    engine: Engine, sweep_id: str, owner: str, *, stale_after_s: float = STALE_AFTER_S
) -> bool:
    """Take an unfinished sweep for `owner` unless another live process holds it."""
    stale = utc_now() - timedelta(seconds=stale_after_s)
    query = (
        update(Sweep)
        .where(col(Sweep.id) == sweep_id, col(Sweep.status).in_(list(UNFINISHED)))
        .where(
            (col(Sweep.owner).is_(None))
            | (col(Sweep.owner) == owner)
            | (col(Sweep.heartbeat_at) < stale)
            | (col(Sweep.heartbeat_at).is_(None))
        )
        .values(owner=owner, heartbeat_at=utc_now())
    )
    with engine.begin() as connection:
        return connection.execute(query).rowcount == 1


def release_sweeps(engine: Engine, owner: str) -> None:
    """A process shutting down gives its unfinished sweeps back: the next start takes them at once."""
    with engine.begin() as connection:
        connection.execute(
            update(Sweep)
            .where(col(Sweep.owner) == owner, col(Sweep.status).in_(list(UNFINISHED)))
            .values(owner=None)
        )


def unfinished_sweep_ids(engine: Engine) -> list[str]:
    with Session(engine) as session:
        query = (
            select(Sweep.id)
            .where(col(Sweep.status).in_(list(UNFINISHED)))
            .order_by(col(Sweep.created_at))
        )
        return list(session.exec(query).all())


def set_point_runs(
    engine: Engine, sweep_id: str, index: int, run_id: str, off_run_id: str | None
) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(SweepPoint)
            .where(col(SweepPoint.sweep_id) == sweep_id, col(SweepPoint.index) == index)
            .values(run_id=run_id, off_run_id=off_run_id)
        )


@dataclass
class _Progress:
    buffer: list[tuple[int, PointResult]]
    last_flush: float
    stop: bool = False


def run_stored_sweep(
    engine: Engine,
    sweep_id: str,
    executor: SweepExecutor,
    *,
    owner: str,
    progress: Callable[[int], None] | None = None,
    stop_requested: Callable[[], bool] = lambda: False,
) -> str:
    """Run (or resume) a stored sweep's missing points; returns the final status.

    Cancelling is a status change in the database (any worker may receive it); the runner
    reads it at every flush and stops handing out points.
    """
    with Session(engine) as session:
        sweep = get_sweep(session, sweep_id)
        if sweep is None:
            raise KeyError(sweep_id)
        plan = plan_of(sweep)
        done = done_indices(session, sweep_id)
    pending = [i for i in range(plan.point_count) if i not in done]
    if not set_status(engine, sweep_id, "running", only_from=UNFINISHED):
        with Session(engine) as session:
            current = get_sweep(session, sweep_id)
            return current.status if current is not None else "failed"
    with engine.begin() as connection:
        # The stored rows are the truth (rows removed by hand, a count from an older run).
        connection.execute(
            update(Sweep)
            .where(col(Sweep.id) == sweep_id)
            .values(done_count=len(done), owner=owner, heartbeat_at=utc_now())
        )
    state = _Progress(buffer=[], last_flush=time.monotonic())

    def flush() -> None:
        save_points(engine, sweep_id, plan, state.buffer, owner)
        state.buffer = []
        state.last_flush = time.monotonic()
        with Session(engine) as session:
            row = session.get(Sweep, sweep_id)
            state.stop = row is None or row.status != "running"

    def on_results(batch: list[tuple[int, PointResult]]) -> None:
        state.buffer.extend(batch)
        if progress is not None:
            progress(len(batch))
        if (
            len(state.buffer) >= FLUSH_POINTS
            or time.monotonic() - state.last_flush >= FLUSH_SECONDS
        ):
            flush()

    try:
        finished = run_points(
            plan, executor, pending, on_results, should_stop=lambda: state.stop or stop_requested()
        )
        flush()
    except BaseException as error:
        if state.buffer:
            try:
                flush()
            except Exception as flush_error:  # noqa: BLE001  the original error is the one to report
                log.warning(
                    "sweep results lost on failure", sweep_id=sweep_id, error=str(flush_error)
                )
        if isinstance(error, Exception):
            set_status(
                engine,
                sweep_id,
                "failed",
                error=f"{type(error).__name__}: {error}",
                only_from=UNFINISHED,
            )
        raise
    if finished and not state.stop:
        set_status(engine, sweep_id, "completed", only_from=("running",))
    with Session(engine) as session:
        row = get_sweep(session, sweep_id)
        return row.status if row is not None else "failed"
