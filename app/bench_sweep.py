"""`python -m app.bench_sweep` (part of `make bench`): sweep throughput and CLI start-up.

1. The issue's sweep: 50 guest sizes x 50 dirty rates around the mlx5 example, the ack on and
   off (2,500 points, 5,000 simulations), on 2 worker processes as `migscope sweep --workers 2`
   runs it (pool start-up included), against one process. A grid whose estimated time on the
   pool exceeds BUDGET_S runs on a spread sample instead; the output says so and extrapolates.
   MIGSCOPE_BENCH_SWEEP_SIDE=N runs N x N points.
2. Storing the grid's points (the server's bulk insert) against a raw sqlite3 executemany.
3. `migscope simulate` start-up against `python -c pass` (medians of interleaved runs), the
   heavy modules it no longer imports, and what importing them all, as app/cli.py used to,
   costs.

Figures are ratios measured in one run (these machines are shared and noisy); the load
average is printed with them.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.engine import Scenario
from app.engine.examples import load_example
from app.sweeps.executors import InlineExecutor, SweepExecutor, make_executor
from app.sweeps.output import to_csv
from app.sweeps.plan import SweepPlan, plan_sweep
from app.sweeps.point import PointResult
from app.sweeps.run import run_points

BASE = "mlx5-300mb-ack"
VARY = ("guest.ram_bytes=2GiB..64GiB:log:{n}", "guest.dirty_rate_bytes_per_s=0..1GiB:{n}")
WORKERS = 2
TARGET_S = 10.0
# Longest a full run may take before a spread sample stands in for it.
BUDGET_S = 60.0
SAMPLE = 100
STARTUP_RUNS = 7
# What `migscope simulate` has no use for (the store, the web, the charts).
HEAVY_MODULES = (
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "jinja2",
    "numpy",
    "structlog",
)
# What app/cli.py imported at start-up before its commands were loaded lazily.
OLD_CLI_IMPORTS = (
    "app.engine_cli",
    "app.importers.cli",
    "app.store.cli",
    "app.sweeps.cli",
    "app.web.cli",
    "app.web.urls",
)


def sweep_plan(side: int) -> SweepPlan:
    scenario = Scenario.model_validate(load_example(BASE))
    return plan_sweep(
        scenario, [v.format(n=side) for v in VARY], compare_ack=True, max_points=side * side
    )


def spread(count: int, points: int) -> list[int]:
    """`points` indices spread over the grid: stepping by a prime visits every guest size and
    dirty rate (a fixed stride keeps hitting the same columns), the same every run."""
    if points >= count:
        return list(range(count))
    return sorted({(i * 7919) % count for i in range(points)})


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_on(
    plan: SweepPlan, indices: Sequence[int], executor: SweepExecutor
) -> dict[int, PointResult]:
    results: dict[int, PointResult] = {}
    try:
        assert run_points(plan, executor, indices, lambda batch: results.update(batch))
    finally:
        executor.close()
    return results


def time_one_process(plan: SweepPlan, indices: Sequence[int]) -> tuple[float, dict[int, Any]]:
    start = time.perf_counter()
    results = run_on(plan, indices, InlineExecutor())
    return time.perf_counter() - start, results


def time_pool(plan: SweepPlan, indices: Sequence[int]) -> dict[str, Any]:
    """As `migscope sweep --workers 2`: the pool's start-up is part of the wall time."""
    cpu_before = time.process_time() + _children_cpu_s()
    start = time.perf_counter()
    executor = make_executor("local", WORKERS, start_method="fork")
    started = time.perf_counter()
    results = run_on(plan, indices, executor)
    end = time.perf_counter()
    return {
        "wall_s": end - start,
        "startup_s": started - start,
        # The workers are reaped at close, so their CPU time is counted by now.
        "cpu_s": time.process_time() + _children_cpu_s() - cpu_before,
        "start_method": getattr(executor, "start_method", "?"),
        "results": results,
    }


