"""Shared reading of JSON-lines files (query-migrate samples and QMP events)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from .errors import ImportFileError
from .limits import MAX_LINE_CHARS

# A QMP transcript may carry direction markers before each JSON object.
_PREFIXES = ("<- ", "-> ", "< ", "> ")


def json_lines(text: str, file: str) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """Yield (line number, object or None when the line is no JSON object, stripped line)."""
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        for prefix in _PREFIXES:
            if line.startswith(prefix):
                line = line[len(prefix) :].lstrip()
                break
        if len(line) > MAX_LINE_CHARS or not line.startswith("{"):
            yield line_no, None, line
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            raise ImportFileError(file, line_no, "one JSON object per line", line) from None
        yield line_no, (value if isinstance(value, dict) else None), line


def timestamp_us(value: Any, file: str, line_no: int, line: str) -> int:
    """QMP's {"seconds": s, "microseconds": us} or a plain number of seconds since the epoch."""
    if isinstance(value, dict):
        seconds, micros = value.get("seconds"), value.get("microseconds")
        if (
            isinstance(seconds, int)
            and isinstance(micros, int)
            and _is_int(seconds)
            and _is_int(micros)
            and 0 <= micros < 1_000_000
            and 0 <= seconds < 10**11
        ):
            return seconds * 1_000_000 + micros
    elif _is_number(value) and 0 <= value < 10**11:
        return round(float(value) * 1_000_000)
    raise ImportFileError(
        file,
        line_no,
        'a "timestamp" of {"seconds": <int>, "microseconds": <0..999999>} or seconds since the epoch',
        line,
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def number_or_none(
    obj: dict[str, Any], key: str, file: str, line_no: int, line: str, what: str
) -> float | None:
    if key not in obj or obj[key] is None:
        return None
    value = obj[key]
    if not _is_number(value) or value < 0:
        raise ImportFileError(file, line_no, f"{what}{key!r} as a non-negative number", line)
    return float(value)


def int_or_none(
    obj: dict[str, Any], key: str, file: str, line_no: int, line: str, what: str
) -> int | None:
    value = number_or_none(obj, key, file, line_no, line, what)
    return None if value is None else int(value)
