"""Stored steps and events read in keyset batches: one short query per batch, no long
transaction, only a batch held in memory (streamed exports of long runs read them this way)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Mapped
from sqlmodel import col

from .models import EventRow, StepRow

BATCH_ROWS = 500


def _keyset_batches(
    engine: Engine,
    key: Mapped[Any],
    time: Mapped[Any],
    data: Mapped[Any],
    where: list[Any],
    by_time: bool,
) -> Iterator[dict[str, Any]]:
    """`data` of the rows matching `where`, ordered by `key` (or by (`time`, `key`)), read
    BATCH_ROWS at a time: each batch starts after the last row of the one before, so each
    query is short and an index range scan (no OFFSET, no transaction held between batches)."""
    last: tuple[Any, Any] | None = None
    while True:
        query = select(key, time, data).where(*where)
        if by_time:
            if last is not None:
                query = query.where((time > last[1]) | ((time == last[1]) & (key > last[0])))
            query = query.order_by(time, key)
        else:
            if last is not None:
                query = query.where(key > last[0])
            query = query.order_by(key)
        with engine.connect() as connection:
            rows = connection.execute(query.limit(BATCH_ROWS)).all()
        if not rows:
            return
        for row_key, row_time, row_data in rows:
            yield row_data
            last = (row_key, row_time)


def iter_step_data(engine: Engine, run_id: str, by_time: bool = False) -> Iterator[dict[str, Any]]:
    """The run's stored steps in index order (or end_ms, index order), BATCH_ROWS at a time."""
    return _keyset_batches(
        engine,
        col(StepRow.index),
        col(StepRow.end_ms),
        col(StepRow.data),
        [col(StepRow.run_id) == run_id],
        by_time,
    )


def iter_event_data(
    engine: Engine, run_id: str, by_time: bool = False, kinds: list[str] | None = None
) -> Iterator[dict[str, Any]]:
    """The run's stored events in seq order (or t_ms, seq order), only `kinds` when given."""
    where = [col(EventRow.run_id) == run_id]
    if kinds is not None:
        where.append(col(EventRow.kind).in_(kinds))
    return _keyset_batches(
        engine,
        col(EventRow.seq),
        col(EventRow.t_ms),
        col(EventRow.data),
        where,
        by_time,
    )
