from app.engine import Scenario
from app.engine.compare import difference, scenario_with_ack

from .helpers import run, scenario


def test_ack_on_and_off_touch_only_the_capability():
    sc = Scenario.model_validate(scenario(caps={"source": ["events"], "destination": []}))
    on = scenario_with_ack(sc, True)
    assert on.caps.source == ["events", "return-path", "switchover-ack"]
    assert on.caps.destination == ["return-path", "switchover-ack"]
    off = scenario_with_ack(on, False)
    assert "switchover-ack" not in off.caps.source + off.caps.destination
    assert off.guest == sc.guest and off.devices == sc.devices


def test_difference_when_a_run_did_not_complete():
    done = run(scenario())
    never = run(
        scenario(
            caps={"source": ["return-path", "switchover-ack"], "destination": ["return-path"]},
            max_time_ms=500,
        )
    )
    diff = difference(never.summary, done.summary)
    assert diff["downtime_ms"] is None and "cancelled" in diff["sentence"]
