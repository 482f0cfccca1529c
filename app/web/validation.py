"""422 items in FastAPI's own shape (loc, msg, type), for checks made inside an endpoint.

Shared by the JSON API and the pages that accept the same bodies (the New run form's progress
stream), so a field path reads the same wherever the error is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app.engine.units import format_bytes

# Union tags show up in validation paths; clean_loc removes them again so that `loc` is the
# scenario's own field path. Capitalised so they never collide with a field.
SCENARIO_TAG = "Scenario"
EXAMPLE_TAG = "ExampleRun"
_UNION_TAGS = {SCENARIO_TAG, EXAMPLE_TAG}


def clean_loc(loc: Sequence[Any]) -> list[str | int]:
    """The field path without the request-union tag: [body, guest, ram_bytes]."""
    out: list[str | int] = [part if isinstance(part, int) else str(part) for part in loc]
    if len(out) >= 2 and out[0] == "body" and out[1] in _UNION_TAGS:
        del out[1]
    return out


def _clean_msg(msg: str) -> str:
    # pydantic prefixes custom validator messages; the user only needs the message.
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


# pydantic's range errors: the bound is in ctx under this key, the message says it as a number.
_RANGE_WORDS = {
    "greater_than_equal": ("ge", "greater than or equal to"),
    "greater_than": ("gt", "greater than"),
    "less_than_equal": ("le", "less than or equal to"),
    "less_than": ("lt", "less than"),
}


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,g}"


def human_limit(field: str, limit: float) -> str | None:
    """A bound in the unit its field's name states, readable and exact: 64 MiB (67,108,864
    bytes), 1 TiB/s (1,099,511,627,776 bytes/s), 3600 s (3,600,000 ms); None for a plain
    number (a count, a fraction)."""
    if field.endswith("_bytes_per_s"):
        return f"{format_bytes(limit)}/s ({_number(limit)} bytes/s)"
    if field.endswith("_bytes"):
        if abs(limit) < 1024:
            return f"{_number(limit)} bytes"
        return f"{format_bytes(limit)} ({_number(limit)} bytes)"
    if field.endswith("_ms"):
        if abs(limit) < 10_000:
            return f"{limit:g} ms"
        return f"{limit / 1000:g} s ({_number(limit)} ms)"
    return None


def _range_msg(error: Any, loc: Sequence[Any], msg: str) -> str:
    """pydantic's range message with the bound in human units where the field has a unit
    ("greater than or equal to 64 MiB (67,108,864 bytes)", not "... to 67108864")."""
    words = _RANGE_WORDS.get(str(error.get("type")))
    names = [part for part in loc if isinstance(part, str)]
    ctx = error.get("ctx") or {}
    if words is None or not names or not isinstance(ctx.get(words[0]), int | float):
        return msg
    shown = human_limit(names[-1], ctx[words[0]])
    return msg if shown is None else f"Input should be {words[1]} {shown}"


def validation_items(
    errors: Sequence[Any], prefix: Sequence[str | int] = ()
) -> list[dict[str, Any]]:
    """Only loc, msg and type: `input` may be huge and `ctx` may hold exception objects. A range
    error's message states its bound in the field's unit (human_limit)."""
    items = []
    for error in errors:
        loc = clean_loc([*prefix, *error.get("loc", ())])
        msg = _clean_msg(str(error.get("msg", "invalid value")))
        items.append(
            {
                "loc": loc,
                "msg": _range_msg(error, loc, msg),
                "type": str(error.get("type", "value_error")),
            }
        )
    return items


def scenario_validation_error(
    error: ValidationError, prefix: Sequence[str | int]
) -> RequestValidationError:
    """Turn a scenario checked inside an endpoint into the same 422 as a checked body."""
    return RequestValidationError(validation_items(error.errors(), prefix))
