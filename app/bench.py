"""`make bench`: how many times faster than real time the engine simulates.

Figures are ratios measured in one run (these machines are noisy): simulated milliseconds
per wall-clock millisecond, and the cost of serialising the trace relative to simulating.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from app.engine import Scenario, simulate
from app.engine.examples import load_example

REFERENCE = "reference-bench"
ROUNDS = 5


def bench_scenario(name: str, rounds: int = ROUNDS) -> dict[str, float]:
    scenario = Scenario.model_validate(load_example(name))
    walls, json_walls = [], []
    trace = None
    for _ in range(rounds):
        start = time.perf_counter()
        trace = simulate(scenario)
        walls.append(time.perf_counter() - start)
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
    return {"steps": len(trace.steps), "write_over_sim": statistics.median(writes) / sim,
            "read_over_sim": statistics.median(reads) / sim, "write_s": statistics.median(writes)}


def main() -> None:
    print(f"engine benchmark: median of {ROUNDS} rounds per scenario")
    for name in (REFERENCE, "mlx5-300mb-default-params", "mlx5-300mb-ack"):
        r = bench_scenario(name)
        print(f"  {name:28s} simulated {r['simulated_s']:7.1f} s in {r['wall_s'] * 1000:7.1f} ms wall "
              f"= {r['speedup']:8.0f}x real time; {r['steps']:6d} steps; trace JSON costs {r['json_over_sim']:.2f}x the simulation")
    print("store benchmark (SQLite, one transaction per run): cost relative to simulating the same run")
    for name in (REFERENCE, "mlx5-300mb-default-params"):
        r = bench_store(name)
        print(f"  {name:28s} {r['steps']:6d} steps: write {r['write_s'] * 1000:7.1f} ms = {r['write_over_sim']:.2f}x "
              f"the simulation, read back {r['read_over_sim']:.2f}x")


if __name__ == "__main__":
    main()
