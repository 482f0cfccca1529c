"""Chart columns: every charted number of a run stored column by column, in chunks of steps, so
a chart reads a time window without parsing any step JSON (Alembic 0006_chart_columns).

A column is one float64 array (an unknown value is NaN) per key: `end_ms` (the x of every
point), each numeric step field, and `d<position>.<field>` for each device (by its position in
`step.devices`). Steps are kept in time order and cut into chunks of CHUNK_STEPS; each chunk
row carries the chunk's first and last `end_ms`, so a window reads only the chunks it touches
(and one either side, for the points just outside it). Arrays are stored zlib-compressed.

Runs stored before this table existed get their columns on first read (`ensure_columns`).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any, cast

import numpy as np
from sqlalchemy import (
    Column,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    func,
    select,
)
from sqlmodel import Field, Session, SQLModel, col

from app.engine.trace import DeviceStep, Step

CHUNK_STEPS = 16_384
X_KEY = "end_ms"
# Numeric step and device fields worth a line over time (the series API's fields).
STEP_COLUMNS: tuple[str, ...] = tuple(
    name
    for name in Step.model_fields
    if name.endswith(("_bytes", "_bytes_per_s", "_ms", "_count")) and name not in ("t_ms", "end_ms")
)
DEVICE_COLUMNS: tuple[str, ...] = tuple(
    name for name in DeviceStep.model_fields if name.endswith("_bytes")
)


class ChartColumnRow(SQLModel, table=True):
    """One chunk of one column of one run."""

    __tablename__ = "chart_columns"

    run_id: str = Field(
        sa_column=Column(String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    )
    key: str = Field(sa_column=Column(String(64), primary_key=True))
    chunk: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    first_ms: float
    last_ms: float
    points: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


def device_key(position: int, field: str) -> str:
    return f"d{position}.{field}"


def _number(value: Any) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else np.nan
    )


_PLAIN_NUMBERS = frozenset({int, float, type(None)})


def _column(values: list[Any]) -> np.ndarray:
    """float64 of the values, NaN for anything not a number (None, a bool, a string)."""
    # Plain ints, floats and Nones (every value the engine writes) convert in one C call
    # (None becomes NaN); anything else goes value by value. Storing a run paid ~half its
    # time here when every value took the slow path.
    if set(map(type, values)) <= _PLAIN_NUMBERS:
        return np.array(values, dtype=np.float64)
    return np.array([_number(v) for v in values], dtype=np.float64)


def columns_from_steps(steps: Sequence[Step | Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Every column of these steps (models or stored dicts), in time order."""
    if all(isinstance(s, Step) for s in steps):
        return _columns_of_models(cast(Sequence[Step], steps))
    rows = cast(Sequence[Mapping[str, Any]], steps)  # stored dicts (ensure_columns)
    keys = [(r["end_ms"], r["index"]) for r in rows]
    order = sorted(range(len(rows)), key=keys.__getitem__)
    rows = [rows[i] for i in order]
    out: dict[str, np.ndarray] = {X_KEY: _column([keys[i][0] for i in order])}
    for field in STEP_COLUMNS:
        out[field] = _column([r.get(field) for r in rows])
    devices = [r.get("devices") or [] for r in rows]
    width = max((len(d) for d in devices), default=0)
    for position in range(width):
        at = [d[position] if position < len(d) else None for d in devices]
        for field in DEVICE_COLUMNS:
            values = [None if d is None else _get(d, field) for d in at]
            out[device_key(position, field)] = _column(values)
    return out


def _columns_of_models(steps: Sequence[Step]) -> dict[str, np.ndarray]:
    """columns_from_steps for models, the path every stored run takes: each model's numbers are
    read as one tuple by itemgetter from its field dict (pydantic keeps the field values in
    `__dict__`; app.engine.trace.trusted builds steps that way), a group of columns at a time
    by map, in C, and each group is one numpy call: no Python call per value, which made this
    the largest part of storing a run's cost beyond the inserts themselves."""
    steps = sorted(steps, key=_TIME_ORDER)
    out = _table([X_KEY, *STEP_COLUMNS], list(map(_STEP_FIELDS, map(vars, steps))))
    devices = [s.devices for s in steps]
    width = max(map(len, devices), default=0)
    on_every_step = min(map(len, devices), default=0)
    absent = (None,) * len(DEVICE_COLUMNS)
    for position in range(width):
        if position < on_every_step:
            values = list(map(_DEVICE_FIELDS, map(vars, map(itemgetter(position), devices))))
        else:
            values = [
                _DEVICE_FIELDS(vars(d[position])) if position < len(d) else absent for d in devices
            ]
        out.update(_table([device_key(position, field) for field in DEVICE_COLUMNS], values))
    return out


# Both getters have several names, so they return a tuple per model.
_TIME_ORDER = attrgetter("end_ms", "index")
_STEP_FIELDS = itemgetter(X_KEY, *STEP_COLUMNS)
_DEVICE_FIELDS = itemgetter(*DEVICE_COLUMNS)


def _table(keys: Sequence[str], rows: list[tuple[Any, ...]]) -> dict[str, np.ndarray]:
    """The columns `keys` of `rows` (one tuple of values per step), like _column for each."""
    if not rows:
        return {key: np.empty(0) for key in keys}
    if set(map(type, chain.from_iterable(rows))) <= _PLAIN_NUMBERS:
        table = np.array(rows, dtype=np.float64)
    else:
        table = np.array([[_number(v) for v in row] for row in rows], dtype=np.float64)
    return dict(zip(keys, np.ascontiguousarray(table.T), strict=True))


