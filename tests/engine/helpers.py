"""Small scenario builders for engine tests."""

from __future__ import annotations

from copy import deepcopy
from typing import Any, TypeVar

from app.engine import Scenario, Trace, simulate
from app.engine.examples import load_example

BOTH = ["return-path", "switchover-ack"]

T = TypeVar("T")


def known(value: T | None) -> T:
    """A summary or step figure the test expects the engine to have set (None is "unknown"
    in traces): fails the test if it is None, and gives mypy the narrowed type."""
    assert value is not None, "expected a figure, got None (unknown)"
    return value


def scenario(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "title": "test",
        "qemu_profile": "10.1",
        "guest": {
            "ram_bytes": "2 GiB",
            "dirty_rate_bytes_per_s": "8 MiB",
            "working_set_bytes": "128 MiB",
            "zero_page_fraction": 0.8,
        },
        "link": {"bandwidth_bytes_per_s": "10 Gbit", "latency_ms": 0.1},
        "params": {"downtime_limit_ms": 300, "max_bandwidth_bytes_per_s": "1 GiB"},
        "caps": {"source": list(BOTH), "destination": list(BOTH)},
        "devices": [],
        "max_time_ms": 20000,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(doc.get(key), dict):
            doc[key] = {**doc[key], **deepcopy(value)}
        else:
            doc[key] = deepcopy(value)
    return doc


def run(doc: dict[str, Any]) -> Trace:
    return simulate(Scenario.model_validate(doc))


def run_example(name: str, **overrides: Any) -> Trace:
    doc = load_example(name)
    doc.update(overrides)
    return run(doc)


def events(trace: Trace, kind: str, device: str | None = None) -> list[Any]:
    return [e for e in trace.events if e.kind == kind and (device is None or e.device == device)]
