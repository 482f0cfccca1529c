"""`migscope sweep`: real engine runs, real worker processes, files compared byte for byte."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.engine import Scenario, simulate
from app.engine.compare import scenario_with_ack
from app.engine.examples import load_example
from tests.sweeps.conftest import cli

GiB = 1024**3
VARY = [
    "--vary",
    "guest.ram_bytes=1GiB..8GiB:log:4",
    "--vary",
    "guest.dirty_rate_bytes_per_s=0,512MiB",
]


def sweep(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["sweep", *args])
    return result.exit_code, result.stdout, result.stderr


def test_results_are_the_same_bytes_whatever_the_workers(tmp_path: Path) -> None:
    outs = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}.csv"
        code, _, stderr = sweep(
            "--example",
            "mlx5-300mb-ack",
            *VARY,
            "--compare-ack",
            "--workers",
            workers,
            "--out",
            str(out),
            "--quiet",
        )
        assert code == 0, stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    rows = list(csv.DictReader(outs[0].decode().splitlines()))
    assert [int(r["index"]) for r in rows] == list(range(8))
    assert [
        (int(r["guest.ram_bytes"]), int(r["guest.dirty_rate_bytes_per_s"])) for r in rows[:3]
    ] == [(GiB, 0), (GiB, 512 * 1024**2), (2 * GiB, 0)]
    # 1 GiB cannot hold the example's 256 MiB working set with 80% zero pages: kept, with the reason.
    assert rows[0]["status"] == "invalid" and "working_set_bytes" in rows[0]["reason"]
    # Every other point matches a single run of the engine with the ack on and off.
    doc = load_example("mlx5-300mb-ack")
    doc["guest"].update(ram_bytes=8 * GiB, dirty_rate_bytes_per_s=512 * 1024**2)
    scenario = Scenario.model_validate(doc)
    on = simulate(scenario_with_ack(scenario, True)).summary
    off = simulate(scenario_with_ack(scenario, False)).summary
    last = rows[7]
    assert last["status"] == on.status and float(last["downtime_ms"]) == on.downtime_ms
    assert last["off_status"] == off.status and float(last["off_downtime_ms"]) == off.downtime_ms
    assert on.downtime_ms is not None and off.downtime_ms is not None
    assert float(last["ack_saves_ms"]) == round(off.downtime_ms - on.downtime_ms, 3)
    assert int(last["transferred_bytes"]) == on.transferred_bytes


def test_json_output_and_findings_table(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    code, stdout, _ = sweep(
        "--example",
        "mlx5-300mb-ack",
        "--vary",
        "guest.dirty_rate_bytes_per_s=0,1GiB",
        "--compare-ack",
        "--workers",
        "1",
        "--out",
        str(out),
        "--quiet",
    )
    assert code == 0
    doc = json.loads(out.read_text())
    assert doc["format"] == "migscope-sweep" and doc["point_count"] == 2
    assert [p["values"]["guest.dirty_rate_bytes_per_s"] for p in doc["points"]] == [0, GiB]
    assert doc["points"][0]["ack_saves_ms"] > 1000  # the headline: ~1480 ms moved out of downtime
    assert "ack helps most" in stdout and "no difference" in stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vary", "guest.nope=1..2"], "error: guest.nope: unknown field 'nope' in guest"),
        (["--vary", "guest.ram_bytes=1GiB..2Gibb"], "error: guest.ram_bytes: unknown unit 'Gibb'"),
        (["--vary", "guest.ram_bytes=2GiB..1GiB"], "error: guest.ram_bytes: empty range"),
        (
            ["--vary", "guest.ram_bytes=1GiB..2GiB:2000000"],
            "error: guest.ram_bytes: too many points (2000000; the limit is 1000000 per sweep)",
        ),
        ([], "error: give at least one --vary"),
        (["--vary", "seed=1,2", "--executor", "dask"], "error: --executor dask needs --scheduler"),
        (["--vary", "seed=1,2", "--executor", "ray"], "error: unknown executor 'ray'"),
        (
            ["--vary", "seed=1,2", "--out", "x.txt"],
            "error: --out x.txt: the file name must end in .csv or .json",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    code, stdout, stderr = sweep("--example", "mlx5-300mb-ack", *args, "--quiet")
    assert code == 2
    assert stderr.startswith(message) and stderr.count("\n") == 1
    assert stdout == ""


def test_stored_sweep_resumes_only_the_missing_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import delete
    from sqlmodel import Session, col

    from app.store.db import make_engine
    from app.store.models import Sweep, SweepPoint
    from app.store.sweeps import done_indices, set_status

    url = f"sqlite:///{tmp_path / 'm.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    full = tmp_path / "full.csv"
    code, _, stderr = sweep(
        "--example",
        "mlx5-300mb-ack",
        *VARY,
        "--workers",
        "1",
        "--store",
        "--quiet",
        "--out",
        str(full),
    )
    assert code == 0, stderr
    sweep_id = stderr.split()[1]
    engine = make_engine(url)
    # As if the process had died after five points: three rows gone, the sweep still running.
    with Session(engine) as session:
        session.execute(
            delete(SweepPoint).where(
                col(SweepPoint.sweep_id) == sweep_id, col(SweepPoint.index).in_([1, 4, 6])
            )
        )
        session.commit()
    set_status(engine, sweep_id, "running")
    resumed = tmp_path / "resumed.csv"
    code, _, stderr = sweep(
        "--resume", sweep_id, "--workers", "2", "--quiet", "--out", str(resumed)
    )
    assert code == 0, stderr
    assert resumed.read_bytes() == full.read_bytes()
    with Session(engine) as session:
        row = session.get(Sweep, sweep_id)
        assert row is not None and row.status == "completed" and row.done_count == 8
        assert done_indices(session, sweep_id) == set(range(8))
    code, _, stderr = sweep("--resume", sweep_id, "--quiet")
    assert code == 2 and "the sweep is completed; nothing to resume" in stderr
    code, _, stderr = sweep("--resume", "nope", "--quiet")
    assert code == 2 and "no such sweep" in stderr
    engine.dispose()
