"""Chart builders: markers for every event that matters, a cursor, a fixed uirevision."""

from __future__ import annotations

import itertools
from typing import Any

from app.engine.examples import load_example
from app.engine.scenario import Scenario
from app.engine.simulation import simulate
from app.web.charts import components
from app.web.charts import figures as charts
from app.web.charts.run_series import series_from_steps


def _trace():
    return simulate(Scenario.model_validate(load_example("two-mlx5-vfs")))


def test_device_chart_marks_ack_and_switchover_unmistakably() -> None:
    trace = _trace()
    fig = charts.device_chart(series_from_steps(trace.steps), trace.events, cursor_ms=123.0)
    kinds = {t["meta"]["event_kind"] for t in fig["data"] if "event_kind" in t.get("meta", {})}
    assert {
        "init_data_sent",
        "init_data_loaded",
        "ack_sent",
        "ack_received",
        "switchover_permitted",
        "vm_stop",
        "vm_start",
    } <= kinds
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


def test_downtime_timeline_lanes_segments_in_order_with_ms() -> None:
    summary = _trace().summary.model_dump()
    fig = charts.downtime_chart([("run", summary)])
    bars = [t for t in fig["data"] if t["type"] == "bar"]
    # Segments follow one another from VM stop: each starts where the previous one ended.
    segments = sorted((t["base"][0], t["x"][0], t["meta"]["component"], t["y"][0]) for t in bars)
    assert segments[0][0] == 0.0
    for (start, ms, _, _), (following, *_rest) in itertools.pairwise(segments):
        assert abs(start + ms - following) < 1e-6
    assert abs(segments[-1][0] + segments[-1][1] - summary["downtime_ms"]) < 1.0
    # Lanes, plain names, the internal name on hover, and the ms written on every segment.
    assert {row for *_x, row in segments} <= {"source", "stream / return path", "destination"}
    for t in bars:
        part = components.component(t["meta"]["component"])
        assert t["name"] == part.label and "_" not in t["name"]
        assert t["meta"]["component"] in t["hovertemplate"]
        assert t["text"][0].endswith(" ms") or t["x"][0] < 0.5
        assert t["marker"]["color"] == part.colour
    limit = [s for s in fig["layout"]["shapes"] if s["name"] == "downtime_limit"]
    assert limit and limit[0]["x0"] == summary["downtime_limit_ms"]


def test_every_page_draws_a_component_the_same_way() -> None:
    summary = _trace().summary.model_dump()
    alone = charts.downtime_chart([("run", summary)])
    pair = charts.downtime_chart([("A", summary), ("B", summary)])

    def style(fig: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
        return {
            t["meta"]["component"]: (
                t["name"],
                t["marker"]["color"],
                t["marker"]["pattern"]["shape"],
            )
            for t in fig["data"]
            if t["type"] == "bar"
        }

    assert style(alone) == style(pair)
    assert len({c.colour + c.pattern for c in components.COMPONENTS.values()}) == len(
        components.COMPONENTS
    )


def test_a_run_that_never_stopped_the_vm_says_why_it_has_no_downtime() -> None:
    summary = simulate(Scenario.model_validate(load_example("busy-guest-8.1"))).summary.model_dump()
    fig = charts.downtime_chart([("run", summary)])
    texts = " ".join(a["text"] for a in fig["layout"]["annotations"])
    assert "no downtime: the run cancelled before the VM stopped" in texts


def test_device_names_are_text_inside_charts() -> None:
    series = {"devices": {"<b>x</b>": {"init_est_bytes": {"x_ms": [0, 1], "y": [2, 1]}}}}
    fig = charts.device_chart(series, [])
    assert fig["data"][0]["name"] == "&lt;b&gt;x&lt;/b&gt;: initial at source"
    assert fig["data"][0]["meta"]["device"] == "<b>x</b>"
    event = {
        "t_ms": 1.0,
        "step": 0,
        "kind": "init_data_sent",
        "side": "source",
        "device": "<b>x</b>",
        "detail": "<b>x</b>: INIT_DATA_SENT",
        "qemu_function": "f",
    }
    marker = charts.device_chart(series, [event])["data"][-1]
    assert "<b>" not in marker["text"][0] and "&lt;b&gt;x&lt;/b&gt;" in marker["text"][0]


def test_devices_with_equal_figures_stay_visible() -> None:
    trace = _trace()
    fig = charts.device_chart(series_from_steps(trace.steps), trace.events)
    sources = [t for t in fig["data"] if t.get("meta", {}).get("series") == "init_source"]
    loaded = [t for t in fig["data"] if t.get("meta", {}).get("series") == "init_loaded"]
    assert len({t["line"]["width"] for t in sources}) == len(sources) == 2
    assert len({t["line"]["dash"] for t in loaded}) == 2


def test_markers_carry_their_step_for_a_click() -> None:
    trace = _trace()
    fig = charts.device_chart(series_from_steps(trace.steps), trace.events)
    ack = next(t for t in fig["data"] if t.get("meta", {}).get("event_kind") == "ack_received")
    assert ack["customdata"] == [e.step for e in trace.events if e.kind == "ack_received"]


def test_story_window_opens_on_the_decisions() -> None:
    trace = simulate(Scenario.model_validate(load_example("reference-bench")))
    total = trace.summary.total_time_ms
    assert total is not None
    window = charts.story_window(trace.events, total)
    assert window is not None
    first_init = next(e.t_ms for e in trace.events if e.kind == "init_data_sent")
    vm_start = next(e.t_ms for e in trace.events if e.kind == "vm_start")
    assert window[0] < first_init and window[1] > vm_start
    assert window[1] - window[0] < 0.2 * total


def test_palette_is_okabe_ito_and_markers_differ_in_shape() -> None:
    symbols = [m["symbol"] for m in charts.MARKERS.values()]
    assert len(set(symbols)) == len(symbols)
    assert set(charts.OKABE_ITO.values()) >= {
        "#E69F00",
        "#56B4E9",
        "#009E73",
        "#0072B2",
        "#D55E00",
        "#CC79A7",
    }
