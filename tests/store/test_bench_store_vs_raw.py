"""The store benchmark's raw baseline (app.bench) writes exactly the rows save_trace writes: the
bench checks the two databases hold the same rows and bytes per table; this runs one round so
the check itself keeps working (no timing is asserted)."""

from __future__ import annotations

import math

from app.bench import bench_store_vs_raw
from app.engine import Scenario, simulate
from app.engine.examples import load_example
from app.store import chart_columns as cc


def test_the_raw_baseline_writes_the_rows_the_store_writes() -> None:
    name = "mlx5-300mb-ack"
    trace = simulate(Scenario.model_validate(load_example(name)), collapse=True)
    result = bench_store_vs_raw(name, collapse=True, rounds=1)
    columns = len(cc.columns_from_steps(trace.steps))
    chunks = math.ceil(len(trace.steps) / cc.CHUNK_STEPS) * columns
    assert result["steps"] == len(trace.steps)
    assert result["rows"] == 1 + len(trace.steps) + len(trace.events) + chunks
    assert result["store_cpu_s"] > 0 and result["raw_cpu_s"] > 0
