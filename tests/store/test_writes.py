"""The SQLite write lock (one writer at a time, across processes) and the WAL checkpoint."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.store import writes
from app.store.db import make_engine
from app.store.migrate import upgrade
from app.store.runs import save_trace
from app.store.writes import StoreBusy, checkpoint_if_large, write_lock
from tests.store.factories import make_trace

HOLD = """
import sys, time
from app.store.db import make_engine
from app.store.writes import write_lock
with write_lock(make_engine(sys.argv[1])):
    print("HELD", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    return engine


def test_a_writer_in_another_process_makes_this_one_wait(sqlite_engine: Engine) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(sqlite_engine.url), "1.5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "HELD"
    started = time.monotonic()
    run_id = save_trace(sqlite_engine, make_trace(n_steps=50))  # waits, then stores
    waited = time.monotonic() - started
    holder.wait(timeout=30)
    assert run_id and waited > 0.5, waited  # it queued behind the other process's lock


def test_a_lock_held_too_long_is_store_busy(sqlite_engine: Engine) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(sqlite_engine.url), "5"], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "HELD"
    with pytest.raises(StoreBusy), write_lock(sqlite_engine, timeout_s=0.3):
        pass
    holder.kill()
    holder.wait()


def test_the_wal_is_checkpointed_and_truncated(sqlite_engine: Engine) -> None:
    wal = Path(f"{sqlite_engine.url.database}-wal")
    save_trace(sqlite_engine, make_trace(n_steps=3000))  # a few MB: below the 32 MiB threshold
    size = wal.stat().st_size
    assert 0 < size < writes.WAL_CHECKPOINT_BYTES
    assert checkpoint_if_large(sqlite_engine, limit_bytes=size + 1) is False
    assert wal.stat().st_size == size
    assert checkpoint_if_large(sqlite_engine, limit_bytes=size) is True
    assert wal.stat().st_size == 0
