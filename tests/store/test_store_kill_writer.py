"""A writer killed with SIGKILL mid-run leaves the run whole or invisible, never half stored.

Runs are written in batches (app.store.runs.save_traces) and marked complete last: a killed
writer's rows are never seen by a reader, and delete_incomplete_runs removes them."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from app.store.access import delete_incomplete_runs
from app.store.models import EventRow, Run, StepRow
from app.store.runs import BATCH_ROWS, get_run, list_runs

REPO = Path(__file__).resolve().parents[2]


def _writer(db_url: str, steps: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.store.writer_child", db_url, str(steps), *extra],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _counts(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return tuple(  # type: ignore[return-value]
            session.exec(select(func.count()).select_from(table)).one()
            for table in (Run, StepRow, EventRow)
        )


def _assert_every_run_whole(engine: Engine) -> int:
    with Session(engine) as session:
        runs = session.exec(select(Run).where(Run.complete == True)).all()  # noqa: E712
        for run in runs:
            steps = session.exec(select(func.count()).where(StepRow.run_id == run.id)).one()
            events = session.exec(select(func.count()).where(EventRow.run_id == run.id)).one()
            assert (steps, events) == (run.step_count, run.event_count), f"run {run.id} is torn"
        return len(runs)


def test_killed_inside_the_transaction_stores_nothing(db_url: str, db_engine: Engine) -> None:
    writer = _writer(db_url, 3000, "pause")
    assert writer.stdout is not None
    lines = []
    for line in writer.stdout:
        lines.append(line.strip())
        if line.startswith("MID-WRITE"):
            break
    assert lines[-1:] == ["MID-WRITE"], (lines, writer.stderr.read() if writer.stderr else "")
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    # The first transaction (the run row and BATCH_ROWS steps) is committed; the second
    # (the other 1,000 steps and the first events) was cut off. No reader sees the run ...
    runs, steps, events = _counts(db_engine)
    assert (runs, steps, events) == (1, BATCH_ROWS, 0)
    with Session(db_engine) as session:
        leftover = session.exec(select(Run)).one()
        assert not leftover.complete
        assert get_run(session, leftover.id) is None
        assert list_runs(session, offset=0, limit=10) == ([], 0)
    # ... and the clean-up removes them (the grace period guards a writer still at work).
    assert delete_incomplete_runs(db_engine, grace=timedelta(hours=1)) == 0
    assert delete_incomplete_runs(db_engine, grace=timedelta(0)) == 1
    assert _counts(db_engine) == (0, 0, 0)


def test_writer_that_finishes_stores_the_whole_run(db_url: str, db_engine: Engine) -> None:
    writer = _writer(db_url, 500)
    out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    assert "COMMITTED" in out
    assert _assert_every_run_whole(db_engine) == 1


def test_kills_at_random_moments_never_tear_a_run(db_url: str, db_engine: Engine) -> None:
    rng = random.Random(20261125)
    for _ in range(4):
        writer = _writer(db_url, 3000)
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "START"
        time.sleep(rng.uniform(0.0, 0.4))
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
    # Some kills may land after the commit: those runs must be complete; the rest absent.
    assert _assert_every_run_whole(db_engine) <= 4
