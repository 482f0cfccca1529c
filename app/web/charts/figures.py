"""Plotly figure builders: pure functions from chart series, events and summaries to figure dicts.

The page embeds the dicts as JSON and `static/app.js` draws them with `Plotly.react`, keeping a
fixed `layout.uirevision` so the reader's zoom survives stepping. Continuous series arrive
already downsampled (see `app.web.charts.run_series`); discrete events are never dropped: each one is a
marker, and the moments that matter most (ack received, switchover permitted, VM stop and start)
are also full-height lines with a label.

Series format (`ChartSeries`): ``{"fields": {"<field>": {"x_ms": [...], "y": [...]}}, "devices":
{name: {"<field>": {"x_ms": [...], "y": [...]}}}}``: each series carries its own times, as the
store's series API answers; a value that is unknown is simply absent (never drawn as zero).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .components import LANE_TITLES, LANES, component, ordered

MiB = 1024**2

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#777777",
}
LOADED_DASHES = ["dash", "longdash", "dashdot", "longdashdot"]
DEVICE_COLOURS = ["blue", "orange", "green", "purple", "sky", "vermillion", "yellow", "black"]

UIREVISION = "migscope"  # fixed: Plotly keeps the user's zoom across Plotly.react calls

# Event kinds drawn as markers, with a label, a colour and a symbol (shape + colour, never colour alone).
MARKERS: dict[str, dict[str, str]] = {
    "init_data_sent": {"label": "INIT_DATA_SENT sent", "colour": "sky", "symbol": "triangle-right"},
    "init_data_loaded": {
        "label": "INIT_DATA_SENT loaded",
        "colour": "green",
        "symbol": "triangle-down",
    },
    "ack_sent": {"label": "ACK sent", "colour": "purple", "symbol": "diamond-open"},
    "ack_received": {"label": "ACK received", "colour": "blue", "symbol": "star"},
    "switchover_permitted": {
        "label": "switchover permitted",
        "colour": "vermillion",
        "symbol": "hexagram",
    },
    "switchover_decided": {"label": "switchover decided", "colour": "orange", "symbol": "x"},
    "vm_stop": {"label": "VM stop", "colour": "black", "symbol": "square"},
    "vm_start": {"label": "VM start", "colour": "black", "symbol": "circle"},
}
# Full-height lines: the moments a reader must find at a glance.
LINES: dict[str, dict[str, Any]] = {
    "ack_received": {"dash": "solid", "width": 3},
    "switchover_permitted": {"dash": "dash", "width": 4},
    "vm_stop": {"dash": "dot", "width": 2},
    "vm_start": {"dash": "dot", "width": 2},
}
LANE_Y = {"source": 2, "user": 2, "link": 1, "return-path": 1, "destination": 0}
# Pairs drawn as messages crossing the lanes: (sent kind, arrived kind, label).
MESSAGES = [
    ("init_data_sent", "init_data_loaded", "INIT_DATA_SENT in the stream"),
    ("ack_sent", "ack_received", "SWITCHOVER_ACK on the return path"),
    ("shut_sent", "shut_received", "SHUT on the return path"),
    ("ping", "pong", "PING / PONG"),
]
DOWNTIME_COLOURS = ["blue", "orange", "green", "purple", "sky", "grey", "yellow", "black"]


def colour(name: str) -> str:
    return OKABE_ITO[name]


def plain_text(text: str) -> str:
    """Plotly draws names and labels as pseudo-HTML: user text (device names, titles) goes in as
    entities, so `<b>` shows as the characters, never as bold."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mib(values: Iterable[float | int | None]) -> list[float | None]:
    values = list(values)
    if None not in values:  # the usual case: one vectorised pass (1,500-point series add up)
        return np.round(np.asarray(values, dtype=np.float64) / MiB, 4).tolist()  # type: ignore[no-any-return,unused-ignore]
    return [None if v is None else round(v / MiB, 4) for v in values]


def _seconds(values: Iterable[float]) -> list[float]:
    return np.round(np.asarray(list(values), dtype=np.float64) / 1000.0, 6).tolist()  # type: ignore[no-any-return,unused-ignore]


def _event_dict(event: Any) -> dict[str, Any]:
    return dict(event) if isinstance(event, Mapping) else event.model_dump(mode="json")


