"""`--vary PATH=A..B[:log][:N]` and `PATH=v1,v2,v3`: one varied scenario field (an axis).

The path names a numeric field of the scenario (`guest.ram_bytes`, `devices.0.stop_copy_bytes`);
the field's own type and bounds come from the scenario model, so a sweep can only ask for
values a single run would accept. Every problem is a `VaryError` whose message is one line
that names the field.
"""

from __future__ import annotations

import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from app.engine.scenario import Scenario
from app.engine.units import parse_bytes

from .limits import DEFAULT_POINTS_PER_RANGE, MAX_VARY_CHARS

Kind = Literal["bytes", "rate", "ms", "number", "integer"]
Number = int | float

_DURATION_UNITS: dict[str, float] = {
    "": 1.0,
    "ms": 1.0,
    "us": 0.001,
    "µs": 0.001,
    "s": 1000.0,
    "min": 60_000.0,
    "h": 3_600_000.0,
}
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)\s*([A-Za-zµ]*)\s*$")
_PLAIN = re.compile(r"^\s*-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\s*$")
# Floats are kept to 12 significant digits: 0.1 + 0.2 shows as 0.3, and every machine
# computes the same grid.
_SIGNIFICANT = 12


class VaryError(ValueError):
    """A bad --vary: the message is one line naming the field."""


@dataclass(frozen=True)
class Field:
    """A numeric scenario field reached by a path."""

    path: str
    kind: Kind
    is_int: bool
    low: float | None
    high: float | None
    low_exclusive: bool = False


@dataclass(frozen=True)
class Axis:
    """One varied field and its values, in sweep order."""

    field: Field
    values: tuple[Number, ...]
    spec: str  # the --vary text as given

    @property
    def path(self) -> str:
        return self.field.path

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.field.kind,
            "values": list(self.values),
            "spec": self.spec,
        }


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """The bare type under Optional/Annotated, and every constraint found on the way."""
    constraints: list[Any] = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            base, *extra = typing.get_args(annotation)
            for item in extra:
                constraints.extend(item.metadata if isinstance(item, FieldInfo) else [item])
            annotation = base
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation, constraints
            annotation = args[0]
        else:
            return annotation, constraints


def _kind(name: str, is_int: bool) -> Kind:
    if name.endswith("_bytes_per_s"):
        return "rate"
    if name.endswith("_bytes"):
        return "bytes"
    if name.endswith(("_ms", "_ms_per_gib")):
        return "ms"
    return "integer" if is_int else "number"


def resolve_field(path: str, base: dict[str, Any]) -> Field:
    """The numeric field at `path` in a scenario like `base` (a validated scenario as JSON)."""
    if not path or not re.fullmatch(r"[A-Za-z0-9_.]+", path):
        raise VaryError(
            f"{path or '(empty path)'}: not a field path (write it like guest.ram_bytes)"
        )
    model: type[BaseModel] = Scenario
    doc: Any = base
    parts = path.split(".")
    i = 0
    while i < len(parts):
        part = parts[i]
        info = model.model_fields.get(part)
        if info is None:
            known = ", ".join(sorted(model.model_fields))
            where = ".".join(parts[:i]) or "the scenario"
            raise VaryError(f"{path}: unknown field {part!r} in {where} (fields: {known})")
        annotation, constraints = _unwrap(info.annotation)
        constraints = [*info.metadata, *constraints]
        doc = doc.get(part) if isinstance(doc, dict) else None
        last = i == len(parts) - 1
        if typing.get_origin(annotation) is list:
            element, _ = _unwrap(typing.get_args(annotation)[0])
            if last or not (isinstance(element, type) and issubclass(element, BaseModel)):
                raise VaryError(f"{path}: {'.'.join(parts[: i + 1])} is a list, not a number")
            index_text = parts[i + 1]
            count = len(doc) if isinstance(doc, list) else 0
            if not index_text.isdigit() or int(index_text) >= count:
                raise VaryError(
                    f"{path}: {'.'.join(parts[: i + 1])} has {count} entries in the base scenario; "
                    f"give an index 0..{count - 1}"
                    if count
                    else f"{path}: the base scenario has no {'.'.join(parts[: i + 1])}"
                )
            doc = doc[int(index_text)]
            model = element
            i += 2
            if i >= len(parts):
                raise VaryError(f"{path}: name a field of {'.'.join(parts[:i])}")
            continue
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if last:
                raise VaryError(f"{path}: is a group of fields, not a number")
            model = annotation
            i += 1
            continue
        if not last:
            raise VaryError(
                f"{path}: {'.'.join(parts[: i + 1])} is a number, it has no field {parts[i + 1]!r}"
            )
        if annotation is bool or annotation not in (int, float):
            raise VaryError(f"{path}: not a numeric field (only numbers can be swept)")
        low = high = None
        low_exclusive = False
        for c in constraints:
            if isinstance(c, annotated_types.Ge):
                low = float(c.ge)  # type: ignore[arg-type]
            elif isinstance(c, annotated_types.Gt):
                low, low_exclusive = float(c.gt), True  # type: ignore[arg-type]
            elif isinstance(c, annotated_types.Le):
                high = float(c.le)  # type: ignore[arg-type]
        is_int = annotation is int
        return Field(
            path=path,
            kind=_kind(part, is_int),
            is_int=is_int,
            low=low,
            high=high,
            low_exclusive=low_exclusive,
        )
    raise VaryError(f"{path}: not a field path")


