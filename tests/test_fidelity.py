"""`migscope fidelity`: every check of the engine against real runs, published figures and
mechanisms must pass; a failing row fails this test (and so `make test`)."""

from __future__ import annotations

import json
import subprocess
import sys

from app.engine import Scenario
from app.fidelity import FidelityRow, exit_code, fidelity_rows, format_table


def test_every_fidelity_row_passes() -> None:
    rows = fidelity_rows()
    failed = [
        f"{r.check}: reference {r.reference}, engine {r.engine}" for r in rows if not r.passed
    ]
    assert not failed, "\n".join(failed)
    kinds = {r.source_kind for r in rows}
    assert kinds == {"fixture run", "published figure", "mechanism"}
    assert (
        sum(r.source_kind == "fixture run" for r in rows) == 16
    )  # 4 runs x outcome, time, syncs, bytes
    # Each row names a scenario another layer can run and store.
    for row in rows:
        Scenario.model_validate(row.scenario)
        if row.compare_scenario is not None:
            Scenario.model_validate(row.compare_scenario)


def test_rows_are_deterministic() -> None:
    a = [r.as_dict() for r in fidelity_rows()]
    b = [r.as_dict() for r in fidelity_rows()]
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_a_failing_row_is_shown_and_gives_a_non_zero_exit() -> None:
    good = FidelityRow("a check", "mechanism", "somewhere", "1 ms", "1 ms", True, {})
    bad = FidelityRow("another check", "published figure", "a paper", "100 ms", "300 ms", False, {})
    assert exit_code([good]) == 0 and exit_code([good, bad]) == 1
    table = format_table([good, bad])
    assert "FAIL" in table and "1 of 2 checks pass; 1 FAIL" in table
    assert "published figure: a paper" in table


def test_the_cli_prints_one_table_and_exits_zero() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "fidelity"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["check", "reference"]
    assert "engine" in lines[0] and "result" in lines[0]
    assert lines[-1].endswith("checks pass")
