"""switchover-ack on versus off on the same scenario."""

from __future__ import annotations

from typing import Any

from .scenario import Caps, Scenario
from .simulation import simulate
from .trace import Summary, Trace
from .units import format_ms


def document_with_ack(doc: dict[str, Any], on: bool) -> dict[str, Any]:
    """A scenario document with switchover-ack added to (on) or removed from (off) both ends;
    return-path is kept (added when turning the ack on, since the ack needs it), and the title
    says which. Only the top-level dict and the caps are new: the rest is shared with `doc`
    (sweeps build thousands of these). A side the document leaves out gets Caps' default."""
    caps = doc.get("caps", {})
    defaults = Caps()
    new_caps: dict[str, Any] = dict(caps)
    for side in ("source", "destination"):
        kept = [c for c in caps.get(side, getattr(defaults, side)) if c != "switchover-ack"]
        if on:
            if "return-path" not in kept:
                kept.append("return-path")
            kept.append("switchover-ack")
        new_caps[side] = kept
    title = doc.get("title", Scenario.model_fields["title"].default)
    return {**doc, "caps": new_caps, "title": f"{title} [switchover-ack {'on' if on else 'off'}]"}


def scenario_with_ack(scenario: Scenario, on: bool) -> Scenario:
    """The scenario with switchover-ack on or off at both ends (document_with_ack)."""
    return Scenario.model_validate(document_with_ack(scenario.model_dump(mode="json"), on))


def difference(a: Summary, b: Summary) -> dict[str, Any]:
    """Run a with switchover-ack against run b without: the differences and one sentence.
    The work moved is the drop in the destination's initial-bytes load inside downtime."""

    def sub(x: float | None, y: float | None) -> float | None:
        return None if x is None or y is None else round(x - y, 3)

    keys = sorted(set(a.downtime_breakdown_ms) | set(b.downtime_breakdown_ms))
    components = {
        k: round(a.downtime_breakdown_ms.get(k, 0.0) - b.downtime_breakdown_ms.get(k, 0.0), 3)
        for k in keys
    }
    moved = b.downtime_breakdown_ms.get(
        "dest_load_initial_bytes", 0.0
    ) - a.downtime_breakdown_ms.get("dest_load_initial_bytes", 0.0)
    if a.downtime_ms is not None and b.downtime_ms is not None:
        both = f"With switchover-ack the downtime is {format_ms(a.downtime_ms)}, without it {format_ms(b.downtime_ms)}"
        if moved > 0:
            sentence = (
                f"{both}: {format_ms(moved)} of destination work (loading initial bytes) moved into pre-copy; "
                f"total time {format_ms(a.total_time_ms)} vs {format_ms(b.total_time_ms)}."
            )
        else:
            sentence = f"{both}: the ack moved no destination work out of the downtime here."
    else:
        sentence = f"With switchover-ack the run {a.status} ({a.reason}); without it {b.status} ({b.reason})."
    return {
        "downtime_ms": sub(a.downtime_ms, b.downtime_ms),
        "guest_downtime_ms": sub(a.guest_downtime_ms, b.guest_downtime_ms),
        "total_time_ms": sub(a.total_time_ms, b.total_time_ms),
        "initial_bytes_load_moved_out_ms": round(moved, 3),
        "downtime_breakdown_ms": components,
        "sentence": sentence,
    }


def compare_ack(scenario: Scenario) -> tuple[Trace, Trace, dict[str, Any]]:
    on = simulate(scenario_with_ack(scenario, True))
    off = simulate(scenario_with_ack(scenario, False))
    return on, off, difference(on.summary, off.summary)
