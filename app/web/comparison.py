"""Two runs side by side: the rules the compare API and the pages share.

The reading of a switchover-ack on/off pair is the engine's (app.engine.compare): one rule in
one place, so the CLI, the API and the compare page say the same. That includes the direction
of every difference: A - B, as `app.engine.compare.difference` reads a pair (a with the ack,
b without), so a shorter downtime with the ack is a negative number on every layer.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.engine.compare import difference, scenario_with_ack
from app.engine.scenario import LIMITS, Scenario
from app.engine.trace import Summary

ACK_LABEL_CHARS = len(" [switchover-ack off]")


def ack_pair(scenario: Scenario) -> list[Scenario]:
    """[on, off]: the engine's own rule (app.engine.compare.scenario_with_ack) for both sides.

    The engine appends " [switchover-ack on/off]" to the title; a title already near the
    200-character limit is shortened first so that a valid scenario stays valid.
    """
    room = LIMITS["title_chars"] - ACK_LABEL_CHARS
    if len(scenario.title) > room:
        scenario = scenario.model_copy(update={"title": scenario.title[:room]})
    return [scenario_with_ack(scenario, True), scenario_with_ack(scenario, False)]


def ack_sentence(a: Summary, b: Summary) -> str:
    """The engine's one-sentence reading of an on/off pair (it only looks at the summaries)."""
    return str(difference(a, b)["sentence"])


# The figures compared, in the order the compare page lists them.
SUMMARY_METRICS = (
    "downtime_ms",
    "guest_downtime_ms",
    "downtime_limit_ms",
    "total_time_ms",
    "setup_time_ms",
    "ack_received_at_ms",
    "switchover_permitted_at_ms",
    "switchover_started_at_ms",
    "passes",
    "dirty_sync_count",
    "transferred_bytes",
    "vfio_transferred_bytes",
)
DEVICE_METRICS = (
    "initial_bytes",
    "init_data_sent_at_ms",
    "init_data_loaded_at_ms",
    "precopy_bytes",
    "stop_copy_bytes",
)
DELTA_DESCRIPTION = (
    "a - b, the engine's direction (app.engine.compare.difference); null when either is unknown"
)


class MetricDiff(BaseModel):
    a: int | float | None
    b: int | float | None
    delta: int | float | None = Field(description=DELTA_DESCRIPTION)


class DeviceDiff(BaseModel):
    name: str
    in_a: bool
    in_b: bool
    metrics: dict[str, MetricDiff]


class CompareDiff(BaseModel):
    status: dict[str, str]
    sentence: str = Field(
        description="the difference in one sentence, reading a as ack on and b as off"
    )
    summary: dict[str, MetricDiff]
    downtime_components_ms: dict[str, MetricDiff] = Field(
        description="every component of either run's downtime breakdown; a component a run "
        "does not have counts as 0 ms in the delta (the engine's rule)"
    )
    devices: list[DeviceDiff] = Field(description="matched by name: a's devices, then b's")


def metric(a: int | float | None, b: int | float | None) -> MetricDiff:
    """One figure of both runs and a - b, rounded to 3 places like the engine's differences."""
    return MetricDiff(a=a, b=b, delta=None if a is None or b is None else round(a - b, 3))


def compare_summaries(a: Summary, b: Summary) -> CompareDiff:
    """Every difference between two runs, a - b: the one function the compare API and the
    compare page both show (per figure, per downtime component and per device by name)."""
    # Per-component differences are the engine's own (app.engine.compare.difference).
    by_component = difference(a, b)["downtime_breakdown_ms"]
    devices_a = {device.name: device for device in a.devices}
    devices_b = {device.name: device for device in b.devices}
    devices: list[DeviceDiff] = []
    for name in dict.fromkeys([*devices_a, *devices_b]):
        da, db = devices_a.get(name), devices_b.get(name)
        devices.append(
            DeviceDiff(
                name=name,
                in_a=da is not None,
                in_b=db is not None,
                metrics={
                    key: metric(getattr(da, key) if da else None, getattr(db, key) if db else None)
                    for key in DEVICE_METRICS
                },
            )
        )
    return CompareDiff(
        status={"a": a.status, "b": b.status},
        sentence=ack_sentence(a, b),
        summary={key: metric(getattr(a, key), getattr(b, key)) for key in SUMMARY_METRICS},
        downtime_components_ms={
            key: MetricDiff(
                a=a.downtime_breakdown_ms.get(key),
                b=b.downtime_breakdown_ms.get(key),
                delta=delta,
            )
            for key, delta in by_component.items()
        },
        devices=devices,
    )
