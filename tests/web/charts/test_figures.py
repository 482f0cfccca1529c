"""Chart builders: markers for every event that matters, a cursor, a fixed uirevision."""

from __future__ import annotations

from app.engine.examples import load_example
from app.engine.scenario import Scenario
from app.engine.simulation import simulate
from app.web.charts import figures as charts
from app.web.charts.run_series import series_from_steps


def _trace():
    return simulate(Scenario.model_validate(load_example("two-mlx5-vfs")))


def test_device_chart_marks_ack_and_switchover_unmistakably() -> None:
    trace = _trace()
    fig = charts.device_chart(series_from_steps(trace.steps), trace.events, cursor_ms=123.0)
    kinds = {t["meta"]["event_kind"] for t in fig["data"] if "event_kind" in t.get("meta", {})}
    assert {"init_data_sent", "init_data_loaded", "ack_sent", "ack_received", "switchover_permitted",
            "vm_stop", "vm_start"} <= kinds
    lines = {s["name"] for s in fig["layout"]["shapes"]}
    assert {"event:ack_received", "event:switchover_permitted", "cursor"} <= lines
    labels = {a["text"] for a in fig["layout"]["annotations"]}
    assert "<b>ACK received</b>" in labels and "<b>switchover permitted</b>" in labels
    cursor = next(s for s in fig["layout"]["shapes"] if s["name"] == "cursor")
    assert cursor["x0"] == 0.123
    assert fig["layout"]["uirevision"] == charts.UIREVISION
    names = [t["name"] for t in fig["data"]]
    assert sum(n.endswith("initial at source") for n in names) == 2


def test_lane_chart_keeps_every_non_periodic_event() -> None:
    trace = _trace()
    fig = charts.lane_chart(trace.events)
    drawn = sum(len(t["x"]) for t in fig["data"] if "event_kind" in t.get("meta", {}))
    expected = sum(1 for e in trace.events if e.kind != "window")
    assert drawn == expected
    messages = {t["meta"]["message"] for t in fig["data"] if "message" in t.get("meta", {})}
    assert {"init_data_sent", "ack_sent"} <= messages


def test_downtime_chart_stacks_components_beside_the_limit() -> None:
    summary = _trace().summary.model_dump()
    fig = charts.downtime_chart([("run", summary)])
    bars = [t for t in fig["data"] if t["type"] == "bar"]
    assert abs(sum(t["x"][0] for t in bars) - summary["downtime_ms"]) < 1.0
    limit = next(t for t in fig["data"] if t.get("meta", {}).get("series") == "downtime_limit")
    assert limit["x"] == [summary["downtime_limit_ms"]]


def test_palette_is_okabe_ito_and_markers_differ_in_shape() -> None:
    symbols = [m["symbol"] for m in charts.MARKERS.values()]
    assert len(set(symbols)) == len(symbols)
    assert set(charts.OKABE_ITO.values()) >= {"#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7"}