def _first_known(fields: Mapping[str, Any], *keys: str) -> dict[str, list[Any]]:
    """The first of the named series that holds any value (imported runs may lack some)."""
    for key in keys:
        found = fields.get(key)
        if found and found.get("y"):
            return {"x_ms": list(found["x_ms"]), "y": list(found["y"])}
    return {"x_ms": [], "y": []}


def _xy(series: Mapping[str, Any] | None) -> dict[str, list[Any]]:
    """Plotly x (seconds) and y (MiB) of one series."""
    if not series:
        return {"x": [], "y": []}
    return {"x": _seconds(series.get("x_ms", [])), "y": _mib(series.get("y", []))}


def _base_layout(title: str, y_title: str, x_range: Sequence[float] | None) -> dict[str, Any]:
    xaxis: dict[str, Any] = {"ticksuffix": " s", "zeroline": False, "hoverformat": ".3f"}
    if x_range is not None:
        xaxis["range"] = [x_range[0] / 1000.0, x_range[1] / 1000.0]
    return {
        "title": {"text": title, "x": 0.01, "xanchor": "left"},
        "uirevision": UIREVISION,
        "margin": {"l": 64, "r": 24, "t": 48, "b": 48},
        "height": 360,
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": -0.12, "yanchor": "top"},
        "xaxis": xaxis,
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"},
        "shapes": [],
        "annotations": [],
        "font": {"family": "system-ui, sans-serif", "size": 13},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#ffffff",
    }


def vertical_line(name: str, x: float, line: dict[str, Any], layer: str) -> dict[str, Any]:
    """A full-height line at time x (seconds) across the plot area."""
    return {
        "type": "line",
        "name": name,
        "xref": "x",
        "yref": "paper",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "line": line,
        "layer": layer,
    }


def cursor_shape(t_ms: float | None) -> dict[str, Any]:
    """The current-step cursor; app.js moves it by name."""
    x = 0.0 if t_ms is None else t_ms / 1000.0
    return vertical_line("cursor", x, {"color": "#222222", "width": 2, "dash": "solid"}, "above")


def curtain_shape(t_ms: float | None) -> dict[str, Any]:
    """Teaching mode's curtain: hides what comes after the cursor (app.js shows it and moves it
    with the cursor); off until the reader turns "reveal as you step" on."""
    x = 0.0 if t_ms is None else t_ms / 1000.0
    return {
        "type": "rect",
        "name": "curtain",
        "xref": "x",
        "yref": "paper",
        "x0": x,
        "x1": x + 1e6,
        "y0": 0,
        "y1": 1,
        "fillcolor": "#f4f4f4",
        "opacity": 1,
        "line": {"width": 0},
        "layer": "above",
        "visible": False,
    }


def story_window(events: Sequence[Any], total_ms: float | None) -> list[float] | None:
    """The window where the decisions happen, in ms: from the first INIT_DATA_SENT (or the last
    pre-copy pass before VM stop when no device sends one) to VM start, with a margin. None when
    the run never switched over or the window is most of the run anyway."""
    evs = [_event_dict(e) for e in events]
    stop = next((e["t_ms"] for e in evs if e["kind"] == "vm_stop"), None)
    start_vm = next((e["t_ms"] for e in evs if e["kind"] == "vm_start"), None)
    if stop is None or not total_ms:
        return None
    first_init = next((e["t_ms"] for e in evs if e["kind"] == "init_data_sent"), None)
    decided = [
        e["t_ms"]
        for e in evs
        if e["kind"] in ("ack_received", "switchover_permitted") and e["t_ms"] <= stop
    ]
    lo = min([t for t in (first_init, *decided) if t is not None], default=stop)
    hi = start_vm if start_vm is not None else total_ms
    span = max(hi - lo, total_ms * 0.02, 1.0)
    lo, hi = max(0.0, lo - 0.12 * span), min(total_ms * 1.02, hi + 0.12 * span)
    if hi - lo > 0.6 * total_ms:
        return None
    return [lo, hi]


# Label rows (pixels above the plot for the two strong labels; fraction of the height below
# its top for the others): labels of events that happen together never cover each other.
LABEL_ROWS = {"ack_received": 0, "switchover_permitted": 17, "vm_stop": 0.97, "vm_start": 0.89}


