"""Revision 0007_run_every_pass on both databases: runs stored before it read as collapsed,
a run stored with every_pass keeps it, and the column goes away on a downgrade."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlmodel import Session

from app.engine.trace import Trace
from app.store.db import make_engine
from app.store.migrate import alembic_config, current_revision, head_revision, upgrade
from app.store.models import Run, utc_now
from app.store.runs import _rows, count_steps_in_phases, get_run, save_traces
from tests.store.factories import make_trace

BEFORE = "0006_chart_columns"


def _columns(engine: sa.Engine) -> set[str]:
    return {column["name"] for column in sa.inspect(engine).get_columns("runs")}


def test_runs_stored_before_the_revision_read_as_collapsed(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine, BEFORE)
    assert "every_pass" not in _columns(engine)
    # The 0006 schema is the models' without the new column: write the run as it stored it.
    trace = make_trace(n_steps=6)
    [old_id] = save_traces_without_every_pass(engine, trace)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with Session(engine) as session:
        old = get_run(session, old_id)
        assert old is not None and old.every_pass is False
        assert old.step_count == 6
    [new_id] = save_traces(engine, [make_trace(n_steps=9)], every_pass=True)
    [plain_id] = save_traces(engine, [make_trace(n_steps=9)])
    with Session(engine) as session:
        new, plain = get_run(session, new_id), get_run(session, plain_id)
        assert new is not None and new.every_pass is True
        assert plain is not None and plain.every_pass is False
    engine.dispose()


def save_traces_without_every_pass(engine: sa.Engine, trace: Trace) -> list[str]:
    """The writer's own run row (so the test follows its columns), minus the columns revision
    0006 does not have (every_pass, and those of later revisions), inserted as that schema
    would."""
    run, _steps, _events = _rows("old-run-0006", trace, utc_now())
    runs = sa.Table("runs", sa.MetaData(), autoload_with=engine)
    row = {key: value for key, value in run.model_dump().items() if key in runs.c}
    assert set(run.model_dump()) - set(row) >= {"every_pass"}
    with engine.begin() as connection:
        connection.execute(runs.insert().values(**row))
    return [run.id]


def test_downgrade_drops_the_column_and_upgrade_brings_it_back(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    assert "every_pass" in _columns(engine)
    command.downgrade(alembic_config(engine), BEFORE)
    assert current_revision(engine) == BEFORE
    assert "every_pass" not in _columns(engine)
    upgrade(engine)
    assert "every_pass" in _columns(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_count_steps_in_phases(db_engine: sa.Engine) -> None:
    trace = make_trace(n_steps=10)
    [run_id] = save_traces(db_engine, [trace])
    expected = {
        phase: sum(1 for step in trace.steps if step.phase == phase)
        for phase in {step.phase for step in trace.steps}
    }
    with Session(db_engine) as session:
        for phase, count in expected.items():
            assert count_steps_in_phases(session, run_id, [phase]) == count
        assert count_steps_in_phases(session, run_id, list(expected)) == 10
        assert count_steps_in_phases(session, run_id, ["no such phase"]) == 0
        assert count_steps_in_phases(session, "missing-run", list(expected)) == 0
    assert Run.__table__.c.every_pass.server_default is not None  # type: ignore[attr-defined]
