"""`make bench`: how many times faster than real time the engine simulates.

Figures are ratios measured in one run (these machines are noisy): simulated milliseconds
per wall-clock millisecond, and the cost of serialising the trace relative to simulating.

The sweep benchmark runs 50 x 50 points (MIGSCOPE_BENCH_SWEEP_SIDE=N for N x N) with the ack
on and off on every core and compares it with one process (timed on a spread sample of the
same points); the store benchmark compares storing a run with a raw sqlite3 executemany of
the same rows.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from app.engine import Scenario, simulate
from app.engine.examples import load_example
from app.engine.simulation import simulate_summary

REFERENCE = "reference-bench"
ROUNDS = 5


def bench_scenario(name: str, rounds: int = ROUNDS) -> dict[str, float]:
    scenario = Scenario.model_validate(load_example(name))
    walls, json_walls, summary_walls = [], [], []
    trace = None
    for _ in range(rounds):
        start = time.perf_counter()
        trace = simulate(scenario)
        walls.append(time.perf_counter() - start)
        start = time.perf_counter()
        simulate_summary(scenario)
        summary_walls.append(time.perf_counter() - start)
        start = time.perf_counter()
        trace.to_json()
        json_walls.append(time.perf_counter() - start)
    assert trace is not None
    wall = statistics.median(walls)
    simulated_s = (trace.summary.total_time_ms or 0) / 1000.0
    return {
        "simulated_s": simulated_s,
        "wall_s": wall,
        "speedup": simulated_s / wall,
        "summary_speedup": simulated_s / statistics.median(summary_walls),
        "steps": len(trace.steps),
        "json_over_sim": statistics.median(json_walls) / wall,
    }


def bench_store(name: str, rounds: int = 3) -> dict[str, float]:
    """Write and read back one run in a fresh SQLite database, relative to simulating it."""
    from sqlmodel import Session

    from app.store.db import make_engine
    from app.store.migrate import upgrade
    from app.store.runs import load_trace, save_trace

    scenario = Scenario.model_validate(load_example(name))
    sims, writes, reads = [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        trace = simulate(scenario)
        sims.append(time.perf_counter() - start)
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
            upgrade(engine)
            start = time.perf_counter()
            run_id = save_trace(engine, trace)
            writes.append(time.perf_counter() - start)
            start = time.perf_counter()
            with Session(engine) as session:
                loaded = load_trace(session, run_id)
            reads.append(time.perf_counter() - start)
            assert loaded is not None and len(loaded.steps) == len(trace.steps)
            engine.dispose()
    sim = statistics.median(sims)
    return {
        "steps": len(trace.steps),
        "write_over_sim": statistics.median(writes) / sim,
        "read_over_sim": statistics.median(reads) / sim,
        "write_s": statistics.median(writes),
    }


SWEEP_BASE = "mlx5-300mb-ack"
SWEEP_VARY = ("guest.ram_bytes=2GiB..64GiB:log:{n}", "guest.dirty_rate_bytes_per_s=0..1GiB:{n}")
SWEEP_SAMPLE = 100


def bench_sweep(side: int, sample: int = SWEEP_SAMPLE) -> dict[str, Any]:
    """side x side points around the mlx5 example, ack on and off, on every core; the
    single-process rate comes from a spread sample of the same grid."""
    from app.sweeps.executors import InlineExecutor, LocalExecutor, default_workers
    from app.sweeps.plan import plan_sweep
    from app.sweeps.point import run_batch
    from app.sweeps.run import run_all

    scenario = Scenario.model_validate(load_example(SWEEP_BASE))
    plan = plan_sweep(
        scenario, [v.format(n=side) for v in SWEEP_VARY], compare_ack=True, max_points=side * side
    )
    # A fixed stride would keep hitting the same columns of the grid; stepping by a prime
    # spreads the sample over every guest size and dirty rate (and is the same every run).
    picked = sorted({(i * 7919) % plan.point_count for i in range(min(sample, plan.point_count))})
    start = time.perf_counter()
    for batch in plan.batches(picked, 16):
        run_batch(batch)
    single_per_point = (time.perf_counter() - start) / len(picked)
    workers = default_workers()
    # Printed before the long part, so an interrupted bench still says what one process does.
    print(
        f"  one process: {1 / single_per_point:.1f} points/s over {len(picked)} sampled points "
        f"(the whole grid would take {single_per_point * plan.point_count:.0f} s)",
        flush=True,
    )
    start = time.perf_counter()  # pool start-up included: it is part of what a user waits for
    executor = LocalExecutor(workers) if workers > 1 else InlineExecutor()
    try:
        results = run_all(plan, executor)
    finally:
        executor.close()
    wall = time.perf_counter() - start
    statuses = [r.status for r in results.values()]
    return {
        "points": plan.point_count,
        "simulations": 2 * plan.point_count,
        "workers": workers,
        "wall_s": wall,
        "points_per_s": plan.point_count / wall,
        "speedup": single_per_point * plan.point_count / wall,
        "single_points_per_s": 1 / single_per_point,
        "sampled": len(picked),
        "converged": statuses.count("completed"),
    }


def bench_store_vs_raw(name: str, rounds: int = 5) -> dict[str, float]:
    """save_trace against sqlite3 executemany of the same rows (serialised with
    model_dump_json) into the same schema, in one transaction each."""
    from app.store.db import make_engine
    from app.store.migrate import upgrade
    from app.store.runs import new_run_id, run_create_from_trace, save_trace

    trace = simulate(Scenario.model_validate(load_example(name)))

    def raw(path: Path) -> float:
        connection = sqlite3.connect(path)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        start = time.perf_counter()
        run_id = new_run_id()
        run = run_create_from_trace(trace).model_dump()
        run.update(id=run_id, created_at="2026-01-01 00:00:00")
        run_row = {
            k: json.dumps(v) if isinstance(v, dict | list) or v is None else v
            for k, v in run.items()
        }
        steps = [
            (run_id, s.index, s.t_ms, s.end_ms, s.phase, s.status, s.model_dump_json())
            for s in trace.steps
        ]
        events = [
            (run_id, i, e.step, e.t_ms, e.kind, e.side, e.device, e.model_dump_json())
            for i, e in enumerate(trace.events)
        ]
        with connection:
            columns = ", ".join(f'"{k}"' for k in run_row)
            connection.execute(
                f"INSERT INTO runs ({columns}) VALUES ({', '.join('?' * len(run_row))})",
                list(run_row.values()),
            )
            connection.executemany(
                'INSERT INTO steps (run_id, "index", t_ms, end_ms, phase, status, data) '
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                steps,
            )
            connection.executemany(
                "INSERT INTO events (run_id, seq, step, t_ms, kind, side, device, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                events,
            )
        wall = time.perf_counter() - start
        connection.close()
        return wall

    stores, raws = [], []
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'store.db'}")
        upgrade(engine)
        raw_engine = make_engine(f"sqlite:///{Path(tmp) / 'raw.db'}")
        upgrade(raw_engine)
        raw_engine.dispose()
        save_trace(engine, trace)  # warm the statement caches, as a running server has them
        for _ in range(rounds):
            start = time.perf_counter()
            save_trace(engine, trace)
            stores.append(time.perf_counter() - start)
            raws.append(raw(Path(tmp) / "raw.db"))
        engine.dispose()
    store, raw_s = statistics.median(stores), statistics.median(raws)
    return {
        "rows": 1 + len(trace.steps) + len(trace.events),
        "store_s": store,
        "raw_s": raw_s,
        "ratio": store / raw_s,
    }


def bench_chart_reads(steps: int, rounds: int = 5) -> dict[str, float]:
    """A run of about `steps` steps stored in a fresh SQLite database; then the server time of
    /api/runs/{id}/series?max_points=2000, the run page and a zoomed window of its charts, read
    from the chart columns, against building the same series from the stored step JSON."""
    from fastapi.testclient import TestClient
    from sqlmodel import Session

    from app.settings import Settings
    from app.store.runs import load_step_data_in_time, save_trace
    from app.web.app import create_app
    from app.web.series import DEFAULT_FIELDS, build_series

    doc = load_example("stop-copy-query-fails")  # never converges: its length is max_time_ms
    doc["max_time_ms"] = 2500 * steps / 3789
    trace = simulate(Scenario.model_validate(doc))
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=f"sqlite:///{Path(folder) / 'bench.db'}")
        app = create_app(settings)
        engine = app.state.engine
        run_id = save_trace(engine, trace)
        total = trace.summary.total_time_ms or 0.0
        timings: dict[str, list[float]] = {
            "series": [],
            "page": [],
            "window": [],
            "series_from_steps": [],
        }
        with TestClient(app) as client:
            client.get(f"/runs/{run_id}")  # warm caches once
            for _ in range(rounds):
                for key, url in (
                    ("series", f"/api/runs/{run_id}/series?max_points=2000"),
                    ("page", f"/runs/{run_id}"),
                    ("window", f"/runs/{run_id}/series?from_ms={total * 0.4}&to_ms={total * 0.45}"),
                ):
                    start = time.perf_counter()
                    response = client.get(url)
                    timings[key].append(time.perf_counter() - start)
                    assert response.status_code == 200, (url, response.status_code)
                with Session(engine) as session:
                    start = time.perf_counter()
                    build_series(
                        load_step_data_in_time(session, run_id), list(DEFAULT_FIELDS), None, 2000
                    )
                    timings["series_from_steps"].append(time.perf_counter() - start)
        engine.dispose()
    out: dict[str, float] = {"steps": float(len(trace.steps))}
    out.update({f"{key}_ms": statistics.median(values) * 1000 for key, values in timings.items()})
    return out


def main() -> None:
    print(f"engine benchmark: median of {ROUNDS} rounds per scenario")
    for name in (REFERENCE, "mlx5-300mb-default-params", "mlx5-300mb-ack", "stop-copy-query-fails"):
        r = bench_scenario(name)
        print(
            f"  {name:28s} simulated {r['simulated_s']:7.1f} s in {r['wall_s'] * 1000:7.1f} ms wall "
            f"= {r['speedup']:8.0f}x real time ({r['summary_speedup']:8.0f}x summary-only); {r['steps']:6d} steps; "
            f"trace JSON costs {r['json_over_sim']:.2f}x the simulation"
        )
    print(
        "store benchmark (SQLite, one transaction per run): cost relative to simulating the same run"
    )
    for name in (REFERENCE, "mlx5-300mb-default-params"):
        r = bench_store(name)
        print(
            f"  {name:28s} {r['steps']:6d} steps: write {r['write_s'] * 1000:7.1f} ms = {r['write_over_sim']:.2f}x "
            f"the simulation, read back {r['read_over_sim']:.2f}x"
        )
    print(
        "store against raw sqlite3 executemany of the same rows (median of 5, one transaction each)"
    )
    for name in (REFERENCE, "mlx5-300mb-default-params"):
        r = bench_store_vs_raw(name)
        print(
            f"  {name:28s} {r['rows']:6d} rows: store {r['store_s'] * 1000:7.1f} ms, raw {r['raw_s'] * 1000:7.1f} ms "
            f"= {r['ratio']:.2f}x raw"
        )
    steps = int(os.environ.get("MIGSCOPE_BENCH_CHART_STEPS", "50000"))
    print(
        f"chart reads (SQLite, a run of about {steps} steps, median of 5; server time through the ASGI app)",
        flush=True,
    )
    r = bench_chart_reads(steps)
    print(
        f"  {r['steps']:.0f} steps: /api/runs/ID/series?max_points=2000 {r['series_ms']:.1f} ms, run page "
        f"{r['page_ms']:.1f} ms, a zoomed window {r['window_ms']:.1f} ms; the same series built from step JSON "
        f"{r['series_from_steps_ms']:.1f} ms = {r['series_from_steps_ms'] / r['series_ms']:.1f}x the columns"
    )
    side = int(os.environ.get("MIGSCOPE_BENCH_SWEEP_SIDE", "50"))
    print(
        f"sweep benchmark: {side * side} points ({side} guest sizes x {side} dirty rates around {SWEEP_BASE}), "
        f"ack on and off = {2 * side * side} simulations",
        flush=True,
    )
    r = bench_sweep(side)
    print(
        f"  {r['workers']} worker processes: {r['wall_s']:.1f} s wall, {r['points_per_s']:.1f} points/s; "
        f"one process {r['single_points_per_s']:.1f} points/s (sampled {r['sampled']} points) "
        f"-> {r['speedup']:.2f}x one process; {r['converged']} points converged with the ack"
    )


if __name__ == "__main__":
    main()