def _event_lines(
    events: Sequence[Mapping[str, Any]],
    kinds: Iterable[str],
    x_range: Sequence[float] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Full-height lines and their labels for the events of the given kinds. A label in the
    right part of the visible range extends to the left of its line, so it is never cut off."""
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    wanted = set(kinds)
    seen: set[tuple[str, str | None]] = set()
    for event in events:
        kind = event["kind"]
        if kind not in wanted:
            continue
        key = (kind, event.get("device"))
        style = LINES.get(kind, {"dash": "dot", "width": 1})
        x = event["t_ms"] / 1000.0
        line = {
            "color": colour(MARKERS[kind]["colour"]),
            "width": style["width"],
            "dash": style["dash"],
        }
        shapes.append(vertical_line(f"event:{kind}", x, line, "below"))
        if key in seen:
            continue
        seen.add(key)
        label = MARKERS[kind]["label"]
        strong = kind in ("ack_received", "switchover_permitted")
        right = x_range is not None and event["t_ms"] > x_range[0] + 0.55 * (
            x_range[1] - x_range[0]
        )
        annotations.append(
            {
                "name": f"event:{kind}",
                "x": x,
                "xref": "x",
                "y": 1.0 if strong else LABEL_ROWS.get(kind, 0.93),
                "yshift": LABEL_ROWS.get(kind, 0) if strong else 0,
                "yref": "paper",
                "yanchor": "bottom" if strong else "top",
                "xanchor": "right" if right else "left",
                "text": f"<b>{label}</b>" if strong else label,
                "showarrow": False,
                "textangle": 0,
                "font": {"color": colour(MARKERS[kind]["colour"]), "size": 14 if strong else 11},
                "bgcolor": "rgba(255,255,255,0.85)",
            }
        )
    return shapes, annotations


def _marker_traces(
    events: Sequence[Mapping[str, Any]], *, yaxis: str, y_of: Any
) -> list[dict[str, Any]]:
    """One scatter trace per marker kind; every event of that kind is a point (never dropped)."""
    traces = []
    for kind, spec in MARKERS.items():
        chosen = [e for e in events if e["kind"] == kind]
        if not chosen:
            continue
        strong = kind in ("ack_received", "switchover_permitted")
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": spec["label"],
                "meta": {"event_kind": kind},
                "x": [e["t_ms"] / 1000.0 for e in chosen],
                "y": [y_of(e) for e in chosen],
                "yaxis": yaxis,
                "text": [_event_text(e) for e in chosen],
                # The step of each marker: a click on it jumps there (static/js/charts.js).
                "customdata": [e.get("step") for e in chosen],
                "hovertemplate": "%{text}<br>click: go to this step<extra></extra>",
                "marker": {
                    "symbol": spec["symbol"],
                    "size": 18 if strong else 11,
                    "color": colour(spec["colour"]),
                    "line": {"color": "#000000", "width": 1},
                },
                "cliponaxis": False,
            }
        )
    return traces


def _event_text(event: Mapping[str, Any]) -> str:
    device = f" [{event['device']}]" if event.get("device") else ""
    func = f" ({event['qemu_function']})" if event.get("qemu_function") else ""
    return plain_text(f"{event['t_ms']:.1f} ms {event['side']}{device}: {event['detail']}{func}")


def device_chart(
    series: Mapping[str, Any],
    events: Sequence[Any],
    *,
    cursor_ms: float | None = None,
    x_range: Sequence[float] | None = None,
    title: str = "Per-device initial bytes: drained at the source, loaded at the destination",
) -> dict[str, Any]:
    """Initial bytes remaining at the source, loaded at the destination, and dirty bytes, per device."""
    evs = [_event_dict(e) for e in events]
    traces: list[dict[str, Any]] = []
    for index, (name, fields) in enumerate(series.get("devices", {}).items()):
        col = colour(DEVICE_COLOURS[index % len(DEVICE_COLOURS)])
        # Devices with the same figures draw the same line: each later device is thinner and
        # has its own dash rhythm, so the one underneath still shows on both sides.
        width = max(1.5, 4.5 - 1.25 * index)
        loaded_dash = LOADED_DASHES[index % len(LOADED_DASHES)]
        shown = plain_text(name)
        for series_name, label, line, values in (
            (
                "init_source",
                "initial at source",
                {"width": width},
                _first_known(fields, "init_kernel_bytes", "init_est_bytes"),
            ),
            (
                "init_loaded",
                "initial loaded at destination",
                {"width": max(1.5, width - 1), "dash": loaded_dash},
                fields.get("init_loaded_bytes"),
            ),
            (
                "dirty",
                "dirty bytes",
                {"width": 1.5, "dash": "dot"},
                _first_known(fields, "dirty_kernel_bytes", "dirty_est_bytes"),
            ),
        ):
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": f"{shown}: {label}",
                    "legendgroup": shown,
                    **_xy(values),
                    "line": {"color": col, **line},
                    "meta": {"device": name, "series": series_name},
                }
            )
    if not traces:
        title += " (no VFIO device in this run: only the markers)"
    kinds = [
        "init_data_sent",
        "init_data_loaded",
        "ack_sent",
        "ack_received",
        "switchover_permitted",
        "vm_stop",
        "vm_start",
    ]
    heights = {k: 0.05 + 0.1 * i for i, k in enumerate(kinds)}
    marker_events = [e for e in evs if e["kind"] in kinds]
    traces += _marker_traces(marker_events, yaxis="y2", y_of=lambda e: heights[e["kind"]])
    layout = _base_layout(title, "MiB", x_range)
    layout["yaxis2"] = {"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True}
    layout["height"] = 420
    shapes, annotations = _event_lines(evs, LINES, x_range)
    layout["shapes"] = [
        *_downtime_band(evs),
        *shapes,
        cursor_shape(cursor_ms),
        curtain_shape(cursor_ms),
    ]
    layout["annotations"] = annotations
    return {"data": traces, "layout": layout}


def _downtime_band(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    stop = next((e["t_ms"] for e in events if e["kind"] == "vm_stop"), None)
    start = next((e["t_ms"] for e in events if e["kind"] == "vm_start"), None)
    if stop is None:
        return []
    end = start if start is not None else stop
    return [
        {
            "type": "rect",
            "name": "downtime",
            "xref": "x",
            "yref": "paper",
            "x0": stop / 1000.0,
            "x1": end / 1000.0,
            "y0": 0,
            "y1": 1,
            "fillcolor": "rgba(119,119,119,0.18)",
            "line": {"width": 0},
            "layer": "below",
        }
    ]


def ram_chart(
    series: Mapping[str, Any],
    events: Sequence[Any],
    *,
    cursor_ms: float | None = None,
    x_range: Sequence[float] | None = None,
) -> dict[str, Any]:
    """RAM pending (estimate and exact) against the threshold, and the measured bandwidth."""
    evs = [_event_dict(e) for e in events]
    f = series.get("fields", {})
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "pending estimate",
            **_xy(f.get("pending_estimate_bytes")),
            "line": {"color": colour("blue"), "width": 2},
        },
        {
            "type": "scatter",
            "mode": "markers",
            "name": "pending exact",
            **_xy(f.get("pending_exact_bytes")),
            "marker": {"color": colour("orange"), "symbol": "diamond", "size": 8},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "threshold (bandwidth x downtime-limit)",
            **_xy(f.get("threshold_bytes")),
            "line": {"color": colour("vermillion"), "width": 2, "dash": "dash", "shape": "hv"},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "RAM remaining",
            **_xy(f.get("ram_remaining_bytes")),
            "line": {"color": colour("green"), "width": 1.5, "dash": "dot"},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "measured bandwidth (MiB/s, right axis)",
            **_xy(f.get("bandwidth_bytes_per_s")),
            "yaxis": "y2",
            "line": {"color": colour("purple"), "width": 1.5, "shape": "hv"},
        },
    ]
    layout = _base_layout("RAM pending vs threshold, and measured bandwidth", "MiB", x_range)
    layout["yaxis2"] = {
        "title": {"text": "MiB/s"},
        "overlaying": "y",
        "side": "right",
        "rangemode": "tozero",
        "showgrid": False,
    }
    layout["margin"]["r"] = 64
    shapes, annotations = _event_lines(
        evs, ["ack_received", "switchover_permitted", "vm_stop", "vm_start"], x_range
    )
    layout["shapes"] = [
        *_downtime_band(evs),
        *shapes,
        cursor_shape(cursor_ms),
        curtain_shape(cursor_ms),
    ]
    layout["annotations"] = annotations
    return {"data": traces, "layout": layout}


def lane_chart(
    events: Sequence[Any],
    *,
    cursor_ms: float | None = None,
    x_range: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Message lane: source, link, destination; stream markers and return-path messages cross it."""
    evs = [_event_dict(e) for e in events if _event_dict(e)["kind"] != "window"]
    traces: list[dict[str, Any]] = []
    for sent_kind, arrived_kind, label in MESSAGES:
        xs: list[float | None] = []
        ys: list[float | None] = []
        sent = [e for e in evs if e["kind"] == sent_kind]
        arrived = [e for e in evs if e["kind"] == arrived_kind]
        for start in sent:
            match = next(
                (
                    a
                    for a in arrived
                    if a.get("device") == start.get("device") and a["t_ms"] >= start["t_ms"]
                ),
                None,
            )
            if match is None:
                continue
            arrived.remove(match)
            xs += [start["t_ms"] / 1000.0, match["t_ms"] / 1000.0, None]
            ys += [LANE_Y.get(start["side"], 1), LANE_Y.get(match["side"], 1), None]
        if xs:
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": label,
                    "x": xs,
                    "y": ys,
                    "hoverinfo": "skip",
                    "line": {
                        "color": colour(MARKERS.get(arrived_kind, {"colour": "grey"})["colour"]),
                        "width": 2,
                    },
                    "meta": {"message": sent_kind},
                }
            )
    traces += _marker_traces(
        [e for e in evs if e["kind"] in MARKERS], yaxis="y", y_of=lambda e: LANE_Y.get(e["side"], 1)
    )
    others = [e for e in evs if e["kind"] not in MARKERS]
    if others:
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "other events",
                "meta": {"event_kind": "other"},
                "x": [e["t_ms"] / 1000.0 for e in others],
                "y": [LANE_Y.get(e["side"], 1) for e in others],
                "text": [_event_text(e) for e in others],
                "hovertemplate": "%{text}<extra></extra>",
                "marker": {"symbol": "line-ns-open", "size": 10, "color": colour("grey")},
            }
        )
    layout = _base_layout("Message lane: source, link, destination", "", x_range)
    layout["height"] = 330
    layout["hovermode"] = "closest"
    layout["yaxis"] = {
        "tickvals": [0, 1, 2],
        "ticktext": ["destination", "link / return path", "source"],
        "range": [-0.5, 2.5],
        "fixedrange": True,
        "zeroline": False,
    }
    layout["margin"]["l"] = 120
    shapes, annotations = _event_lines(evs, ["ack_received", "switchover_permitted"], x_range)
    layout["shapes"] = [
        *_downtime_band(evs),
        *shapes,
        cursor_shape(cursor_ms),
        curtain_shape(cursor_ms),
    ]
    layout["annotations"] = annotations
    return {"data": traces, "layout": layout}


