"""Sweeps in the database (SQLite and PostgreSQL): create, run, cancel, claim, resume."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from app.engine import Scenario
from app.engine.examples import load_example
from app.store.migrate import alembic_config, current_revision, head_revision
from app.store.sweeps import (
    cancel_sweep,
    claim_sweep,
    create_sweep,
    done_indices,
    get_sweep,
    list_points,
    plan_of,
    point_results,
    run_stored_sweep,
    save_points,
    set_status,
    unfinished_sweep_ids,
)
from app.sweeps.executors import InlineExecutor
from app.sweeps.plan import SweepPlan, plan_sweep
from app.sweeps.run import run_all

VARY = ["link.latency_ms=0.1,0.5,1", "guest.dirty_rate_bytes_per_s=0,1GiB"]


def small_plan() -> SweepPlan:
    scenario = Scenario.model_validate(load_example("mlx5-300mb-ack"))
    return plan_sweep(scenario, VARY, compare_ack=True, max_points=100)


def test_a_stored_sweep_holds_every_point_and_equals_the_in_memory_run(db_engine: Engine) -> None:
    plan = small_plan()
    sweep_id = create_sweep(db_engine, plan, VARY, source="api")
    assert run_stored_sweep(db_engine, sweep_id, InlineExecutor(), owner="test") == "completed"
    with Session(db_engine) as session:
        sweep = get_sweep(session, sweep_id)
        assert (
            sweep is not None
            and sweep.status == "completed"
            and sweep.done_count == sweep.point_count == 6
        )
        assert plan_of(sweep) == plan
        points = list_points(session, sweep_id, offset=2, limit=2)
        assert [p.index for p in points] == [2, 3]
        assert points[0].axis_values == [0.5, 0]
        assert point_results(session, sweep_id) == run_all(plan, InlineExecutor())
        assert get_sweep(session, "no such id!") is None


def test_resume_runs_only_missing_points_and_cancel_stops(db_engine: Engine) -> None:
    plan = small_plan()
    sweep_id = create_sweep(db_engine, plan, VARY, source="cli")
    expected = run_all(plan, InlineExecutor())
    save_points(db_engine, sweep_id, plan, [(i, expected[i]) for i in (0, 3, 5)])
    ran: list[int] = []
    assert (
        run_stored_sweep(db_engine, sweep_id, InlineExecutor(), owner="w1", progress=ran.append)
        == "completed"
    )
    assert sum(ran) == 3
    # A second save of a stored point (a slow owner overlapping a resume) neither fails nor double counts.
    save_points(db_engine, sweep_id, plan, [(1, expected[1])])
    with Session(db_engine) as session:
        assert done_indices(session, sweep_id) == set(range(6))
        assert point_results(session, sweep_id) == expected
        sweep = get_sweep(session, sweep_id)
        assert sweep is not None and sweep.done_count == 6

    other = create_sweep(db_engine, plan, VARY, source="api")
    assert cancel_sweep(db_engine, other)
    assert not cancel_sweep(db_engine, other)  # only queued or running sweeps cancel
    assert run_stored_sweep(db_engine, other, InlineExecutor(), owner="w1") == "cancelled"
    with Session(db_engine) as session:
        assert done_indices(session, other) == set()


def test_claims_keep_two_workers_off_one_sweep(db_engine: Engine) -> None:
    plan = small_plan()
    sweep_id = create_sweep(db_engine, plan, VARY, source="api")
    assert unfinished_sweep_ids(db_engine) == [sweep_id]
    assert claim_sweep(db_engine, sweep_id, "worker-a")
    assert not claim_sweep(db_engine, sweep_id, "worker-b")
    assert claim_sweep(
        db_engine, sweep_id, "worker-b", stale_after_s=-1
    )  # owner silent: taken over
    set_status(db_engine, sweep_id, "completed")
    assert not claim_sweep(db_engine, sweep_id, "worker-a", stale_after_s=-1)
    assert unfinished_sweep_ids(db_engine) == []


@pytest.mark.parametrize("target", ["0003"])
def test_migration_0004_downgrades_and_back(db_url: str, target: str) -> None:
    from alembic import command

    from app.store.db import make_engine
    from app.store.migrate import upgrade

    engine = make_engine(db_url)
    upgrade(engine)
    assert {"sweeps", "sweep_points"} <= set(sa.inspect(engine).get_table_names())
    command.downgrade(alembic_config(engine), target)
    assert not {"sweeps", "sweep_points"} & set(sa.inspect(engine).get_table_names())
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()
