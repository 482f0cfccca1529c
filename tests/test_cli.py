"""The CLI as users run it: a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.engine.examples import example_path

SUMMARY_KEYS = {
    "status",
    "reason",
    "total_time_ms",
    "setup_time_ms",
    "downtime_ms",
    "guest_downtime_ms",
    "downtime_breakdown_ms",
    "dirty_sync_count",
    "transferred_bytes",
    "vfio_transferred_bytes",
    "ack_received_at_ms",
    "switchover_permitted_at_ms",
    "switchover_started_at_ms",
    "passes",
    "devices",
}


def migscope(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_simulate_json_has_the_documented_keys():
    out = migscope("simulate", str(example_path("mlx5-300mb-ack")), "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert set(summary) >= SUMMARY_KEYS
    assert summary["status"] == "completed"
    assert set(summary["devices"][0]) >= {
        "name",
        "init_data_sent_at_ms",
        "init_data_loaded_at_ms",
        "stop_copy_bytes",
    }
    assert abs(sum(summary["downtime_breakdown_ms"].values()) - summary["downtime_ms"]) < 1e-6


def test_simulate_text_summary_uses_human_units():
    out = migscope("simulate", "--example", "mlx5-300mb-ack")
    assert out.returncode == 0, out.stderr
    assert "downtime (QEMU)" in out.stdout and "MiB" in out.stdout and " ms" in out.stdout


def test_compare_ack_prints_both_and_the_difference():
    out = migscope("simulate", "--example", "mlx5-300mb-ack", "--compare-ack", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    on, off = doc["ack_on"], doc["ack_off"]
    assert on["downtime_ms"] < off["downtime_ms"]
    assert doc["difference"]["downtime_ms"] == round(on["downtime_ms"] - off["downtime_ms"], 3)
    assert "With switchover-ack the downtime is" in doc["difference"]["sentence"]


def test_simulate_every_pass_keeps_one_step_per_pass(tmp_path: Path):
    """--every-pass: the trace has one step per pre-copy pass; the summary is the same."""
    traces = {}
    for flag in ((), ("--every-pass",)):
        out_file = tmp_path / f"trace{len(flag)}.json"
        out = migscope(
            "simulate", "--example", "stop-copy-query-fails", "--trace", str(out_file), *flag
        )
        assert out.returncode == 0, out.stderr
        traces[bool(flag)] = (json.loads(out_file.read_text()), out.stdout)
    (collapsed, collapsed_text), (every, every_text) = traces[False], traces[True]
    assert every["summary"] == collapsed["summary"]
    passes = every["summary"]["passes"]
    assert passes > 10_000
    every_pass_steps = sum(1 for step in every["steps"] if step["phase"] == "iterate")
    collapsed_pass_steps = sum(1 for step in collapsed["steps"] if step["phase"] == "iterate")
    assert every_pass_steps == passes > 100 * collapsed_pass_steps
    assert len(every["steps"]) > 100 * len(collapsed["steps"])
    assert f"steps             {len(every['steps']):,}: every pass" in every_text
    assert (
        f"steps             {len(collapsed['steps']):,}: alike passes collapsed: "
        f"{collapsed_pass_steps:,} steps stand for {passes:,} pre-copy passes"
    ) in collapsed_text
    out = migscope("simulate", "--help")
    assert "--every-pass" in out.stdout


def test_invalid_scenario_exits_2_naming_the_field(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"guest": {"ram_bytes": "8 XB"}, "params": {"downtime_limit_ms": -1}})
    )
    out = migscope("simulate", str(bad))
    assert out.returncode == 2
    assert "guest.ram_bytes" in out.stderr and "params.downtime_limit_ms" in out.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"title": "x",\n "guest": }')
    out = migscope("simulate", str(broken))
    assert out.returncode == 2 and "line 2" in out.stderr


def test_schema_and_presets():
    out = migscope("schema")
    assert (
        out.returncode == 0
        and "ram_bytes" in json.loads(out.stdout)["$defs"]["Guest"]["properties"]
    )
    out = migscope("presets")
    assert out.returncode == 0 and "mlx5-cx7-vf-300mb" in out.stdout and "published" in out.stdout


# The store's and the web's libraries: a command that never touches the database or the web
# must not import them (they were most of `migscope simulate`'s start-up).
HEAVY_MODULES = ("sqlalchemy", "sqlmodel", "alembic", "fastapi", "starlette", "uvicorn", "jinja2")


def imported_after(*args: str) -> set[str]:
    """Run the console script's main() with args in a fresh interpreter; the top-level packages
    it imported."""
    code = (
        "import contextlib, io, json, sys\n"
        "from app.cli import main\n"
        f"sys.argv = ['migscope', *{list(args)!r}]\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as end:\n"
        "        assert not end.code, end.code\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_simulate_imports_neither_the_store_nor_the_web():
    for args in (
        ("simulate", "--example", "mlx5-300mb-ack", "--json"),
        ("simulate", "--example", "mlx5-300mb-ack", "--every-pass"),
        ("simulate", "--help"),
        ("schema",),
    ):
        loaded = imported_after(*args)
        assert "app" in loaded and "pydantic" in loaded  # the probe sees real imports
        assert loaded.isdisjoint(HEAVY_MODULES), (args, sorted(loaded & set(HEAVY_MODULES)))


def test_a_sweep_without_store_imports_neither_the_store_nor_the_web(tmp_path: Path):
    out = tmp_path / "s.csv"
    loaded = imported_after(
        "sweep",
        "--example",
        "zero-devices",
        "--vary",
        "seed=1,2",
        "--workers",
        "1",
        "--quiet",
        "--out",
        str(out),
    )
    assert len(out.read_text().splitlines()) == 3  # header and two points
    assert loaded.isdisjoint(HEAVY_MODULES), sorted(loaded & set(HEAVY_MODULES))


def test_db_command_still_loads_the_store(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "db", "upgrade"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATABASE_URL": url},
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "database schema: empty ->" in out.stdout


def test_the_command_table_names_exactly_what_the_parts_register():
    from app.cli import COMMANDS, part_commands

    registered: dict[str, object] = {}
    for part in dict.fromkeys(COMMANDS.values()):
        for name in part_commands(part):
            assert name not in registered, f"{name} registered twice"
            registered[name] = part
    assert registered == COMMANDS
    # Unknown commands are still refused, with a suggestion built without importing them all.
    out = migscope("simulat")
    assert out.returncode == 2 and "simulate" in out.stderr