def bench_sweep(side: int) -> None:
    plan = sweep_plan(side)
    count = plan.point_count
    print(
        f"sweep: {count} points ({side} guest sizes x {side} dirty rates around {BASE}), "
        f"ack on and off = {2 * count} simulations; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs",
        flush=True,
    )
    picked = spread(count, SAMPLE)
    wall, _ = time_one_process(plan, picked)
    single_per_point = wall / len(picked)
    print(
        f"  one process, {len(picked)} spread points: {1 / single_per_point:.1f} points/s "
        f"(the whole grid would take about {single_per_point * count:.1f} s)",
        flush=True,
    )
    # Sample the pool run when even a perfect split over the workers would exceed the budget.
    if single_per_point * count / WORKERS <= BUDGET_S:
        pool_indices: list[int] = list(range(count))
    else:
        pool_indices = spread(count, max(SAMPLE, int(BUDGET_S / 2 * WORKERS / single_per_point)))
    pool = time_pool(plan, pool_indices)
    pool_rate = len(pool_indices) / pool["wall_s"]
    sampled = len(pool_indices) < count
    if sampled:
        print(
            f"  NOTE: the full grid would take more than {BUDGET_S:.0f} s here; {WORKERS} workers ran "
            f"{len(pool_indices)} spread points and the figures for {count} are extrapolated from them"
        )
    grid_s = count / pool_rate
    print(
        f"  {WORKERS} worker processes ({pool['start_method']}): {len(pool_indices)} points in "
        f"{pool['wall_s']:.2f} s wall (pool start-up {pool['startup_s']:.2f} s) = "
        f"{pool_rate:.1f} points/s, {pool['cpu_s'] / len(pool_indices) * 1000:.1f} ms CPU per point; "
        # Below the worker count: other processes had the cores (the load average says whose).
        f"{pool['cpu_s'] / pool['wall_s']:.2f} cores busy on average",
        flush=True,
    )
    # The single-process figure over the same points, when it fits the budget; else the sample.
    if single_per_point * len(pool_indices) <= BUDGET_S:
        cpu_before = time.process_time()
        one_wall, one_results = time_one_process(plan, pool_indices)
        one_cpu = time.process_time() - cpu_before
        same = to_csv(plan, one_results) == to_csv(plan, pool["results"])
        one_rate = len(pool_indices) / one_wall
        print(
            f"  one process, the same {len(pool_indices)} points: {one_wall:.2f} s = {one_rate:.1f} "
            f"points/s, {one_cpu / len(pool_indices) * 1000:.1f} ms CPU per point; "
            f"results the same bytes as the workers': {'yes' if same else 'NO'}"
        )
    else:
        one_rate = 1 / single_per_point
        print(
            f"  one process over {len(pool_indices)} points would exceed {BUDGET_S:.0f} s: its rate "
            f"is the {len(picked)}-point sample's"
        )
    statuses = [r.status for r in pool["results"].values()]
    verdict = "met" if grid_s <= TARGET_S else "NOT met"
    print(
        f"  => {pool_rate:.1f} points/s on {WORKERS} workers = {pool_rate / one_rate:.2f}x one process; "
        f"{count} points {'would take' if sampled else 'took'} {grid_s:.1f} s "
        f"(target <= {TARGET_S:.0f} s: {verdict}); "
        f"{statuses.count('completed')} of {len(statuses)} points converged with the ack"
    )
    # On a shared machine the wall time says more about the neighbours than about migscope:
    # the CPU time spread over the workers is what idle cores would need (an estimate).
    idle_s = pool["startup_s"] + pool["cpu_s"] / WORKERS * count / len(pool_indices)
    print(
        f"  on {WORKERS} idle cores the {count} points would take about {idle_s:.1f} s "
        f"(their CPU time / {WORKERS} + the pool's start-up; an estimate, not a measurement)"
    )
    bench_store_points(plan, pool["results"])


