"""Stored steps and events read in keyset batches: one short query per batch, no long
transaction, only a batch held in memory (streamed exports of long runs read them this way)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import col

from .models import EventRow, StepRow

BATCH_ROWS = 500


def iter_step_data(engine: Engine, run_id: str, by_time: bool = False) -> Iterator[dict[str, Any]]:
    """The run's stored steps in index order (or end_ms, index order), BATCH_ROWS at a time."""
    last: tuple[Any, ...] | None = None
    while True:
        query = select(col(StepRow.index), col(StepRow.end_ms), col(StepRow.data)).where(
            col(StepRow.run_id) == run_id
        )
        if by_time:
            if last is not None:
                query = query.where(
                    (col(StepRow.end_ms) > last[1])
                    | ((col(StepRow.end_ms) == last[1]) & (col(StepRow.index) > last[0]))
                )
            query = query.order_by(col(StepRow.end_ms), col(StepRow.index))
        else:
            if last is not None:
                query = query.where(col(StepRow.index) > last[0])
            query = query.order_by(col(StepRow.index))
        with engine.connect() as connection:
            rows = connection.execute(query.limit(BATCH_ROWS)).all()
        if not rows:
            return
        for index, end_ms, data in rows:
            yield data
            last = (index, end_ms)


def iter_event_data(
    engine: Engine, run_id: str, by_time: bool = False, kinds: list[str] | None = None
) -> Iterator[dict[str, Any]]:
    last: tuple[Any, ...] | None = None
    while True:
        query = select(col(EventRow.seq), col(EventRow.t_ms), col(EventRow.data)).where(
            col(EventRow.run_id) == run_id
        )
        if kinds is not None:
            query = query.where(col(EventRow.kind).in_(kinds))
        if by_time:
            if last is not None:
                query = query.where(
                    (col(EventRow.t_ms) > last[1])
                    | ((col(EventRow.t_ms) == last[1]) & (col(EventRow.seq) > last[0]))
                )
            query = query.order_by(col(EventRow.t_ms), col(EventRow.seq))
        else:
            if last is not None:
                query = query.where(col(EventRow.seq) > last[0])
            query = query.order_by(col(EventRow.seq))
        with engine.connect() as connection:
            rows = connection.execute(query.limit(BATCH_ROWS)).all()
        if not rows:
            return
        for seq, t_ms, data in rows:
            yield data
            last = (seq, t_ms)