def _get(obj: Any, field: str) -> Any:
    return obj.get(field) if isinstance(obj, Mapping) else getattr(obj, field, None)


def _pack(values: np.ndarray) -> bytes:
    return zlib.compress(np.ascontiguousarray(values, dtype="<f8").tobytes(), 1)


def _unpack(data: bytes) -> np.ndarray:
    return np.frombuffer(zlib.decompress(data), dtype="<f8")


# The columns of a chunk row, in the order column_rows gives them (for a driver executemany).
ROW_COLUMNS = ("run_id", "key", "chunk", "first_ms", "last_ms", "points", "data")


def column_rows(run_id: str, columns: Mapping[str, np.ndarray]) -> list[tuple[Any, ...]]:
    """The chunk rows of a run's columns, as tuples in ROW_COLUMNS order."""
    x = columns[X_KEY]
    rows = []
    for chunk, start in enumerate(range(0, max(len(x), 1), CHUNK_STEPS)):
        part = x[start : start + CHUNK_STEPS]
        if not len(part):
            break
        first_ms, last_ms = float(part[0]), float(part[-1])
        for key, values in columns.items():
            data = _pack(values[start : start + CHUNK_STEPS])
            rows.append((run_id, key, chunk, first_ms, last_ms, len(part), data))
    return rows


def write_columns(engine: Engine, run_id: str, columns: Mapping[str, np.ndarray]) -> None:
    """Store a run's columns (one short transaction, under the store's write lock)."""
    from .writes import Rows, insert_rows, write_lock

    rows = column_rows(run_id, columns)
    if not rows:
        return
    with write_lock(engine), engine.begin() as connection:
        insert_rows(connection, Rows(ChartColumnRow.__tablename__, ROW_COLUMNS, rows))


def has_columns(session: Session, run_id: str) -> bool:
    query = (
        select(func.count())
        .select_from(ChartColumnRow)
        .where(col(ChartColumnRow.run_id) == run_id, col(ChartColumnRow.key) == X_KEY)
    )
    return bool(session.execute(query).scalar())


def ensure_columns(session: Session, run_id: str) -> None:
    """Build the columns of a run stored before this table existed (once, from its steps)."""
    if has_columns(session, run_id):
        return
    from .models import StepRow

    stored = (
        session.execute(select(col(StepRow.data)).where(col(StepRow.run_id) == run_id))
        .scalars()
        .all()
    )
    if not stored:
        return
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    try:
        write_columns(engine, run_id, columns_from_steps([dict(s) for s in stored]))
    except Exception:  # noqa: BLE001  another request built them first (primary key): fine
        if not has_columns(session, run_id):
            raise


def load_columns(
    session: Session,
    run_id: str,
    keys: Iterable[str],
    from_ms: float | None = None,
    to_ms: float | None = None,
    *,
    neighbours: bool = False,
) -> dict[str, np.ndarray]:
    """The columns `keys` (and `end_ms`) of the steps whose end falls in [from_ms, to_ms]; with
    `neighbours`, the last step before and the first after the range too. A key the run does not
    have (a device position beyond its devices) is all NaN."""
    ensure_columns(session, run_id)
    meta = session.execute(
        select(col(ChartColumnRow.chunk), col(ChartColumnRow.first_ms), col(ChartColumnRow.last_ms))
        .where(col(ChartColumnRow.run_id) == run_id, col(ChartColumnRow.key) == X_KEY)
        .order_by(col(ChartColumnRow.chunk))
    ).all()
    if not meta:
        return {X_KEY: np.empty(0)} | {key: np.empty(0) for key in keys}
    lo = -np.inf if from_ms is None else from_ms
    hi = np.inf if to_ms is None else to_ms
    touched = [c for c, first, last in meta if last >= lo and first <= hi]
    if (
        not touched
    ):  # the range falls between two chunks: the chunks either side hold the neighbours
        touched = [next((c for c, first, _ in meta if first > hi), meta[-1][0])]
    first_chunk = max(min(touched) - (1 if neighbours else 0), 0)
    last_chunk = max(touched) + (1 if neighbours else 0)
    wanted = [X_KEY, *[k for k in dict.fromkeys(keys) if k != X_KEY]]
    rows = session.execute(
        select(col(ChartColumnRow.key), col(ChartColumnRow.chunk), col(ChartColumnRow.data))
        .where(
            col(ChartColumnRow.run_id) == run_id,
            col(ChartColumnRow.key).in_(wanted),
            col(ChartColumnRow.chunk) >= first_chunk,
            col(ChartColumnRow.chunk) <= last_chunk,
        )
        .order_by(col(ChartColumnRow.key), col(ChartColumnRow.chunk))
    ).all()
    parts: dict[str, list[np.ndarray]] = {}
    for key, _chunk, data in rows:
        parts.setdefault(key, []).append(_unpack(data))
    x = np.concatenate(parts.get(X_KEY, [np.empty(0)]))
    start = int(np.searchsorted(x, lo, side="left"))
    stop = int(np.searchsorted(x, hi, side="right"))
    if neighbours:
        start, stop = max(start - 1, 0), min(stop + 1, len(x))
    out = {X_KEY: x[start:stop]}
    for key in wanted[1:]:
        values = np.concatenate(parts[key]) if key in parts else np.full(len(x), np.nan)
        out[key] = values[start:stop]
    return out
