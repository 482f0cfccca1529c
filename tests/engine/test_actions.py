"""User actions during a migration: the branch points of a run."""

import pytest
from pydantic import ValidationError

from app.engine import Scenario
from app.engine.examples import load_example

from .helpers import events, known, run


def test_raising_avail_switchover_bandwidth_lets_a_stuck_migration_finish_and_keeps_the_past():
    # With QEMU's defaults the 300 MB device never fits the threshold. At 6 s the user sets
    # avail-switchover-bandwidth: from the next window the threshold is 10 Gbit x 300 ms.
    doc = load_example("mlx5-300mb-default-params")
    # A 1 GiB guest and 10 s instead of the example's 8 GiB and 60 s: ~1,000 steps show the same.
    doc["guest"].update(ram_bytes="1 GiB", working_set_bytes="256 MiB")
    doc["max_time_ms"] = 10000
    base = run(doc)
    doc["actions"] = [
        {
            "at_ms": 6000,
            "kind": "set_parameters",
            "avail_switchover_bandwidth_bytes_per_s": "10 Gbit",
        }
    ]
    branch = run(doc)
    assert base.summary.status == "cancelled" and branch.summary.status == "completed"
    assert known(branch.summary.switchover_started_at_ms) >= 6000
    # Deterministic engine: everything before the action is identical.
    before = [s for s in branch.steps if s.end_ms < 6000]
    assert before and all(
        a.model_dump() == b.model_dump() for a, b in zip(before, base.steps, strict=False)
    )
    assert events(branch, "set_parameters")[0].side == "user"


def test_pausing_the_guest_opens_the_ack_gate():
    # migration_can_switchover is true when the guest is not running: a paused guest does
    # not wait for the ack that 8.1's serialization would never let come.
    doc = load_example("busy-guest-8.1")
    doc["actions"] = [{"at_ms": 6000, "kind": "pause_guest"}]
    t = run(doc)
    s = t.summary
    assert s.status == "completed" and s.ack_received_at_ms is None
    assert s.switchover_permitted_at_ms == pytest.approx(events(t, "guest_paused")[0].t_ms, abs=100)
    # The guest was already stopped: its downtime is longer than the one QEMU reports.
    assert known(s.guest_downtime_ms) > known(s.downtime_ms)
    # Unsent initial bytes go with the stop-copy data and load inside the downtime.
    assert s.downtime_breakdown_ms["dest_load_initial_bytes"] == pytest.approx(500, abs=1)
    paused = [e for e in events(t, "device_state") if e.t_ms >= 5000 and e.side == "source"]
    assert [(e.data["from"], e.data["to"]) for e in paused] == [
        ("PRE_COPY", "STOP_COPY")
    ]  # 8.1: no P2P, no STOP at cleanup


def test_cancel():
    doc = load_example("busy-guest-8.1")
    doc["actions"] = [{"at_ms": 3000, "kind": "cancel"}]
    t = run(doc)
    assert (
        t.summary.status == "cancelled"
        and "migrate_cancel issued by the user at 3000 ms" in t.summary.reason
    )
    assert t.steps[-1].devices[0].src_state == "RUNNING"


def test_action_validation_names_the_field():
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate({"actions": [{"at_ms": 1, "kind": "set_parameters"}]})
    assert "actions.0" in str(info.value)
    with pytest.raises(ValidationError):
        Scenario.model_validate(
            {"actions": [{"at_ms": 1, "kind": "cancel", "downtime_limit_ms": 5}]}
        )
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate(
            {
                "qemu_profile": "8.1",
                "actions": [
                    {
                        "at_ms": 1,
                        "kind": "set_parameters",
                        "avail_switchover_bandwidth_bytes_per_s": 5,
                    }
                ],
            }
        )
    assert "8.2" in str(info.value)
