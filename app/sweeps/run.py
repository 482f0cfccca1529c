"""Run a plan's points on an executor, handing results back in batches as they finish."""

from __future__ import annotations

import concurrent.futures as cf
import math
from collections.abc import Callable, Sequence

from .executors import SweepExecutor
from .plan import SweepPlan
from .point import PointResult

Results = list[tuple[int, PointResult]]
# Small batches keep the progress bar moving and cancel quick; large ones cost less per point.
MAX_BATCH = 32
BATCHES_PER_WORKER = 8


def batch_size(points: int, workers: int) -> int:
    return max(1, min(MAX_BATCH, math.ceil(points / (workers * BATCHES_PER_WORKER))))


def run_points(
    plan: SweepPlan,
    executor: SweepExecutor,
    indices: Sequence[int],
    on_results: Callable[[Results], None],
    should_stop: Callable[[], bool] = lambda: False,
) -> bool:
    """Run the points `indices`; True when all ran, False when `should_stop` ended it early.

    At most two batches per worker are in flight: a cancelled sweep leaves little running,
    and a million-point plan is never held as futures all at once.
    """
    batches = plan.interleaved_batches(list(indices), batch_size(len(indices), executor.workers))
    in_flight: set[cf.Future[Results]] = set()
    limit = 2 * executor.workers
    exhausted = False
    try:
        while True:
            while not exhausted and len(in_flight) < limit:
                if should_stop():
                    return False
                batch = next(batches, None)
                if batch is None:
                    exhausted = True
                    break
                in_flight.add(executor.submit(batch))
            if not in_flight:
                return True
            done, in_flight = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
            for future in done:
                on_results(future.result())
            if should_stop():
                return False
    finally:
        for future in in_flight:
            future.cancel()


def run_all(
    plan: SweepPlan, executor: SweepExecutor, progress: Callable[[int], None] | None = None
) -> dict[int, PointResult]:
    """Every point of the plan, in memory (the CLI and the benchmark)."""
    results: dict[int, PointResult] = {}

    def keep(batch: Results) -> None:
        results.update(batch)
        if progress is not None:
            progress(len(batch))

    run_points(plan, executor, range(plan.point_count), keep)
    return results
