"""Chart columns: stored with every run, equal to the steps' numbers, read by window (with the
neighbouring steps when asked), rebuilt for runs stored before the table existed."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Engine, delete, func, select
from sqlmodel import Session, col

from app.store import chart_columns as cc
from app.store.migrate import MIGRATIONS_DIR
from app.store.runs import load_steps, save_trace
from tests.store.factories import make_trace


def test_columns_hold_the_steps_numbers(db_engine: Engine) -> None:
    trace = make_trace(n_steps=40)
    run_id = save_trace(db_engine, trace)
    with Session(db_engine) as session:
        keys = [*cc.STEP_COLUMNS, cc.device_key(1, "init_est_bytes")]
        table = cc.load_columns(session, run_id, keys)
        steps = load_steps(session, run_id)
    assert table[cc.X_KEY].tolist() == [s.end_ms for s in steps]
    for field in cc.STEP_COLUMNS:
        expected = [
            np.nan if getattr(s, field) is None else float(getattr(s, field)) for s in steps
        ]
        np.testing.assert_array_equal(table[field], expected, err_msg=field)
    device_values = [s.devices[1].init_est_bytes for s in steps]
    assert None not in device_values
    assert table[cc.device_key(1, "init_est_bytes")].tolist() == [
        float(v) for v in device_values if v is not None
    ]


def test_a_window_reads_its_steps_and_optionally_one_either_side(
    db_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cc, "CHUNK_STEPS", 7)  # several chunks, windows across their edges
    run_id = save_trace(db_engine, make_trace(n_steps=50))
    with Session(db_engine) as session:
        ends = [s.end_ms for s in load_steps(session, run_id)]
        chunks = session.execute(
            select(func.count())
            .select_from(cc.ChartColumnRow)
            .where(col(cc.ChartColumnRow.key) == cc.X_KEY)
        ).scalar()
        assert chunks == 8
        for lo, hi in (
            (ends[6], ends[7]),
            (ends[13] + 1, ends[20] - 1),
            (ends[0], ends[-1]),
            (ends[48] + 1, 1e9),
        ):
            inside = [e for e in ends if lo <= e <= hi]
            plain = cc.load_columns(session, run_id, ["ram_remaining_bytes"], lo, hi)
            assert plain[cc.X_KEY].tolist() == inside
            wide = cc.load_columns(
                session, run_id, ["ram_remaining_bytes"], lo, hi, neighbours=True
            )
            before = [e for e in ends if e < lo][-1:]
            after = [e for e in ends if e > hi][:1]
            assert wide[cc.X_KEY].tolist() == before + inside + after
            assert len(wide["ram_remaining_bytes"]) == len(wide[cc.X_KEY])


def test_runs_stored_before_the_table_get_their_columns_on_first_read(db_engine: Engine) -> None:
    run_id = save_trace(db_engine, make_trace(n_steps=20))
    with db_engine.begin() as connection:
        connection.execute(delete(cc.ChartColumnRow).where(col(cc.ChartColumnRow.run_id) == run_id))
    with Session(db_engine) as session:
        assert not cc.has_columns(session, run_id)
        table = cc.load_columns(session, run_id, ["threshold_bytes"])
        assert len(table[cc.X_KEY]) == 20
        assert cc.has_columns(session, run_id)


def test_one_alembic_head() -> None:
    from alembic.script import ScriptDirectory

    assert len(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()) == 1


def test_series_from_columns_equal_series_from_steps(db_engine: Engine) -> None:
    from app.engine.examples import load_example
    from app.engine.scenario import Scenario
    from app.engine.simulation import simulate
    from app.store.runs import load_step_data_in_time
    from app.web.series import ALL_FIELDS, build_series, stored_series

    run_id = save_trace(db_engine, simulate(Scenario.model_validate(load_example("two-mlx5-vfs"))))
    fields = list(ALL_FIELDS)
    with Session(db_engine) as session:
        for lo, hi, points in ((None, None, 20_000), (500.0, 1500.0, 20_000), (None, None, 50)):
            steps = load_step_data_in_time(session, run_id, lo, hi)
            assert stored_series(session, run_id, fields, None, points, lo, hi) == build_series(
                steps, fields, None, points
            )
