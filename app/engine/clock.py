"""Comparing simulated times.

Times are float milliseconds. A time computed as `t0 + 100` and compared back with
`t - t0 >= 100` can come out as 99.99999999999999, and a window that should close never
does (the zero-time loop of issue 8). Every "has time t reached the moment `when`?" test in
the engine goes through `reached`, which compares the two times directly, with a tolerance
far below anything the engine models (a nanosecond).
"""

from __future__ import annotations

EPS_MS = 1e-6


def reached(t_ms: float, when_ms: float) -> bool:
    """True once `t_ms` is at or after `when_ms` (within EPS_MS)."""
    return t_ms >= when_ms - EPS_MS


def before(t_ms: float, when_ms: float) -> bool:
    """True while `t_ms` is strictly before `when_ms` (the negation of `reached`)."""
    return not reached(t_ms, when_ms)
