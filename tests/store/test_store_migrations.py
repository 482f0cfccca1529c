"""Alembic: from an empty database, and from revision 0001 with a run stored in it."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import Session, SQLModel

from app.store.db import make_engine
from app.store.migrate import current_revision, head_revision, upgrade
from app.store.runs import list_runs, load_trace
from tests.store.factories import make_trace


def test_upgrade_from_empty_matches_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    upgrade(engine)  # a second start-up finds head and changes nothing
    assert current_revision(engine) == head_revision()
    engine.dispose()


def _store_with_revision_0001(engine: sa.Engine, run_id: str) -> str:
    """Write a run the way the 0001 schema stored it (no status column)."""
    trace = make_trace(n_steps=8)
    meta = sa.MetaData()
    runs = sa.Table("runs", meta, autoload_with=engine)
    steps = sa.Table("steps", meta, autoload_with=engine)
    events = sa.Table("events", meta, autoload_with=engine)
    assert "status" not in runs.c
    with engine.begin() as connection:
        connection.execute(
            runs.insert().values(
                id=run_id,
                title=trace.title,
                description="stored by revision 0001",
                source=trace.source,
                engine_version=trace.engine_version,
                qemu_profile=trace.qemu_profile,
                created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                trace_format=trace.format,
                format_version=trace.format_version,
                scenario=trace.scenario,
                resolved=trace.resolved,
                profile=trace.profile,
                summary=trace.summary.model_dump(mode="json"),
                notes=trace.notes,
                import_info=None,
                step_count=len(trace.steps),
                event_count=len(trace.events),
            )
        )
        connection.execute(
            steps.insert(),
            [
                {
                    "run_id": run_id,
                    "index": s.index,
                    "t_ms": s.t_ms,
                    "end_ms": s.end_ms,
                    "phase": s.phase,
                    "status": s.status,
                    "data": s.model_dump(mode="json"),
                }
                for s in trace.steps
            ],
        )
        connection.execute(
            events.insert(),
            [
                {
                    "run_id": run_id,
                    "seq": i,
                    "step": e.step,
                    "t_ms": e.t_ms,
                    "kind": e.kind,
                    "side": e.side,
                    "device": e.device,
                    "data": e.model_dump(mode="json"),
                }
                for i, e in enumerate(trace.events)
            ],
        )
    return trace.to_json()


def test_upgrade_from_0001_keeps_old_runs_readable(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0001")
    expected = _store_with_revision_0001(engine, "old-run-0001")
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with Session(engine) as session:
        trace = load_trace(session, "old-run-0001")
        assert trace is not None and trace.to_json() == expected
        runs, total = list_runs(session, offset=0, limit=10, status="completed")
        assert total == 1 and runs[0].status == "completed"
    indexes = {ix["name"] for ix in sa.inspect(engine).get_indexes("steps")}
    assert "ix_steps_run_id_end_ms" in indexes
    engine.dispose()


def test_downgrade_to_0001_and_back(db_url: str) -> None:
    from alembic import command

    from app.store.migrate import alembic_config

    engine = make_engine(db_url)
    upgrade(engine)
    command.downgrade(alembic_config(engine), "0001")
    assert current_revision(engine) == "0001"
    assert "status" not in {c["name"] for c in sa.inspect(engine).get_columns("runs")}
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_downgrade_to_0002_drops_presentations_and_back(db_url: str) -> None:
    from alembic import command

    from app.store.migrate import alembic_config

    engine = make_engine(db_url)
    upgrade(engine)
    assert "presentations" in sa.inspect(engine).get_table_names()
    command.downgrade(alembic_config(engine), "0002")
    assert current_revision(engine) == "0002"
    assert "presentations" not in sa.inspect(engine).get_table_names()
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()
