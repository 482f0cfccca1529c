"""`make bench`: how many times faster than real time the engine simulates.

Figures are ratios measured in one run (these machines are noisy and shared): simulated time
per CPU second of this process (`time.process_time`, so other processes on a busy machine do
not count), engine time against the number of devices and the simulated time, a collapsed
never-converging run against a converging one, the downtime accounting against the device
state's size, and the cost of storing a run against a raw sqlite3 executemany of the same
rows. The sweep and CLI start-up benchmarks are in app/bench_sweep.py.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from app.engine import Scenario, simulate
from app.engine.examples import load_example
from app.engine.simulation import simulate_summary

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from app.engine.trace import Trace

REFERENCE = "reference-bench"
ROUNDS = 5


def _load() -> str:
    """The 1-minute load average: how busy the shared machine was while measuring."""
    return f"{os.getloadavg()[0]:.2f}"


def _cpu(fn: Callable[[], object], rounds: int) -> float:
    """Median CPU seconds of `fn` over `rounds` calls."""
    times = []
    for _ in range(rounds):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def bench_scenario(name: str, rounds: int = ROUNDS) -> dict[str, float]:
    scenario = Scenario.model_validate(load_example(name))
    trace = simulate(scenario)
    wall = _cpu(lambda: simulate(scenario), rounds)
    collapsed = simulate(scenario, collapse=True)
    collapsed_cpu = _cpu(lambda: simulate(scenario, collapse=True), rounds)
    summary_cpu = _cpu(lambda: simulate_summary(scenario), rounds)
    json_cpu = _cpu(trace.to_json, rounds)
    simulated_s = (trace.summary.total_time_ms or 0) / 1000.0
    return {
        "simulated_s": simulated_s,
        "wall_s": wall,
        "speedup": simulated_s / wall,
        "summary_speedup": simulated_s / summary_cpu,
        "collapsed_speedup": simulated_s / collapsed_cpu,
        "collapsed_steps": len(collapsed.steps),
        "steps": len(trace.steps),
        "json_over_sim": json_cpu / wall,
    }


def _scaling_scenario(devices: int, seconds: int) -> Scenario:
    """A guest dirtying faster than max-bandwidth lets it send: ten budget-bound passes per
    second until max_time_ms, with `devices` ConnectX-7 VFs starved by the budget. More than
    16 devices (the documented per-run limit) are added without validation."""
    doc = {
        "title": f"scaling: {devices} device(s), {seconds} s",
        "qemu_profile": "10.1",
        "guest": {
            "ram_bytes": "16 GiB",
            "dirty_rate_bytes_per_s": "512 MiB",
            "working_set_bytes": "8 GiB",
            "zero_page_fraction": 0.5,
        },
        "link": {"bandwidth_bytes_per_s": "10 Gbit", "latency_ms": 0.1},
        "params": {"downtime_limit_ms": 300, "max_bandwidth_bytes_per_s": "400 MiB"},
        "caps": {"source": ["return-path"], "destination": ["return-path"]},
        "devices": [
            {"name": f"0000:3b:{i // 8:02x}.{i % 8}", "preset": "mlx5-cx7-vf-100mib"}
            for i in range(min(devices, 16))
        ],
        "max_time_ms": seconds * 1000,
    }
    scenario = Scenario.model_validate(doc)
    if devices > 16:
        more = [
            scenario.devices[0].model_copy(update={"name": f"0000:5e:{i // 8:02x}.{i % 8}"})
            for i in range(devices - 16)
        ]
        scenario = scenario.model_copy(update={"devices": [*scenario.devices, *more]})
    return scenario


def bench_scaling(
    devices: tuple[int, ...] = (1, 4, 16, 64), seconds: tuple[int, ...] = (10, 100, 1000)
) -> dict[tuple[int, int], tuple[float, int]]:
    """Engine CPU seconds and steps (full trace) per (devices, simulated seconds)."""
    out = {}
    for n in devices:
        for s in seconds:
            scenario = _scaling_scenario(n, s)
            steps = len(simulate(scenario).steps)
            out[(n, s)] = (_cpu(partial(simulate, scenario), 3 if s < 1000 else 1), steps)
    return out


def bench_collapse(seconds: int = 60) -> dict[str, float]:
    """CPU per simulated second: a never-converging run (collapsed; full trace and
    summary-only) against a converging one, and the same run uncollapsed over 10 s."""
    doc = load_example("stop-copy-query-fails")
    doc["max_time_ms"] = seconds * 1000
    never = Scenario.model_validate(doc)
    converging = Scenario.model_validate(load_example("mlx5-300mb-ack"))
    conv_trace = simulate(converging)
    conv_s = (conv_trace.summary.total_time_ms or 0) / 1000.0
    collapsed = simulate(never, collapse=True)
    short = Scenario.model_validate({**doc, "max_time_ms": 10_000})
    every = simulate(short)
    return {
        "never_steps": len(collapsed.steps),
        "never_passes": float(collapsed.summary.passes or 0),
        "never_cpu_per_s": _cpu(lambda: simulate(never, collapse=True), 3) / seconds,
        "never_summary_cpu_per_s": _cpu(lambda: simulate_summary(never), 3) / seconds,
        "every_steps": len(every.steps),
        "every_cpu_per_s": _cpu(lambda: simulate(short), 1) / 10.0,
        "conv_steps": len(conv_trace.steps),
        "conv_cpu_per_s": _cpu(lambda: simulate(converging), 3) / conv_s,
        "conv_summary_cpu_per_s": _cpu(lambda: simulate_summary(converging), 3) / conv_s,
    }


def bench_downtime(factors: tuple[int, ...] = (1, 4, 16)) -> list[dict[str, float]]:
    """The mlx5 example with k x its 300 MB of state to save, read, send and load in the
    downtime (a downtime-limit that lets it converge): engine CPU and the downtime."""
    out = []
    for k in factors:
        doc = load_example("mlx5-300mb-ack")
        doc["devices"][0].update(
            stop_copy_bytes=k * 300_000_000, reported_stop_copy_bytes=k * 300_000_000
        )
        doc["params"]["downtime_limit_ms"] = 2_000_000
        scenario = Scenario.model_validate(doc)
        trace = simulate(scenario)
        out.append(
            {
                "factor": k,
                "cpu_s": _cpu(partial(simulate, scenario), 3),
                "downtime_ms": trace.summary.downtime_ms or 0.0,
                "status": trace.summary.status == "completed",
            }
        )
    return out


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


def _raw_connection(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection with the store's settings (app.store.db's own PRAGMAs)."""
    from app.store.db import _on_sqlite_connect

    connection = sqlite3.connect(path)
    _on_sqlite_connect(connection, None)
    return connection


