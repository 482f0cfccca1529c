"""Source/destination clock alignment from messages seen on both sides.

Each message that one side sends and the other receives bounds the offset
`offset = destination clock - source clock`:
- source -> destination (OPEN_RETURN_PATH, PING n, SWITCHOVER_START): received after sent,
  so offset <= t_dst_received - t_src_sent;
- destination -> source over the return path (SWITCHOVER_ACK, PONG n, SHUT):
  offset >= t_dst_sent - t_src_received.
With QMP events only: source `setup` precedes destination `active` (the connection), source
STOP precedes destination RESUME, and destination RESUME precedes source `completed`.

The offset used is 0 when 0 lies inside the bounds (the logs are consistent with clocks
already in sync, e.g. one host or good NTP), else the middle of the interval (the classic
symmetric-delay estimate), or the nearest bound when only one side bounds it. The bounds,
the pairs and the method are stored in the trace's `import_info.clock` for the user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .qmpevents import QmpEventLog
from .tracelog import TraceLog, TraceRecord


@dataclass
class ClockAlignment:
    offset_us: int  # destination clock minus source clock
    lower_us: int | None
    upper_us: int | None
    method: str
    pairs: list[dict[str, Any]] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        return {
            "offset_ms": self.offset_us / 1000.0,
            "lower_bound_ms": None if self.lower_us is None else self.lower_us / 1000.0,
            "upper_bound_ms": None if self.upper_us is None else self.upper_us / 1000.0,
            "uncertainty_ms": None
            if self.lower_us is None or self.upper_us is None
            else abs(self.upper_us - self.lower_us) / 2000.0,
            "method": self.method,
            "meaning": "destination clock minus source clock; destination times were shifted by -offset",
            "pairs": self.pairs,
        }


def _first(records: list[TraceRecord], name: str, **fields: Any) -> TraceRecord | None:
    for record in records:
        if (
            record.name == name
            and record.t_us is not None
            and all(record.fields.get(k) == v for k, v in fields.items())
        ):
            return record
    return None


def _all(records: list[TraceRecord], name: str, **fields: Any) -> list[TraceRecord]:
    return [
        r
        for r in records
        if r.name == name
        and r.t_us is not None
        and all(r.fields.get(k) == v for k, v in fields.items())
    ]


def _trace_pairs(src: TraceLog, dst: TraceLog) -> list[tuple[str, str, int, int]]:
    """(message, direction, t_src_us, t_dst_us) for every message found on both sides."""
    s, d = src.records, dst.records
    pairs: list[tuple[str, str, int, int]] = []

    def add(name: str, direction: str, a: TraceRecord | None, b: TraceRecord | None) -> None:
        if a is not None and b is not None and a.t_us is not None and b.t_us is not None:
            pairs.append((name, direction, a.t_us, b.t_us))

    add(
        "OPEN_RETURN_PATH",
        "src->dst",
        _first(s, "savevm_send_open_return_path"),
        _first(d, "loadvm_process_command", com="OPEN_RETURN_PATH"),
    )
    for ping in _all(s, "savevm_send_ping"):
        value = ping.fields["value"]
        add(
            f"PING {value:#x}",
            "src->dst",
            ping,
            _first(d, "loadvm_process_command_ping", value=value),
        )
        # The PONG answering that ping: the first rp message 2 at/after the ping was processed.
        processed = _first(d, "loadvm_process_command_ping", value=value)
        if processed is not None and processed.t_us is not None:
            pong_sent = next(
                (
                    r
                    for r in _all(d, "migrate_send_rp_message", msg_type=2)
                    if r.t_us is not None and r.t_us >= processed.t_us
                ),
                None,
            )
            add(
                f"PONG {value:#x}",
                "dst->src",
                _first(s, "source_return_path_thread_pong", value=value),
                pong_sent,
            )
    add(
        "SWITCHOVER_START",
        "src->dst",
        _first(s, "savevm_send_switchover_start"),
        _first(d, "loadvm_process_command", com="SWITCHOVER_START"),
    )
    add(
        "SWITCHOVER_ACK",
        "dst->src",
        _first(s, "source_return_path_thread_switchover_acked"),
        _first(d, "migrate_send_rp_message", msg_type=7),
    )
    add(
        "SHUT",
        "dst->src",
        _first(s, "source_return_path_thread_shut"),
        _first(d, "migrate_send_rp_message", msg_type=1),
    )
    return pairs


def _event_pairs(src: QmpEventLog, dst: QmpEventLog) -> list[tuple[str, str, int, int]]:
    def first(log: QmpEventLog, name: str, status: str | None = None) -> int | None:
        for event in log.events:
            if event.name == name and (status is None or event.data.get("status") == status):
                return event.t_us
        return None

    pairs: list[tuple[str, str, int, int]] = []
    candidates = (
        (
            "source setup -> destination active",
            "src->dst",
            first(src, "MIGRATION", "setup"),
            first(dst, "MIGRATION", "active"),
        ),
        ("source STOP -> destination RESUME", "src->dst", first(src, "STOP"), first(dst, "RESUME")),
        (
            "destination RESUME -> source completed",
            "dst->src",
            first(src, "MIGRATION", "completed"),
            first(dst, "RESUME"),
        ),
    )
    for name, direction, t_src, t_dst in candidates:
        if t_src is not None and t_dst is not None:
            pairs.append((name, direction, t_src, t_dst))
    return pairs


def align_clocks(
    src_trace: TraceLog | None,
    dst_trace: TraceLog | None,
    src_events: QmpEventLog | None,
    dst_events: QmpEventLog | None,
    override_offset_us: int | None = None,
) -> ClockAlignment | None:
    """None when there is nothing from the destination to align."""
    if dst_trace is None and dst_events is None:
        return None
    raw: list[tuple[str, str, int, int]] = []
    if src_trace is not None and dst_trace is not None:
        raw += _trace_pairs(src_trace, dst_trace)
    if src_events is not None and dst_events is not None:
        raw += _event_pairs(src_events, dst_events)
    lower: int | None = None
    upper: int | None = None
    pairs: list[dict[str, Any]] = []
    for name, direction, t_src, t_dst in raw:
        bound = t_dst - t_src
        if direction == "src->dst":
            upper = bound if upper is None else min(upper, bound)
        else:
            lower = bound if lower is None else max(lower, bound)
        pairs.append(
            {
                "message": name,
                "direction": direction,
                "bound": "upper" if direction == "src->dst" else "lower",
                "bound_ms": bound / 1000.0,
            }
        )
    if override_offset_us is not None:
        return ClockAlignment(override_offset_us, lower, upper, "given by the user", pairs)
    if lower is None and upper is None:
        return ClockAlignment(
            0, None, None, "no message seen on both sides: clocks assumed equal (offset 0)", pairs
        )
    if lower is not None and upper is not None:
        if lower > upper:
            return ClockAlignment(
                (lower + upper) // 2,
                lower,
                upper,
                "bounds contradict each other (clock drift or mismatched logs): middle of the two bounds",
                pairs,
            )
        if lower <= 0 <= upper:
            return ClockAlignment(
                0,
                lower,
                upper,
                "0 lies within the bounds: logs consistent with synchronised clocks",
                pairs,
            )
        return ClockAlignment(
            (lower + upper) // 2,
            lower,
            upper,
            "middle of the bounds (symmetric one-way delay assumed)",
            pairs,
        )
    if lower is not None:
        offset = max(0, lower)
        return ClockAlignment(
            offset, lower, None, "only a lower bound: the smallest offset consistent with it", pairs
        )
    assert upper is not None
    offset = min(0, upper)
    return ClockAlignment(
        offset, None, upper, "only an upper bound: the smallest offset consistent with it", pairs
    )
