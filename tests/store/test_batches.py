"""Keyset batches (app.store.batches): every stored step and event exactly once, in index/seq
order or in time order, across batch boundaries where several rows share a time."""

from __future__ import annotations

from sqlalchemy import Engine

from app.store.batches import BATCH_ROWS, iter_event_data, iter_step_data
from app.store.runs import save_trace
from tests.store.factories import make_trace

# Two full batches and a part: the boundaries at BATCH_ROWS and 2 * BATCH_ROWS fall inside
# runs of rows that share a time, where a keyset on time alone would skip or repeat rows.
N_STEPS = 2 * BATCH_ROWS + 7
TIE_ROWS = 3


def _tied_time_ms(index: int) -> float:
    """Times that run backwards against the index, TIE_ROWS rows to a time."""
    return 100.0 * ((N_STEPS - index) // TIE_ROWS)


def test_steps_and_events_in_both_orders_across_batches(db_engine: Engine) -> None:
    trace = make_trace(n_steps=N_STEPS, devices=("gpu0",))
    for step in trace.steps:
        step.end_ms = _tied_time_ms(step.index)
    for seq, event in enumerate(trace.events):
        event.t_ms = _tied_time_ms(seq)
    run_id = save_trace(db_engine, trace)

    by_index = [data["index"] for data in iter_step_data(db_engine, run_id)]
    assert by_index == list(range(N_STEPS))
    by_time = [(data["end_ms"], data["index"]) for data in iter_step_data(db_engine, run_id, True)]
    assert by_time == sorted((_tied_time_ms(i), i) for i in range(N_STEPS))
    assert by_time[0][1] != 0, "time order differs from index order here"

    stored = [(event.t_ms, event.kind) for event in trace.events]
    assert len(stored) > 2 * BATCH_ROWS
    events = [(data["t_ms"], data["kind"]) for data in iter_event_data(db_engine, run_id)]
    assert events == stored
    # Time order: ties keep the stored (seq) order.
    in_time = list(iter_event_data(db_engine, run_id, by_time=True))
    expected = sorted(range(len(stored)), key=lambda seq: (stored[seq][0], seq))
    assert [(data["t_ms"], data["kind"]) for data in in_time] == [stored[s] for s in expected]

    kinds = ["vm_stop", "init_data_sent"]
    chosen = [
        (data["t_ms"], data["kind"]) for data in iter_event_data(db_engine, run_id, True, kinds)
    ]
    assert chosen == [stored[s] for s in expected if stored[s][1] in kinds]
    assert len(chosen) == 2