def _raw_insert(
    connection: sqlite3.Connection, trace: Trace, chart_rows: list[tuple[object, ...]]
) -> tuple[float, float]:
    """Wall and CPU seconds for sqlite3 alone to write the rows save_trace writes, in one transaction:
    the run row (its JSON columns serialised with json.dumps), every step and event (serialised
    with model_dump_json, as the store does) and the charts' column chunks (given pre-built:
    the numpy work of building them is the store's, not the baseline's)."""
    from app.store.chart_columns import ROW_COLUMNS
    from app.store.runs import new_run_id, run_create_from_trace

    start, cpu = time.perf_counter(), time.process_time()
    run_id = new_run_id()
    run = run_create_from_trace(trace).model_dump()
    run.update(
        id=run_id,
        created_at="2026-01-01 00:00:00.000000",
        visibility="listed",
        pinned=False,
        every_pass=False,
        stored_bytes=0,
        complete=True,
    )
    run_row = {
        k: json.dumps(v) if isinstance(v, dict | list) or v is None else v for k, v in run.items()
    }
    steps = [
        (run_id, s.index, s.t_ms, s.end_ms, s.phase, s.status, s.model_dump_json())
        for s in trace.steps
    ]
    events = [
        (run_id, i, e.step, e.t_ms, e.kind, e.side, e.device, e.model_dump_json())
        for i, e in enumerate(trace.events)
    ]
    chunks = [(run_id, *row[1:]) for row in chart_rows]
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
        connection.executemany(
            f"INSERT INTO chart_columns ({', '.join(ROW_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(ROW_COLUMNS))})",
            chunks,
        )
    return time.perf_counter() - start, time.process_time() - cpu