def bench_store_points(plan: SweepPlan, results: dict[int, PointResult]) -> None:
    """The server's insert of the sweep's points (app.store.sweeps.save_points, in flushes of
    FLUSH_POINTS) against sqlite3 executemany of the same rows in the same batches."""
    from app.store.db import make_engine
    from app.store.migrate import upgrade
    from app.store.sweeps import FLUSH_POINTS, create_sweep, save_points

    rows = sorted(results.items())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        ours_id = create_sweep(engine, plan, [], source="cli")
        start = time.perf_counter()
        for at in range(0, len(rows), FLUSH_POINTS):
            save_points(engine, ours_id, plan, rows[at : at + FLUSH_POINTS])
        ours = time.perf_counter() - start
        raw_id = create_sweep(engine, plan, [], source="cli")
        engine.dispose()
        names = ["sweep_id", "index", "axis_values", *rows[0][1].as_dict()]
        insert = (
            f"INSERT INTO sweep_points ({', '.join(f'{n!r}' for n in names)}) "
            f"VALUES ({', '.join('?' * len(names))})"
        )
        connection = sqlite3.connect(path)
        start = time.perf_counter()
        for at in range(0, len(rows), FLUSH_POINTS):
            batch = [
                (raw_id, index, json.dumps(list(plan.values_at(index))), *r.as_dict().values())
                for index, r in rows[at : at + FLUSH_POINTS]
            ]
            with connection:
                connection.executemany(insert, batch)
                connection.execute(
                    "UPDATE sweeps SET done_count = done_count + ? WHERE id = ?",
                    (len(batch), raw_id),
                )
        raw = time.perf_counter() - start
        stored = connection.execute(
            "SELECT count(*) FROM sweep_points WHERE sweep_id IN (?, ?)", (ours_id, raw_id)
        ).fetchone()[0]
        connection.close()
    assert stored == 2 * len(rows)
    print(
        f"  storing the {len(rows)} points (SQLite, {FLUSH_POINTS} per transaction): "
        f"{ours * 1000:.0f} ms, raw sqlite3 executemany {raw * 1000:.0f} ms = {ours / raw:.2f}x raw"
    )


def _migscope() -> list[str]:
    script = Path(sys.executable).with_name("migscope")
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _imported_by_simulate() -> set[str]:
    code = (
        "import contextlib, io, json, sys\n"
        "from app.cli import main\n"
        "sys.argv = ['migscope', 'simulate', '--example', 'zero-devices', '--json']\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def bench_startup(runs: int = STARTUP_RUNS) -> None:
    simulate = [*_migscope(), "simulate", "--example", "zero-devices", "--json"]
    bare = [sys.executable, "-c", "pass"]
    old = [sys.executable, "-c", f"import {', '.join(OLD_CLI_IMPORTS)}"]
    walls: dict[str, list[float]] = {"simulate": [], "pass": [], "old": []}
    for _ in range(runs):  # interleaved: a busy moment slows all three alike
        walls["simulate"].append(_wall(simulate))
        walls["pass"].append(_wall(bare))
        walls["old"].append(_wall(old))
    sim, bare_s, old_s = (statistics.median(walls[k]) for k in ("simulate", "pass", "old"))
    print(
        f"start-up (median of {runs} runs each, load average {os.getloadavg()[0]:.1f}):\n"
        f"  `migscope simulate --example zero-devices --json` {sim:.3f} s; `python -c pass` {bare_s:.3f} s = {sim / bare_s:.1f}x "
        f"(target: under 0.5 s on an idle machine: {'met' if sim < 0.5 else 'NOT met here'})\n"
        f"  importing every command's module, as app/cli.py did before: {old_s:.3f} s "
        f"(before any work) = {old_s / sim:.1f}x what `simulate` takes now"
    )
    loaded = _imported_by_simulate()
    installed = [m for m in HEAVY_MODULES if _installed(m)]
    skipped = [m for m in installed if m not in loaded]
    still = [m for m in installed if m in loaded]
    print(
        f"  `migscope simulate` no longer imports: {', '.join(skipped) or '(none)'}"
        + (f"; still imports: {', '.join(still)}" if still else "")
    )


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main() -> None:
    bench_startup()
    side = int(os.environ.get("MIGSCOPE_BENCH_SWEEP_SIDE", "50"))
    bench_sweep(side)


if __name__ == "__main__":
    main()
