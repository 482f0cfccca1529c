"""A sweep on a real Dask cluster (LocalCluster with two worker processes), not a mock: the
same bytes as a run in this process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.sweeps.conftest import cli

VARY = ["--vary", "link.latency_ms=0.1,1,5", "--vary", "guest.dirty_rate_bytes_per_s=0,1GiB"]


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    from distributed import LocalCluster

    cluster = LocalCluster(
        processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None, host="127.0.0.1"
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_dask_sweep_gives_the_same_bytes_as_one_process(scheduler: str, tmp_path: Path) -> None:
    outputs = []
    for args in (["--workers", "1"], ["--executor", "dask", "--scheduler", scheduler]):
        out = tmp_path / f"{args[1]}.json"
        result = CliRunner().invoke(
            cli,
            [
                "sweep",
                "--example",
                "mlx5-300mb-ack",
                *VARY,
                "--compare-ack",
                "--quiet",
                "--out",
                str(out),
                *args,
            ],
        )
        assert result.exit_code == 0, result.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b'"index"') == 6


def test_dask_executor_reports_the_cluster_workers(scheduler: str) -> None:
    from app.engine import Scenario
    from app.engine.examples import load_example
    from app.sweeps.executors import DaskExecutor, InlineExecutor
    from app.sweeps.plan import plan_sweep
    from app.sweeps.run import run_all

    plan = plan_sweep(
        Scenario.model_validate(load_example("zero-devices")),
        ["seed=1,2,3"],
        compare_ack=False,
        max_points=10,
    )
    executor = DaskExecutor(scheduler)
    try:
        assert executor.workers == 2
        assert run_all(plan, executor) == run_all(plan, InlineExecutor())
    finally:
        executor.close()


def test_unreachable_scheduler_is_one_line_and_exit_2() -> None:
    result = CliRunner().invoke(
        cli,
        [
            "sweep",
            "--example",
            "zero-devices",
            "--vary",
            "seed=1,2",
            "--quiet",
            "--executor",
            "dask",
            "--scheduler",
            "tcp://127.0.0.1:9",
        ],
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot reach the Dask scheduler tcp://127.0.0.1:9")
    assert result.stderr.count("\n") == 1
    # Said at once (nothing listens on port 9), not after Dask's 10 s of retries.
    assert "the connection was refused: nothing listens on that port" in result.stderr
