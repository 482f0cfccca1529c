"""The run page's chart series: the charted numbers of a time range, downsampled on the server.

Format (`ChartSeries`, what `figures` draws): ``{"fields": {"<field>": {"x_ms": [...], "y": [...]}},
"devices": {name: {"<field>": {"x_ms": [...], "y": [...]}}}}``; an unknown value is absent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sqlmodel import Session

from app.engine.trace import Event, EventKind
from app.store.chart_columns import X_KEY, device_key, load_columns
from app.store.runs import load_events_by_kind, load_step

from ..series import downsample_indices

# Events drawn on the charts. bitmap_sync and window happen every pass and are drawn as series
# (dirty-sync count, bandwidth); every other event is drawn, none is dropped.
CHART_EVENT_KINDS = [
    kind.value for kind in EventKind if kind not in (EventKind.BITMAP_SYNC, EventKind.WINDOW)
]
MAX_POINTS = 1500

# Fields the run page asks for (top level and per device).
RUN_FIELDS = [
    "ram_remaining_bytes",
    "pending_estimate_bytes",
    "pending_exact_bytes",
    "threshold_bytes",
    "bandwidth_bytes_per_s",
]
DEVICE_FIELDS = [
    "init_kernel_bytes",
    "init_est_bytes",
    "init_loaded_bytes",
    "dirty_kernel_bytes",
    "dirty_est_bytes",
]


def chart_events(session: Session, run_id: str) -> list[Event]:
    """The events the charts draw, in trace order."""
    return load_events_by_kind(session, run_id, CHART_EVENT_KINDS)


def series_from_steps(steps: Sequence[Any]) -> dict[str, Any]:
    """Chart series straight from steps (no downsampling): for tests and small traces."""
    rows = [s if isinstance(s, Mapping) else s.model_dump(mode="json") for s in steps]
    out: dict[str, Any] = {"fields": {}, "devices": {}}
    for field in RUN_FIELDS:
        pts = [(r["end_ms"], r.get(field)) for r in rows if r.get(field) is not None]
        out["fields"][field] = {"x_ms": [p[0] for p in pts], "y": [p[1] for p in pts]}
    names: list[str] = []
    for r in rows:
        for dev in r.get("devices", []):
            if dev["name"] not in names:
                names.append(dev["name"])
    for name in names:
        cols: dict[str, Any] = {}
        for field in DEVICE_FIELDS:
            pts = []
            for r in rows:
                dev = next((d for d in r.get("devices", []) if d["name"] == name), None)
                if dev is not None and dev.get(field) is not None:
                    pts.append((r["end_ms"], dev[field]))
            cols[field] = {"x_ms": [p[0] for p in pts], "y": [p[1] for p in pts]}
        out["devices"][name] = cols
    return out


def run_series(
    session: Session,
    run_id: str,
    from_ms: float | None,
    to_ms: float | None,
    *,
    detail: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Chart series for a time range (all of the run when both are None), MinMaxLTTB-downsampled,
    with the neighbouring step on either side of the range (lines reach the window's edges).
    `detail` (ms) is a window drawn at full resolution inside the downsampled whole (the window
    the run page opens on). Read from the stored chart columns, never from step JSON."""
    first = load_step(session, run_id, 0)
    names = [d.name for d in first.devices] if first is not None else []
    keys = list(RUN_FIELDS) + [device_key(p, f) for p in range(len(names)) for f in DEVICE_FIELDS]
    table = load_columns(session, run_id, keys, from_ms, to_ms, neighbours=True)
    xs = table[X_KEY]

    def column(key: str) -> dict[str, list[float]]:
        y = table[key]
        known = ~np.isnan(y)
        x, y = xs[known], y[known]
        keep = downsample_indices(x, y, MAX_POINTS)
        if detail is not None and len(keep) < len(x):
            inside = np.flatnonzero((x >= detail[0]) & (x <= detail[1]))
            if len(inside):
                # One step either side of the window too, then the window's own downsampling.
                inside = np.arange(max(inside[0] - 1, 0), min(inside[-1] + 2, len(x)))
                sub = downsample_indices(x[inside], y[inside], MAX_POINTS)
                keep = np.union1d(keep, inside[sub])
        return {"x_ms": x[keep].tolist(), "y": y[keep].tolist()}

    out: dict[str, Any] = {"fields": {field: column(field) for field in RUN_FIELDS}, "devices": {}}
    for position, name in enumerate(names):
        out["devices"][name] = {
            field: column(device_key(position, field)) for field in DEVICE_FIELDS
        }
    return out
