import pytest

from app.engine import Scenario, simulate
from app.engine.examples import EXAMPLES, load_example

EXPECTED_STATUS = {
    "ack-source-only": "failed",
    "busy-guest-8.1": "cancelled",
    "mlx5-300mb-ack": "completed",
    "mlx5-300mb-default-params": "cancelled",
    "pensando-no-precopy": "completed",
    "reference-bench": "completed",
    "reinit-2026": "completed",
    "stop-copy-query-fails": "cancelled",
    "two-mlx5-vfs": "completed",
    "zero-devices": "completed",
}


def test_every_example_is_listed_here():
    assert set(EXAMPLES) == set(EXPECTED_STATUS)


@pytest.mark.parametrize("name", sorted(EXPECTED_STATUS))
def test_example_runs_to_its_documented_outcome(name):
    doc = load_example(name)
    assert doc["title"] and doc["description"]
    trace = simulate(Scenario.model_validate(doc))
    assert trace.summary.status == EXPECTED_STATUS[name], trace.summary.reason


def test_load_example_returns_a_copy():
    a = load_example("zero-devices")
    a["title"] = "changed"
    assert load_example("zero-devices")["title"] != "changed"
    with pytest.raises(KeyError):
        load_example("nope")