def _table_sizes(path: Path) -> list[tuple[int, int]]:
    """(rows, bytes of JSON or blob data) per table written by a store, to check that both
    sides of the comparison wrote the same rows."""
    connection = sqlite3.connect(path)
    try:
        return [
            connection.execute(
                f"SELECT count(*), coalesce(sum(length({data})), 0) FROM {table}"
            ).fetchone()
            for table, data in (
                ("runs", "scenario"),
                ("steps", "data"),
                ("events", "data"),
                ("chart_columns", "data"),
            )
        ]
    finally:
        connection.close()


STORE_VS_RAW_ROUNDS = 15


def bench_store_vs_raw(
    name: str, collapse: bool, rounds: int = STORE_VS_RAW_ROUNDS
) -> dict[str, float]:
    """save_trace against _raw_insert of the same rows into the same schema, each round in a
    fresh pair of databases, the two taking turns at going first; the medians. Each side writes
    the run once untimed (the store's statement caches warm up as a running server has them),
    then both WALs are checkpointed and emptied, so the timed writes start from the same state:
    SQLite checkpoints automatically past 1,000 WAL pages, and a checkpoint on one side only
    (the raw connection closed in between, say) would decide the ratio by itself."""
    from app.store.chart_columns import column_rows, columns_from_steps
    from app.store.db import make_engine
    from app.store.migrate import upgrade
    from app.store.runs import save_trace

    trace = simulate(Scenario.model_validate(load_example(name)), collapse=collapse)
    chart_rows = column_rows("", columns_from_steps(trace.steps))
    stores, raws = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(rounds + 1):
            store_path, raw_path = Path(tmp) / f"store{number}.db", Path(tmp) / f"raw{number}.db"
            engine = make_engine(f"sqlite:///{store_path}")
            upgrade(engine)
            raw_engine = make_engine(f"sqlite:///{raw_path}")
            upgrade(raw_engine)
            raw_engine.dispose()
            connection = _raw_connection(raw_path)
            save_trace(engine, trace)
            _raw_insert(connection, trace, chart_rows)
            with engine.connect() as store_connection:
                store_connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

            def store(engine: Engine = engine) -> tuple[float, float]:
                start, cpu = time.perf_counter(), time.process_time()
                save_trace(engine, trace)
                return time.perf_counter() - start, time.process_time() - cpu

            def raw(connection: sqlite3.Connection = connection) -> tuple[float, float]:
                return _raw_insert(connection, trace, chart_rows)

            first, second = (store, raw) if number % 2 else (raw, store)
            timings = {fn: fn() for fn in (first, second)}
            engine.dispose()
            connection.close()
            if number == 0:
                continue  # the first round warms the code paths of both sides
            stores.append(timings[store])
            raws.append(timings[raw])
            stored, written = _table_sizes(store_path), _table_sizes(raw_path)
            assert stored == written, (stored, written)
    store_s, raw_s = (statistics.median(wall for wall, _ in t) for t in (stores, raws))
    store_cpu_s, raw_cpu_s = (statistics.median(cpu for _, cpu in t) for t in (stores, raws))
    return {
        "steps": len(trace.steps),
        "rows": sum(n for n, _ in written) // 2,  # two copies of the run in each database
        "store_s": store_s,
        "raw_s": raw_s,
        "ratio": store_s / raw_s,
        "store_cpu_s": store_cpu_s,
        "raw_cpu_s": raw_cpu_s,
        "cpu_ratio": store_cpu_s / raw_cpu_s,
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
    print(f"engine benchmark: CPU time of this process, median of {ROUNDS} rounds per scenario")
    for name in (REFERENCE, "mlx5-300mb-default-params", "mlx5-300mb-ack", "stop-copy-query-fails"):
        r = bench_scenario(name)
        print(
            f"  {name:28s} simulated {r['simulated_s']:7.1f} s in {r['wall_s'] * 1000:7.1f} ms CPU "
            f"= {r['speedup']:6.0f}x real time, {r['steps']:6d} steps; collapsed {r['collapsed_speedup']:6.0f}x, "
            f"{r['collapsed_steps']:5d} steps; summary-only {r['summary_speedup']:6.0f}x; "
            f"trace JSON costs {r['json_over_sim']:.2f}x the simulation",
            flush=True,
        )
    print(
        "engine time against devices and simulated time (full trace, budget-bound passes: "
        "10 per simulated second), relative to 1 device and 10 s",
        flush=True,
    )
    scaling = bench_scaling()
    base = scaling[(1, 10)][0]
    seconds = sorted({s for _, s in scaling})
    print(
        "  devices " + "".join(f"{s:>10d} s" for s in seconds) + "   (us CPU per step, per column)"
    )
    for n in sorted({n for n, _ in scaling}):
        cells = "".join(f"{scaling[(n, s)][0] / base:11.1f}x" for s in seconds)
        per_step = ", ".join(
            f"{cpu / steps * 1e6:.0f}" for (m, _), (cpu, steps) in sorted(scaling.items()) if m == n
        )
        print(f"  {n:7d} {cells}   ({per_step})")
    r = bench_collapse()
    print(
        "never converging (stop-copy-query-fails, 60 s, collapsed) against converging (mlx5-300mb-ack): "
        "CPU per simulated second",
        flush=True,
    )
    print(
        f"  collapsed: {r['never_passes']:.0f} passes in {r['never_steps']:.0f} steps, "
        f"{r['never_cpu_per_s'] * 1000:.1f} ms per simulated s (summary-only {r['never_summary_cpu_per_s'] * 1000:.1f}); "
        f"converging: {r['conv_steps']:.0f} steps, {r['conv_cpu_per_s'] * 1000:.1f} ms per s "
        f"(summary-only {r['conv_summary_cpu_per_s'] * 1000:.1f}) -> never/converging "
        f"{r['never_cpu_per_s'] / r['conv_cpu_per_s']:.2f}x full, "
        f"{r['never_summary_cpu_per_s'] / r['conv_summary_cpu_per_s']:.2f}x summary-only; "
        f"uncollapsed ({r['every_steps']:.0f} steps over 10 s) {r['every_cpu_per_s'] / r['never_cpu_per_s']:.0f}x "
        "the collapsed cost"
    )
    print("downtime accounting against the device state to save in the downtime (mlx5, k x 300 MB)")
    rows = bench_downtime()
    for row in rows:
        print(
            f"  {row['factor']:3.0f}x: downtime {row['downtime_ms']:9.1f} ms, engine {row['cpu_s'] * 1000:7.1f} ms CPU "
            f"= {row['cpu_s'] / rows[0]['cpu_s']:5.2f}x the 1x run"
            + ("" if row["status"] else " (did not complete)")
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
        "store (save_trace) against raw sqlite3 executemany of exactly the rows it writes: run, "
        "steps, events (JSON by model_dump_json in both) and chart column chunks (pre-built for "
        f"raw), one transaction on raw's side; CPU time of this process (wall time), median of "
        f"{STORE_VS_RAW_ROUNDS}; load average {_load()}"
    )
    for name in (REFERENCE, "mlx5-300mb-default-params"):
        for collapse in (False, True):
            r = bench_store_vs_raw(name, collapse)
            shape = "collapsed (as the app stores it)" if collapse else "one step per pass"
            print(
                f"  {name:28s} {shape:32s} {r['steps']:6d} steps, {r['rows']:6d} rows: store "
                f"{r['store_cpu_s'] * 1000:7.1f} ms, raw {r['raw_cpu_s'] * 1000:7.1f} ms = "
                f"{r['cpu_ratio']:.2f}x raw (wall {r['store_s'] * 1000:.1f} ms vs "
                f"{r['raw_s'] * 1000:.1f} ms = {r['ratio']:.2f}x)",
                flush=True,
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


if __name__ == "__main__":
    main()