def parse_value(field: Field, text: str) -> Number:
    """One value of `field` from the user's text, in the field's unit (bytes, bytes/s, ms)."""
    text = text.strip()
    if not text:
        raise VaryError(f"{field.path}: empty value")
    try:
        if field.kind in ("bytes", "rate"):
            value: Number = parse_bytes(text)
        elif field.kind == "ms":
            match = _DURATION.match(text)
            if match is None:
                raise ValueError(
                    f"cannot read {text!r}: expected milliseconds or a unit (us, ms, s, min, h)"
                )
            number, unit = match.groups()
            factor = _DURATION_UNITS.get(unit)
            if factor is None:
                raise ValueError(f"unknown unit {unit!r} in {text!r}: use us, ms, s, min or h")
            value = float(number) * factor
        else:
            if _PLAIN.match(text) is None:
                raise ValueError(f"cannot read {text!r}: expected a plain number")
            value = float(text)
    except ValueError as error:
        raise VaryError(f"{field.path}: {error}") from None
    return _normalised(field, value)


def _normalised(field: Field, value: float) -> Number:
    if not math.isfinite(value):
        raise VaryError(f"{field.path}: {value} is not a finite number")
    if field.is_int:
        return round(value)
    return float(f"{value:.{_SIGNIFICANT}g}")


def _check_bounds(field: Field, value: Number) -> None:
    if field.low is not None and (
        value < field.low or (field.low_exclusive and value <= field.low)
    ):
        sign = ">" if field.low_exclusive else ">="
        raise VaryError(
            f"{field.path}: {shown(field, value)} is out of range (must be {sign} {shown(field, field.low)})"
        )
    if field.high is not None and value > field.high:
        raise VaryError(
            f"{field.path}: {shown(field, value)} is out of range (must be <= {shown(field, field.high)})"
        )


def shown(field: Field, value: float, exact: bool = True) -> str:
    """A value as the user would write it (binary units for sizes; exact adds the bytes)."""
    from app.engine.units import format_bytes

    if field.kind == "bytes":
        return f"{format_bytes(value)} ({int(value)} bytes)" if exact else format_bytes(value)
    if field.kind == "rate":
        return f"{format_bytes(value)}/s"
    if field.kind == "ms":
        return f"{value:g} ms"
    return f"{value:g}"


def parse_vary(spec: str, base: dict[str, Any]) -> Axis:
    """Parse one --vary against the base scenario (a validated scenario dumped as JSON)."""
    if len(spec) > MAX_VARY_CHARS:
        raise VaryError(f"--vary is longer than {MAX_VARY_CHARS} characters")
    if "=" not in spec:
        raise VaryError(
            f"{spec.strip() or '(empty)'}: expected PATH=A..B[:log][:N] or PATH=v1,v2,..."
        )
    path, _, rest = spec.partition("=")
    path = path.strip()
    field = resolve_field(path, base)
    rest = rest.strip()
    if not rest:
        raise VaryError(f"{path}: no values after '='")
    if ".." in rest:
        values = _range_values(field, rest)
    else:
        values = [parse_value(field, item) for item in rest.split(",")]
        if len(set(values)) != len(values):
            raise VaryError(f"{path}: a value is listed twice")
    for value in values:
        _check_bounds(field, value)
    return Axis(field=field, values=tuple(values), spec=spec.strip())


def _range_values(field: Field, text: str) -> list[Number]:
    start_text, _, tail = text.partition("..")
    end_text, *modifiers = tail.split(":")
    log = False
    count: int | None = None
    for modifier in (m.strip() for m in modifiers):
        if modifier in ("log", "lin"):
            log = modifier == "log"
        elif modifier.isdigit():
            count = int(modifier)
        else:
            raise VaryError(
                f"{field.path}: unknown range option {modifier!r} (use log, lin or a number of points)"
            )
    count = DEFAULT_POINTS_PER_RANGE if count is None else count
    start, end = parse_value(field, start_text), parse_value(field, end_text)
    _check_bounds(field, start)
    _check_bounds(field, end)
    if count < 1:
        raise VaryError(f"{field.path}: empty range (0 points)")
    if start == end and count > 1:
        raise VaryError(
            f"{field.path}: empty range ({start_text.strip()}..{end_text.strip()} has no width)"
        )
    if end < start:
        raise VaryError(
            f"{field.path}: empty range ({start_text.strip()} is above {end_text.strip()})"
        )
    if log and start <= 0:
        raise VaryError(f"{field.path}: a log range must start above 0")
    if count == 1:
        return [start]
    raw: list[float] = []
    for i in range(count):
        frac = i / (count - 1)
        raw.append(start * (end / start) ** frac if log else start + (end - start) * frac)
    raw[0], raw[-1] = start, end  # the ends exactly as written, whatever the rounding
    values = [_normalised(field, v) for v in raw]
    if len(set(values)) != len(values):
        raise VaryError(
            f"{field.path}: {count} points do not fit in {start_text.strip()}..{end_text.strip()} "
            "(integer values would repeat)"
        )
    return values
