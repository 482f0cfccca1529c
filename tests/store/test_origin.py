"""Run.origin (Alembic 0008_run_origin): made here, or a migscope trace uploaded back. Outside
the trace, so the stored trace re-exports byte for byte either way; SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlmodel import Session

from app.store.db import make_engine
from app.store.migrate import alembic_config, current_revision, head_revision, upgrade
from app.store.models import Run, RunPublic
from app.store.runs import get_run, load_trace, run_create_from_trace, save_traces
from tests.store.factories import make_trace


def test_an_uploaded_trace_records_its_origin_and_re_exports_the_same_bytes(
    db_url: str,
) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    trace = make_trace(n_steps=8)
    [here] = save_traces(engine, [trace])
    [uploaded] = save_traces(engine, [trace], uploaded_file_name="bug 4711 grüße.json")
    with Session(engine) as session:
        made, came = get_run(session, here), get_run(session, uploaded)
        assert made is not None and came is not None
        assert (made.origin, made.uploaded_file_name) == ("here", None)
        assert (came.origin, came.uploaded_file_name) == ("uploaded", "bug 4711 grüße.json")
        # The trace's own fields stay the trace's: source and engine_version as read.
        assert (came.source, came.engine_version) == ("simulation", "test-factory")
        public = RunPublic.model_validate(came)
        assert public.origin == "uploaded" and public.uploaded_file_name == "bug 4711 grüße.json"
        for run_id in (here, uploaded):
            stored = load_trace(session, run_id)
            assert stored is not None and stored.to_json() == trace.to_json()
    engine.dispose()


def test_runs_stored_before_0008_read_as_made_here(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0007_run_every_pass")
    trace = make_trace(n_steps=4)
    runs = sa.Table("runs", sa.MetaData(), autoload_with=engine)
    assert "origin" not in runs.c and "uploaded_file_name" not in runs.c
    # The writer's own row (so the test follows its columns), minus what 0007 lacks.
    full = Run.model_validate(
        run_create_from_trace(trace), update={"id": "run-before-0008"}
    ).model_dump()
    row = {key: value for key, value in full.items() if key in runs.c}
    assert set(full) - set(row) >= {"origin", "uploaded_file_name"}
    with engine.begin() as connection:
        connection.execute(runs.insert().values(**row))
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with Session(engine) as session:
        run = get_run(session, "run-before-0008")
        assert run is not None and (run.origin, run.uploaded_file_name) == ("here", None)
    engine.dispose()


def test_downgrade_to_0007_drops_the_origin_columns_and_back(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    command.downgrade(alembic_config(engine), "0007_run_every_pass")
    columns = {c["name"] for c in sa.inspect(engine).get_columns("runs")}
    assert "every_pass" in columns and not {"origin", "uploaded_file_name"} & columns
    upgrade(engine)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("runs")}
    assert {"origin", "uploaded_file_name"} <= columns
    engine.dispose()
