"""`make bench`: how many times faster than real time the engine simulates.

Figures are ratios measured in one run (these machines are noisy): simulated milliseconds
per wall-clock millisecond, and the cost of serialising the trace relative to simulating.
"""

from __future__ import annotations

import statistics
import time

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


def main() -> None:
    print(f"engine benchmark: median of {ROUNDS} rounds per scenario")
    for name in (REFERENCE, "mlx5-300mb-default-params", "mlx5-300mb-ack"):
        r = bench_scenario(name)
        print(f"  {name:28s} simulated {r['simulated_s']:7.1f} s in {r['wall_s'] * 1000:7.1f} ms wall "
              f"= {r['speedup']:8.0f}x real time; {r['steps']:6d} steps; trace JSON costs {r['json_over_sim']:.2f}x the simulation")


if __name__ == "__main__":
    main()