def downtime_chart(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """Where the downtime went, as a timeline from VM stop to VM start: one row per lane (source,
    stream, destination; per run on the compare page), segments in accounting order, each with
    its ms; plain-language names, the internal name on hover; the downtime-limit as a line."""
    several = len(runs) > 1
    rows: list[str] = []
    for label, _ in runs:
        rows += [
            f"{label} · {LANE_TITLES[lane]}" if several else LANE_TITLES[lane] for lane in LANES
        ]
    per_key: dict[str, dict[str, list[Any]]] = {}
    annotations: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    for label, summary in runs:
        breakdown = summary.get("downtime_breakdown_ms") or {}
        start = 0.0
        for key in ordered(list(breakdown)):
            ms = float(breakdown[key] or 0.0)
            part = component(key)
            row = f"{label} · {LANE_TITLES[part.lane]}" if several else LANE_TITLES[part.lane]
            bucket = per_key.setdefault(key, {"y": [], "x": [], "base": [], "text": []})
            bucket["y"].append(row)
            bucket["x"].append(ms)
            bucket["base"].append(start)
            bucket["text"].append(f"{ms:.0f} ms" if ms >= 0.5 else "")
            start += ms
        limit = summary.get("downtime_limit_ms")
        lanes = [r for r in rows if (r.startswith(f"{label} · ") if several else True)]
        if limit is not None:
            shapes.append(
                {
                    "type": "line",
                    "name": "downtime_limit",
                    "xref": "x",
                    "yref": "y",
                    "x0": limit,
                    "x1": limit,
                    "y0": lanes[0],
                    "y1": lanes[-1],
                    "line": {"color": "#000000", "width": 3, "dash": "dash"},
                    "layer": "above",
                }
            )
            annotations.append(
                {
                    "x": limit,
                    "y": lanes[0],
                    "yshift": 14,
                    "text": f"limit {limit:.0f} ms",
                    "showarrow": False,
                    "xanchor": "left",
                    "bgcolor": "rgba(255,255,255,0.9)",
                    "font": {"size": 11},
                }
            )
        total = summary.get("downtime_ms")
        if total is not None and breakdown:
            annotations.append(
                {
                    "x": start,
                    "y": lanes[-1],
                    "text": f" downtime {total:.0f} ms",
                    "showarrow": False,
                    "xanchor": "left",
                    "font": {"size": 12},
                }
            )
        elif not breakdown:
            status = summary.get("status")
            why = (
                f"no downtime: the run {status} before the VM stopped"
                if status in ("failed", "cancelled")
                else "no downtime breakdown recorded"
            )
            annotations.append(
                {
                    "x": 0,
                    "y": lanes[1],
                    "text": why,
                    "showarrow": False,
                    "xanchor": "left",
                    "font": {"size": 14, "color": "#555555"},
                }
            )
    traces: list[dict[str, Any]] = []
    for key, bucket in per_key.items():
        part = component(key)
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": part.label,
                "meta": {"component": key},
                "y": bucket["y"],
                "x": bucket["x"],
                "base": bucket["base"],
                "text": bucket["text"],
                "textposition": "inside",
                "insidetextanchor": "middle",
                "constraintext": "both",
                # The pattern is drawn over the colour (overlay), so a patterned segment stays filled.
                "marker": {
                    "color": part.colour,
                    "pattern": {
                        "shape": part.pattern,
                        "fillmode": "overlay",
                        "fgcolor": "#ffffff",
                        "fgopacity": 0.75,
                        "size": 7,
                    },
                    "line": {"color": "#ffffff", "width": 1},
                },
                "hovertemplate": f"{part.label}: %{{x:.1f}} ms (from %{{base:.1f}} ms)<extra>{key}</extra>",
            }
        )
    # The limit as a legend entry too (the shape itself has none).
    limits = [s.get("downtime_limit_ms") for _, s in runs if s.get("downtime_limit_ms") is not None]
    if limits:
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "downtime-limit",
                "x": [limits[0], limits[0]],
                "y": [rows[0], rows[-1]],
                "line": {"color": "#000000", "width": 3, "dash": "dash"},
                "hoverinfo": "skip",
                "meta": {"series": "downtime_limit"},
            }
        )
    return {
        "data": traces,
        "layout": {
            "title": {
                "text": "Where the downtime went: VM stop to VM start (ms after VM stop)",
                "x": 0.01,
                "xanchor": "left",
            },
            "barmode": "overlay",
            "uirevision": UIREVISION,
            "height": 150 + 48 * len(rows),
            "margin": {"l": 150 if several else 110, "r": 24, "t": 48, "b": 24},
            "xaxis": {"ticksuffix": " ms", "rangemode": "tozero"},
            "yaxis": {
                "automargin": True,
                "autorange": "reversed",
                "categoryorder": "array",
                "categoryarray": rows,
                "fixedrange": True,
            },
            "legend": {"orientation": "h", "y": -0.12, "yanchor": "top"},
            "shapes": shapes,
            "annotations": annotations,
            "uniformtext": {"minsize": 9, "mode": "hide"},
            "font": {"family": "system-ui, sans-serif", "size": 13},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "#ffffff",
        },
    }


def add_branch_lines(figure: dict[str, Any], points: list[dict[str, Any]]) -> None:
    """A full-height dash-dot line, labelled, at each branch point of a time chart (seconds)."""
    layout = figure["layout"]
    for point in points:
        x = point["at_ms"] / 1000.0
        layout.setdefault("shapes", []).append(
            vertical_line("branch", x, {"color": "#CC79A7", "width": 2, "dash": "dashdot"}, "above")
        )
        layout.setdefault("annotations", []).append(
            {
                "name": "branch",
                "x": x,
                "xref": "x",
                "y": 0.02,
                "yref": "paper",
                "xanchor": "left",
                "yanchor": "bottom",
                "text": f"what if: {point['label']}",
                "showarrow": False,
                "font": {"color": "#CC79A7", "size": 12},
                "bgcolor": "rgba(255,255,255,0.85)",
            }
        )
