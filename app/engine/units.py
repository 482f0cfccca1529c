"""Parse and format sizes, rates and durations.

Scenario documents accept plain integers (bytes, bytes per second) or strings with a
unit: "8 GiB", "300 MB", "128 MiB", "10 Gbit". Rates use the same units, per second.
"""

from __future__ import annotations

import math
import re

_UNITS: dict[str, float] = {
    "b": 1,
    "byte": 1,
    "bytes": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
    # Bit units, as network people write link speeds.
    "bit": 1 / 8,
    "kbit": 1000 / 8,
    "mbit": 1000**2 / 8,
    "gbit": 1000**3 / 8,
    "tbit": 1000**4 / 8,
    "kibit": 1024 / 8,
    "mibit": 1024**2 / 8,
    "gibit": 1024**3 / 8,
}

_PATTERN = re.compile(
    r"^\s*([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*(?:/s|ps)?\s*$"
)

UNIT_HELP = "an integer number of bytes or a string such as '8 GiB', '300 MB', '128 MiB', '10 Gbit'"


def parse_bytes(value: object) -> int:
    """Return a byte count from an int or a string with a unit; raise ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"expected {UNIT_HELP}, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number of bytes, got {value}")
        if value != int(value):
            raise ValueError(f"expected a whole number of bytes, got {value}")
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"expected {UNIT_HELP}")
    match = _PATTERN.match(value)
    if match is None:
        raise ValueError(f"cannot read {value!r}: expected {UNIT_HELP}")
    number, unit = match.groups()
    factor = _UNITS.get(unit.lower() if unit else "b")
    if factor is None:
        raise ValueError(
            f"unknown unit {unit!r} in {value!r}: use B, KB, MB, GB, KiB, MiB, GiB, Gbit"
        )
    amount = float(number) * factor
    if not math.isfinite(amount) or amount > 2**63:
        raise ValueError(f"{value!r} is too large")
    return round(amount)


def format_bytes(n: float | None) -> str:
    """Human form for users: binary units (MiB, GiB) as QEMU's own HMP output does."""
    if n is None:
        return "unknown"
    n = float(n)
    sign = "-" if n < 0 else ""
    n = abs(n)
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            value = n / size
            return f"{sign}{value:.1f} {unit}" if value < 100 else f"{sign}{value:.0f} {unit}"
    return f"{sign}{n:.0f} B"


def format_rate(n: float | None) -> str:
    return "unknown" if n is None else f"{format_bytes(n)}/s"


def format_ms(ms: float | None) -> str:
    if ms is None:
        return "unknown"
    if abs(ms) >= 10_000:
        return f"{ms / 1000:.2f} s"
    if abs(ms) >= 100:
        return f"{ms:.0f} ms"
    return f"{ms:.1f} ms"
