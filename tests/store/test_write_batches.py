"""How save_traces cuts a run into write transactions (app.store.writes.transactions): a run of
up to BATCH_ROWS rows is one commit, already complete; a longer one is several commits of at
most BATCH_ROWS rows each, invisible until the last. And the charts' columns built from step
models (the write path) equal those built from the stored step dicts (the rebuild path)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session

from app.store import chart_columns as cc
from app.store.runs import BATCH_ROWS, load_trace, save_trace, save_traces
from app.store.writes import Rows, transactions
from tests.store.factories import make_trace


def _rows(table: str, n: int) -> Rows:
    return Rows(table, ("n",), [(i,) for i in range(n)])


def test_transactions_keep_the_order_and_never_pass_the_limit() -> None:
    pieces = [_rows("a", 5), _rows("b", 0), _rows("c", 7), _rows("d", 1)]
    cut = transactions(pieces, 4)
    assert [sum(len(p.rows) for p in batch) for batch in cut] == [4, 4, 4, 1]
    flat = [(p.table, row) for batch in cut for p in batch for row in p.rows]
    assert flat == [(p.table, row) for p in pieces for row in p.rows]
    assert transactions([], 4) == [[]]  # nothing to insert: still one transaction (the run)
    assert transactions([_rows("a", 8)], 4)[-1] != []  # no empty transaction at an exact fit


def _commits(engine: Engine) -> list[int]:
    """A list that grows by one at every commit on `engine`."""
    seen: list[int] = []
    event.listen(engine, "commit", lambda _connection: seen.append(1))
    return seen


def _rows_of(trace: Any) -> int:
    chunks = math.ceil(len(trace.steps) / cc.CHUNK_STEPS)
    columns = 1 + len(cc.STEP_COLUMNS) + len(trace.steps[0].devices) * len(cc.DEVICE_COLUMNS)
    return len(trace.steps) + len(trace.events) + chunks * columns


def test_a_small_run_is_one_commit_and_reads_back_whole(db_engine: Engine) -> None:
    trace = make_trace(n_steps=40)
    assert _rows_of(trace) <= BATCH_ROWS
    commits = _commits(db_engine)
    run_id = save_trace(db_engine, trace)
    assert len(commits) == 1
    with Session(db_engine) as session:
        loaded = load_trace(session, run_id)
    assert loaded is not None and loaded.to_json() == trace.to_json()


def test_a_long_run_is_one_commit_per_batch(db_engine: Engine) -> None:
    trace = make_trace(n_steps=BATCH_ROWS + 300)
    commits = _commits(db_engine)
    run_id = save_trace(db_engine, trace)
    # The rows cut into batches; the run row rides in the first, the "complete" mark in the last.
    assert len(commits) == math.ceil(_rows_of(trace) / BATCH_ROWS) > 1
    with Session(db_engine) as session:
        loaded = load_trace(session, run_id)
    assert loaded is not None and loaded.to_json() == trace.to_json()


def test_several_small_runs_are_one_commit(db_engine: Engine) -> None:
    traces = [make_trace(n_steps=20, title=f"run {i}") for i in range(3)]
    commits = _commits(db_engine)
    ids = save_traces(db_engine, traces)
    assert len(commits) == 1
    with Session(db_engine) as session:
        for run_id, trace in zip(ids, traces, strict=True):
            loaded = load_trace(session, run_id)
            assert loaded is not None and loaded.to_json() == trace.to_json()


@pytest.mark.parametrize("n_steps", [2, 37])
def test_columns_from_models_equal_columns_from_stored_dicts(n_steps: int) -> None:
    trace = make_trace(n_steps=n_steps)
    # Out of time order, with a device missing from some steps: both paths sort and pad alike.
    steps = list(reversed(trace.steps))
    steps[0] = steps[0].model_copy(update={"devices": steps[0].devices[:1]})
    from_models = cc.columns_from_steps(steps)
    from_dicts = cc.columns_from_steps([s.model_dump(mode="json") for s in steps])
    assert list(from_models) == list(from_dicts)
    for key in from_models:
        np.testing.assert_array_equal(from_models[key], from_dicts[key], err_msg=key)
    assert from_models[cc.X_KEY].tolist() == sorted(s.end_ms for s in steps)
    assert np.isnan(from_models[cc.device_key(1, "sent_bytes")]).sum() == 1
