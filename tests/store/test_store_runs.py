"""Writing and reading runs on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.engine.trace import Trace
from app.store.models import EventRow, Run, StepRow, StoredRunImmutable
from app.store.runs import (
    TraceTooLarge,
    get_run,
    list_runs,
    load_events,
    load_step,
    load_steps,
    load_steps_in_time,
    load_trace,
    new_run_id,
    save_trace,
    save_traces,
)
from tests.store.factories import make_trace


def _count(session: Session, table: type[StepRow] | type[EventRow], run_id: str) -> int:
    return session.exec(
        select(func.count()).select_from(table).where(col(table.run_id) == run_id)
    ).one()


def test_round_trip_gives_identical_json(db_engine: Engine) -> None:
    trace = make_trace(n_steps=30)
    run_id = save_trace(db_engine, trace)
    with Session(db_engine) as session:
        loaded = load_trace(session, run_id)
    assert loaded is not None
    assert loaded.to_json() == trace.to_json()
    assert Trace.from_json(loaded.to_json()) == trace


def test_run_row_describes_the_run(db_engine: Engine) -> None:
    run_id = save_trace(db_engine, make_trace(n_steps=5, title="described"))
    with Session(db_engine) as session:
        run = get_run(session, run_id)
        assert run is not None
        assert (run.title, run.status, run.source) == ("described", "completed", "simulation")
        assert run.description == "built by tests/store/factories.py"
        assert (run.step_count, run.event_count) == (5, len(make_trace(n_steps=5).events))
        assert _count(session, StepRow, run_id) == 5


def test_run_ids_are_unguessable() -> None:
    ids = {new_run_id() for _ in range(1000)}
    assert len(ids) == 1000
    # token_urlsafe(16): 128 random bits in 22 URL-safe characters.
    assert all(len(i) == 22 and i.replace("-", "").replace("_", "").isalnum() for i in ids)
    # 1 in 64 token_urlsafe ids starts with "-", which a command line reads as an option
    # (`migscope runs pin -x...` exited 2): none of 1000 (P(pass by luck) = (63/64)^1000 < 1e-6).
    assert not any(i.startswith("-") for i in ids)


def test_step_window_and_single_step(db_engine: Engine) -> None:
    run_id = save_trace(db_engine, make_trace(n_steps=20))
    with Session(db_engine) as session:
        window = load_steps(session, run_id, 5, 9)
        assert [s.index for s in window] == [5, 6, 7, 8]
        step = load_step(session, run_id, 19)
        assert step is not None and step.phase == "completed"
        assert load_step(session, run_id, 20) is None
        assert load_step(session, "no-such-run", 0) is None


def test_steps_by_time_and_events_by_step_and_kind(db_engine: Engine) -> None:
    trace = make_trace(n_steps=20)
    run_id = save_trace(db_engine, trace)
    with Session(db_engine) as session:
        steps = load_steps_in_time(session, run_id, 500.0, 800.0)
        assert [s.end_ms for s in steps] == [500.0, 600.0, 700.0, 800.0]
        kinds = load_events(session, run_id, kinds=["vm_stop", "vm_start"])
        assert [e.kind for e in kinds] == ["vm_stop", "vm_start"]
        in_window = load_events(session, run_id, step_from=10, step_to=11)
        assert {e.step for e in in_window} == {10}
        assert load_events(session, run_id) == trace.events


def test_listing_is_newest_first_and_paged(db_engine: Engine) -> None:
    ids = [save_trace(db_engine, make_trace(n_steps=2, title=f"run {i}")) for i in range(5)]
    with Session(db_engine) as session:
        page, total = list_runs(session, offset=0, limit=2)
        assert total == 5
        assert [r.id for r in page] == [ids[4], ids[3]]
        page, _ = list_runs(session, offset=4, limit=2)
        assert [r.id for r in page] == [ids[0]]
        _, completed = list_runs(session, offset=0, limit=10, status="completed")
        assert completed == 5
        _, failed = list_runs(session, offset=0, limit=10, status="failed")
        assert failed == 0
        _, simulated = list_runs(session, offset=0, limit=10, source="simulation")
        _, imported = list_runs(session, offset=0, limit=10, source="import")
        assert (simulated, imported) == (5, 0)


def test_too_many_steps_stores_nothing(db_engine: Engine) -> None:
    with pytest.raises(TraceTooLarge, match="at most 10"):
        save_trace(db_engine, make_trace(n_steps=11), max_steps=10)
    with Session(db_engine) as session:
        assert session.exec(select(func.count()).select_from(Run)).one() == 0


def test_failed_write_leaves_nothing(db_engine: Engine) -> None:
    trace = make_trace(n_steps=10)
    # Two events with the same (run_id, seq) are impossible, but a duplicate step index is
    # a real import bug: the primary key refuses it, and the whole run must go with it.
    broken = trace.model_copy(update={"steps": [*trace.steps, trace.steps[3]]})
    with pytest.raises(IntegrityError):
        save_trace(db_engine, broken)
    with Session(db_engine) as session:
        for table in (Run, StepRow, EventRow):
            assert session.exec(select(func.count()).select_from(table)).one() == 0


def test_stored_runs_refuse_updates(db_engine: Engine) -> None:
    run_id = save_trace(db_engine, make_trace(n_steps=3))
    with Session(db_engine) as session:
        run = get_run(session, run_id)
        assert run is not None
        run.title = "changed"
        session.add(run)
        with pytest.raises(StoredRunImmutable):
            session.commit()


def test_a_pair_is_stored_whole_or_not_at_all(db_engine: Engine) -> None:
    good = make_trace(n_steps=5, title="a")
    bad = make_trace(n_steps=5, title="b")
    bad = bad.model_copy(update={"steps": [*bad.steps, bad.steps[0]]})
    with pytest.raises(IntegrityError):
        save_traces(db_engine, [good, bad])
    with Session(db_engine) as session:
        assert session.exec(select(func.count()).select_from(Run)).one() == 0
    first, second = save_traces(db_engine, [good, make_trace(n_steps=3, title="c")])
    with Session(db_engine) as session:
        assert {r.title for r in session.exec(select(Run)).all()} == {"a", "c"}
        assert first != second


def test_ids_that_cannot_be_run_ids_find_nothing(db_url: str) -> None:
    from sqlmodel import Session

    from app.store.db import make_engine
    from app.store.migrate import upgrade
    from app.store.runs import get_run

    engine = make_engine(db_url)
    upgrade(engine)
    with Session(engine) as session:
        for bad in ("abc\x00def", "../etc", "a b", "é"):
            assert get_run(session, bad) is None
    engine.dispose()


def test_nul_bytes_from_imported_logs_are_stored_as_replacement_characters(db_url: str) -> None:
    from sqlmodel import Session

    from app.engine.examples import load_example
    from app.engine.scenario import Scenario
    from app.engine.simulation import simulate
    from app.store.db import make_engine
    from app.store.migrate import upgrade
    from app.store.runs import load_trace, save_trace

    trace = simulate(Scenario.model_validate(load_example("zero-devices")))
    imported = trace.model_copy(update={"source": "import", "title": "log\x00name"})
    engine = make_engine(db_url)
    upgrade(engine)
    run_id = save_trace(engine, imported)
    with Session(engine) as session:
        loaded = load_trace(session, run_id)
    assert loaded is not None and loaded.title == "log\ufffdname"
    engine.dispose()
