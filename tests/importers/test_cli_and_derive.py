"""`migscope import` end to end on a real SQLite store, and "Simulate this" through the real engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from typer.testing import CliRunner

from app.cli import cli
from app.engine import Scenario, simulate
from app.importers.derive import derive_scenario
from app.store.db import make_engine
from app.store.models import Run
from app.store.runs import load_trace

from .helpers import CONSTRUCTED, REAL, import_constructed, import_info, import_real

RUN = "q100-w64-r2048-bw128-dt300-1"


@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'migscope.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def _run_count(url: str) -> int:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return int(session.exec(select(func.count()).select_from(Run)).one()[0])  # type: ignore[call-overload]
    except OperationalError:  # the schema does not exist yet: nothing was stored
        return 0
    finally:
        engine.dispose()


def test_import_json_stores_the_run_and_prints_the_simulate_keys(sqlite_url: str) -> None:
    base = REAL / RUN
    result = CliRunner().invoke(
        cli,
        [
            "import",
            f"{base}.src.trace.log",
            f"{base}.dst.trace.log",
            "--query-migrate",
            f"{base}.query-migrate.jsonl",
            "--events",
            f"{base}.src.events.jsonl",
            "--dst-events",
            f"{base}.dst.events.jsonl",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"id", "url", "summary"}
    assert doc["url"] == f"http://127.0.0.1:8000/runs/{doc['id']}"
    example = _an_example()
    sim = CliRunner().invoke(
        cli, ["simulate", "--json", *(["--example", example] if example else [])]
    )
    assert sim.exit_code == 0, sim.output
    assert set(json.loads(sim.stdout)) == set(doc["summary"])
    assert (
        doc["summary"]["downtime_ms"] == 17.0 and doc["summary"]["vfio_transferred_bytes"] is None
    )
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        stored = load_trace(session, doc["id"])
    engine.dispose()
    assert stored is not None and stored.source == "import"
    assert stored.summary.dirty_sync_count == 3
    assert import_info(stored)["clock"]["offset_ms"] == 0.0


def _an_example() -> str | None:
    try:
        from app.engine.examples import EXAMPLES
    except ImportError:
        return None
    return min(EXAMPLES) if EXAMPLES else None


def test_text_output_ends_with_the_url(sqlite_url: str) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "import",
            str(CONSTRUCTED / "vfio81-hex-one-device.src.trace.log"),
            str(CONSTRUCTED / "vfio81-hex-one-device.dst.trace.log"),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith("http://127.0.0.1:8000/runs/")
    assert any("clock offset      +2500.000 ms" in line for line in lines)


def test_bad_input_exits_2_names_file_and_line_and_stores_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    bad = tmp_path / "src.log"
    bad.write_text(
        "1@1.000000:migrate_set_state new state setup\n1@1.000001:migrate_pending_estimate estimate pending size ??\n"
    )
    result = CliRunner().invoke(cli, ["import", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:2: expected `migrate_pending_estimate estimate pending size <n>" in result.stderr
    assert _run_count(sqlite_url) == 0


def test_file_with_nothing_usable_is_an_error(sqlite_url: str, tmp_path: Path) -> None:
    empty = tmp_path / "notes.txt"
    empty.write_text("just some text\nnothing from QEMU here\n")
    result = CliRunner().invoke(cli, ["import", str(empty)])
    assert result.exit_code == 2
    assert "none found in 2 lines" in result.stderr
    assert _run_count(sqlite_url) == 0


def test_derived_scenario_runs_in_the_engine_and_marks_its_origin() -> None:
    trace = import_real(RUN)
    provenance = trace.resolved["provenance"]
    assert provenance["guest.ram_bytes"] == "derived-from-log"
    assert provenance["params.max_bandwidth_bytes_per_s"] == "derived-from-log"
    assert provenance["params.downtime_limit_ms"] == "derived-from-log"
    assert provenance["link.bandwidth_bytes_per_s"] == "default"
    scenario = Scenario.model_validate(trace.scenario)
    assert scenario.guest.ram_bytes == 537403392
    assert scenario.params.max_bandwidth_bytes_per_s == 128 * 1024**2
    assert scenario.params.downtime_limit_ms == 300
    assert scenario.qemu_profile == "10.0"
    simulated = simulate(scenario)
    assert simulated.source == "simulation" and simulated.summary.status in (
        "completed",
        "failed",
        "cancelled",
    )


def test_derived_devices_take_sizes_from_the_log_and_the_rest_from_a_preset() -> None:
    trace = import_constructed("vfio100-dec-two-devices")
    devices = trace.scenario["devices"]
    assert [d["name"] for d in devices] == ["0000:17:00.2", "0000:17:00.3"]
    assert (
        devices[0]["initial_bytes"] == 3 * 1024**2 and devices[0]["stop_copy_bytes"] == 6 * 1024**2
    )
    provenance = trace.resolved["provenance"]
    assert provenance["devices.0.initial_bytes"] == "derived-from-log"
    assert provenance["devices.0.preset"].startswith("from-preset:")
    simulate(Scenario.model_validate(trace.scenario))


def test_every_observed_figure_lands_in_the_scenario_and_out_of_range_is_clamped() -> None:
    trace = import_real(RUN)
    assert trace.import_info is not None
    observed = {
        "ram_total_bytes": 1,  # below the engine's 64 MiB
        "zero_page_fraction": 0.25,
        "dirty_rate_bytes_per_s": 5_000_000.7,  # taken as whole bytes
        "vm_stop_ms": 10.12345,  # taken to 3 places
        "vm_start_ms": 10**9,  # above the 600 s a cost may be
        "setup_ms": 2.0,
        "max_bandwidth_bytes_per_s": 64 * 1024**2,
        "downtime_limit_ms": 250,
    }
    trace.import_info["observed"] = {key: {"value": value} for key, value in observed.items()}
    derived = derive_scenario(trace)
    guest, params = derived["scenario"]["guest"], derived["scenario"]["params"]
    assert guest["ram_bytes"] == 64 * 1024**2
    assert guest["zero_page_fraction"] == 0.25
    assert guest["dirty_rate_bytes_per_s"] == 5_000_000
    assert (guest["vm_stop_ms"], guest["vm_start_ms"], guest["setup_ms"]) == (10.123, 600_000, 2)
    assert params["max_bandwidth_bytes_per_s"] == 64 * 1024**2
    assert params["downtime_limit_ms"] == 250
    provenance = derived["provenance"]
    assert provenance["guest.ram_bytes"] == "derived-from-log (clamped)"
    assert provenance["guest.vm_start_ms"] == "derived-from-log (clamped)"
    for path in ("guest.zero_page_fraction", "guest.vm_stop_ms", "params.downtime_limit_ms"):
        assert provenance[path] == "derived-from-log"


@pytest.mark.parametrize(
    "run",
    [
        "q100-w64-r2048-bw128-dt300-1",
        "q100-w256-r2048-bw32-dt300-1",
        "q100-w256-r12288-bw128-dt100-1",
    ],
)
def test_simulate_this_lands_near_the_real_run(run: str) -> None:
    """The derived scenario (RAM, zero pages, dirty rate, max-bandwidth, downtime-limit, VM
    stop/start costs from the log) reproduces the real total time within 15%."""
    real = import_real(run)
    observed = import_info(real)["observed"]
    assert {
        "ram_total_bytes",
        "zero_page_fraction",
        "dirty_rate_bytes_per_s",
        "max_bandwidth_bytes_per_s",
        "downtime_limit_ms",
        "vm_stop_ms",
        "vm_start_ms",
        "setup_ms",
    } <= set(observed)
    simulated = simulate(Scenario.model_validate(real.scenario)).summary
    assert simulated.status == "completed"
    assert real.summary.total_time_ms is not None and simulated.total_time_ms is not None
    assert (
        abs(simulated.total_time_ms - real.summary.total_time_ms)
        <= 0.15 * real.summary.total_time_ms
    )
