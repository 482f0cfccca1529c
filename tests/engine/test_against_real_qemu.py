"""The engine against real QEMU 10.0 migrations (tests/fixtures/qemu, RAM only, TCG guest on
one host over TCP loopback; see the README there). The guest program cycles through W MiB at
R pages/s (our `sequential` pattern); the kernel and initramfs add ~70 MiB of non-zero pages.

With no VFIO device these runs exercise the RAM side of the model: the bulk pass at
max-bandwidth, the threshold from the measured window, re-syncs when the estimate drops
under it, and convergence. Outcome, total time (15%), dirty-sync count (within 1) and bytes sent (10%) must match; the same
checks are rows of `migscope fidelity` (app/fidelity.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.engine import Scenario, simulate
from app.fidelity import fixture_scenario  # the one replica rule, shared with `migscope fidelity`

from .helpers import known

FIXTURES = Path(__file__).parent.parent / "fixtures" / "qemu"
RUNS = sorted(p.name[: -len(".info.json")] for p in FIXTURES.glob("*.info.json"))


def final_reply(name: str) -> dict:
    lines = (FIXTURES / f"{name}.query-migrate.jsonl").read_text().strip().splitlines()
    return json.loads(lines[-1])["return"]


def last_counters(name: str) -> dict:
    """The last reply that has RAM counters (a cancelled run's final reply has none)."""
    lines = (FIXTURES / f"{name}.query-migrate.jsonl").read_text().strip().splitlines()
    return next(r for r in (json.loads(line)["return"] for line in reversed(lines)) if "ram" in r)


def test_all_four_runs_are_here():
    assert len(RUNS) == 4


@pytest.mark.parametrize("name", RUNS)
def test_engine_matches_real_qemu(name):
    info = json.loads((FIXTURES / f"{name}.info.json").read_text())
    trace = simulate(Scenario.model_validate(fixture_scenario(info)))
    real = final_reply(name)
    s = trace.summary
    assert s.status == real["status"]
    assert (
        s.ack_received_at_ms is not None and s.ack_received_at_ms < 1.0
    )  # no device: immediate ack
    ram = last_counters(name)["ram"]
    assert abs(s.dirty_sync_count - ram["dirty-sync-count"]) <= 1
    assert s.transferred_bytes == pytest.approx(ram["transferred"], rel=0.10)
    if real["status"] != "completed":
        assert info["cancelled_after_s"] >= 30 and known(s.total_time_ms) >= 30000
        return
    assert s.total_time_ms == pytest.approx(real["total-time"], rel=0.15)
    # Downtime: a few ms for this guest in QEMU; within 10 ms here.
    assert abs(s.downtime_ms - real["downtime"]) < 10
