"""Chart series from stored steps, downsampled on the server with tsdownsample's MinMaxLTTB.

Continuous figures (bytes remaining, threshold, bandwidth) are downsampled to `max_points`;
discrete events (INIT_DATA_SENT, acks, VM stop/start) are never dropped: the endpoint returns
every one of them in the range, for the chart to draw as markers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlmodel import Session
from tsdownsample import MinMaxLTTBDownsampler

from app.engine.trace import DeviceStep, Step
from app.store.chart_columns import X_KEY, device_key, load_columns
from app.store.runs import load_step

DEVICE_PREFIX = "device."

# Numeric Step / DeviceStep fields that make sense as a line over time.
STEP_FIELDS: tuple[str, ...] = tuple(
    name
    for name, info in Step.model_fields.items()
    if name.endswith(("_bytes", "_bytes_per_s", "_ms", "_count")) and name not in ("t_ms", "end_ms")
)
DEVICE_FIELDS: tuple[str, ...] = tuple(
    name for name in DeviceStep.model_fields if name.endswith("_bytes")
)
ALL_FIELDS: tuple[str, ...] = STEP_FIELDS + tuple(DEVICE_PREFIX + name for name in DEVICE_FIELDS)
DEFAULT_FIELDS: tuple[str, ...] = (
    "ram_remaining_bytes",
    "threshold_bytes",
    "device.init_est_bytes",
    "device.dirty_est_bytes",
)
# Sampling events repeat every window; the default leaves them out (ask with event_kinds=all).
PERIODIC_EVENT_KINDS: frozenset[str] = frozenset({"window", "bitmap_sync", "ping", "pong"})


def unit_of(field: str) -> str:
    for suffix, unit in (("_bytes_per_s", "bytes_per_s"), ("_bytes", "bytes"), ("_ms", "ms")):
        if field.endswith(suffix):
            return unit
    return "count"


def parse_fields(raw: list[str] | None) -> list[str]:
    """`fields` may repeat and may hold comma-separated names; raise ValueError on unknown ones."""
    names: list[str] = []
    for chunk in raw or []:
        for name in chunk.split(","):
            name = name.strip()
            if name and name not in names:
                names.append(name)
    if not names:
        return list(DEFAULT_FIELDS)
    unknown = [name for name in names if name not in ALL_FIELDS]
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(ALL_FIELDS)}")
    return names


def downsample_indices(x: np.ndarray, y: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of the points to keep; all of them when they already fit."""
    if len(x) <= max_points:
        return np.arange(len(x))
    # MinMaxLTTB keeps each bucket's extremes: spikes survive, and first and last points stay.
    return np.asarray(MinMaxLTTBDownsampler().downsample(x, y, n_out=max_points))


def _points(
    steps: list[dict[str, Any]], field: str, device: str | None
) -> tuple[list[float], list[Any]]:
    xs: list[float] = []
    ys: list[Any] = []
    for step in steps:
        if device is None:
            value = step.get(field)
        else:
            value = next(
                (d.get(field) for d in step.get("devices", []) if d.get("name") == device), None
            )
        # Unknown values (None) are gaps, never zeros.
        if isinstance(value, int | float) and not isinstance(value, bool):
            xs.append(float(step["end_ms"]))
            ys.append(value)
    return xs, ys


def device_names(steps: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for step in steps:
        for device in step.get("devices", []):
            if device.get("name") not in names:
                names.append(device["name"])
    return names


def build_series(
    steps: list[dict[str, Any]], fields: list[str], devices: list[str] | None, max_points: int
) -> list[dict[str, Any]]:
    """One series per step field, and one per device for each `device.` field."""
    chosen = (
        device_names(steps) if devices is None else [d for d in device_names(steps) if d in devices]
    )
    out: list[dict[str, Any]] = []
    for field in fields:
        if field.startswith(DEVICE_PREFIX):
            name = field[len(DEVICE_PREFIX) :]
            targets: list[tuple[str, str | None]] = [
                (f"{device}/{name}", device) for device in chosen
            ]
        else:
            name = field
            targets = [(field, None)]
        for key, device in targets:
            xs, ys = _points(steps, name, device)
            keep = downsample_indices(
                np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64), max_points
            )
            out.append(
                {
                    "key": key,
                    "field": name,
                    "device": device,
                    "unit": unit_of(name),
                    "x_ms": [xs[i] for i in keep],
                    "y": [ys[i] for i in keep],
                    "points_total": len(xs),
                    "downsampled": len(keep) < len(xs),
                }
            )
    return out


def stored_series(
    session: Session,
    run_id: str,
    fields: list[str],
    devices: list[str] | None,
    max_points: int,
    from_ms: float | None = None,
    to_ms: float | None = None,
) -> list[dict[str, Any]]:
    """`build_series` read from the stored chart columns (app.store.chart_columns): a window
    of a 50,000-step run without parsing any step's JSON. Same answer as build_series."""
    first = load_step(session, run_id, 0)
    names = [d.name for d in first.devices] if first is not None else []
    chosen = names if devices is None else [d for d in names if d in devices]
    targets: list[tuple[str, str, str | None, str]] = []  # (series key, field, device, column key)
    for field in fields:
        if field.startswith(DEVICE_PREFIX):
            name = field[len(DEVICE_PREFIX) :]
            targets += [
                (f"{device}/{name}", name, device, device_key(names.index(device), name))
                for device in chosen
            ]
        else:
            targets.append((field, field, None, field))
    table = load_columns(session, run_id, [t[3] for t in targets], from_ms, to_ms)
    xs = table[X_KEY]
    out: list[dict[str, Any]] = []
    for key, name, device, column in targets:
        y = table[column]
        known = ~np.isnan(y)
        x, values = xs[known], y[known]
        keep = downsample_indices(x, values, max_points)
        out.append(
            {
                "key": key,
                "field": name,
                "device": device,
                "unit": unit_of(name),
                "x_ms": x[keep].tolist(),
                "y": [_as_number(v) for v in values[keep].tolist()],
                "points_total": len(x),
                "downsampled": len(keep) < len(x),
            }
        )
    return out


def _as_number(value: float) -> float | int:
    """Whole numbers as ints, as the steps hold them (bytes and counts)."""
    return int(value) if value.is_integer() and abs(value) < 2**53 else value
