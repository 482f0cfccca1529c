"""A step window, a series and an event filter are each ONE query, served by an index."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlmodel import Session

from app.store.runs import load_events, load_step_data_in_time, load_steps, save_trace
from tests.store.factories import make_trace


@contextmanager
def recorded(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def _record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", _record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _record)


def _plan(session: Session, statement: str, parameters: Any) -> str:
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        return " ".join(str(row[-1]) for row in rows)
    # Tiny test tables make a sequential scan cheapest; forbid it to see whether an index serves.
    connection.execute(text("SET LOCAL enable_seqscan = off"))
    rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
    return " ".join(str(row[0]) for row in rows)


QUERIES: dict[str, Callable[[Session, str], object]] = {
    "step window": lambda s, run_id: load_steps(s, run_id, 10, 20),
    "series by time": lambda s, run_id: load_step_data_in_time(s, run_id, 500.0, 1500.0),
    "events of steps": lambda s, run_id: load_events(s, run_id, step_from=3, step_to=9),
    "events by kind": lambda s, run_id: load_events(s, run_id, kinds=["vm_stop"]),
}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_one_indexed_query(db_engine: Engine, name: str) -> None:
    run_id = save_trace(db_engine, make_trace(n_steps=60))
    load = QUERIES[name]
    with Session(db_engine) as session:
        with recorded(db_engine) as statements:
            load(session, run_id)
        assert len(statements) == 1, statements
        plan = _plan(session, *statements[0]).lower()
    # SQLite: "SEARCH ... USING INDEX" (a range of one run), never a full "SCAN".
    # PostgreSQL: an index or bitmap index scan. Which index the planner picks is its choice.
    assert "index" in plan, plan
    assert not plan.startswith("scan"), plan
