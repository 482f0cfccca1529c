"""Where points run: one process, forked workers, fork-server workers. The same results, in
the same bytes, whatever runs them; batches, not one task per point."""

from __future__ import annotations

import concurrent.futures as cf
import threading

import pytest

from app.engine import Scenario
from app.engine.examples import load_example
from app.sweeps.executors import InlineExecutor, LocalExecutor, SweepExecutor
from app.sweeps.output import to_csv, to_json
from app.sweeps.plan import SweepPlan, plan_sweep
from app.sweeps.point import PointBatch, PointResult
from app.sweeps.run import batch_size, run_all, run_points


@pytest.fixture(scope="module")
def plan() -> SweepPlan:
    base = Scenario.model_validate(load_example("mlx5-300mb-ack"))
    return plan_sweep(
        base,
        # 1 GiB is an invalid point (the working set does not fit): kept, the same everywhere.
        ["guest.ram_bytes=1GiB..16GiB:log:5", "guest.dirty_rate_bytes_per_s=0..768MiB:4"],
        compare_ack=True,
        max_points=100,
        max_steps=20_000,
    )


def outputs(plan: SweepPlan, executor: SweepExecutor) -> tuple[str, str]:
    try:
        results = run_all(plan, executor)
    finally:
        executor.close()
    assert sorted(results) == list(range(plan.point_count))
    return to_csv(plan, results), to_json(plan, results)


def test_fork_and_fork_server_workers_give_the_bytes_of_one_process(plan: SweepPlan) -> None:
    inline = outputs(plan, InlineExecutor())
    forked = LocalExecutor(2, start_method="fork")
    if threading.active_count() == 1:
        assert forked.start_method == "fork"
    assert outputs(plan, forked) == inline
    assert outputs(plan, LocalExecutor(2, start_method="forkserver")) == inline
    statuses = {row.split(",")[3] for row in inline[0].splitlines()[1:]}
    assert {"invalid", "completed"} <= statuses


def test_fork_falls_back_to_a_fork_server_while_other_threads_run() -> None:
    release = threading.Event()
    thread = threading.Thread(target=release.wait, daemon=True)
    thread.start()
    try:
        executor = LocalExecutor(1, start_method="fork")
        try:
            assert executor.start_method == "forkserver"
        finally:
            executor.close()
    finally:
        release.set()
        thread.join()


class CountingExecutor(InlineExecutor):
    """One process, keeping the indices of every task it is handed."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.batches: list[list[int]] = []

    def submit(self, batch: PointBatch) -> cf.Future[list[tuple[int, PointResult]]]:
        self.batches.append([index for index, _ in batch.points])
        return super().submit(batch)


def test_points_go_out_in_interleaved_batches_and_come_back_once_each(plan: SweepPlan) -> None:
    executor = CountingExecutor(workers=2)
    seen: list[int] = []
    indices = [i for i in range(plan.point_count) if i != 7]  # as a resume leaves them
    assert run_points(plan, executor, indices, lambda b: seen.extend(i for i, _ in b))
    assert sorted(seen) == indices
    size = batch_size(len(indices), 2)
    count = -(-len(indices) // size)
    assert size > 1 and len(executor.batches) == count
    sizes = [len(batch) for batch in executor.batches]
    assert max(sizes) - min(sizes) <= 1 and max(sizes) <= size
    # Every batch takes every count-th point: each spans the grid, first rows to last.
    assert executor.batches[0] == indices[0::count]
    assert all(batch == indices[n::count] for n, batch in enumerate(executor.batches))
    # The 2,500-point benchmark grid on two workers: tasks of many points, not one per point.
    assert batch_size(2_500, 2) >= 32
