"""Turn parsed QEMU outputs into the trace model a simulated run uses, stage by stage:

1. inputs.py: the parsed files, checked, cut to the last migration, time zero;
2. align.py: the destination clock aligned on the source's;
3. replay.py: both hosts' trace lines replayed in time order (`Replay`, one handler per line);
4. steps.py: setup, one step per pre-copy pass, the switchover phases;
5. summary.py: the summary with where each figure came from (observed.py: version, settings).

Time zero is the source's `migrate_set_state new state setup` (else the source MIGRATION
`setup` event, else the first query-migrate sample minus its total-time). Every time is ms
since then on the source clock. Values QEMU did not log stay None. `import_info.summary_sources`
says where every summary figure came from; QEMU's own figures are kept in `qemu_reported`.
"""

from __future__ import annotations

import bisect
from dataclasses import replace
from typing import Any

from app import __version__
from app.engine.profiles import PROFILES
from app.engine.trace import Event, Step, Summary, Trace

from .align import ClockAlignment, align_clocks
from .inputs import ImportInputs, check_usable, last_migration, time_zero_us, untimed
from .observed import guess_profile, observed_settings
from .replay import Replay, ack_in_use
from .steps import build_steps
from .summary import BREAKDOWN_LABELS, round_ms, summarize


def build_trace(inputs: ImportInputs) -> Trace:
    """Build an imported Trace; raises ImportFileError when the inputs hold nothing usable."""
    check_usable(inputs)
    inputs, earlier = last_migration(inputs)
    untimed_dst_dropped = False
    if (
        inputs.src_trace is not None
        and inputs.src_trace.timestamped
        and inputs.dst_trace is not None
        and not inputs.dst_trace.timestamped
    ):
        # Without timestamps the destination cannot be placed on the source's time axis.
        inputs = replace(inputs, dst_trace=None)
        untimed_dst_dropped = True
    alignment = align_clocks(
        inputs.src_trace,
        inputs.dst_trace,
        inputs.src_events,
        inputs.dst_events,
        inputs.clock_offset_us,
    )
    offset_us = alignment.offset_us if alignment is not None else 0
    t0_us, t0_source = time_zero_us(inputs)
    line_order = untimed(inputs.src_trace) or (
        inputs.src_trace is None and untimed(inputs.dst_trace)
    )
    replay = Replay(
        t0_us=t0_us, offset_us=offset_us, untimed=line_order, ack_in_use=ack_in_use(inputs)
    )
    replay.run(inputs)
    steps = build_steps(replay, inputs)
    summary, sources, reported = summarize(replay, inputs, steps)
    _attach_event_steps(replay.events, steps)
    profile_name, evidence = guess_profile(inputs, replay)
    notes = _notes(inputs, replay, alignment, line_order)
    if untimed_dst_dropped:
        notes.append(
            "The destination trace has no timestamps (no -msg timestamp=on): it could not be aligned and was left out."
        )
    import_info: dict[str, Any] = {
        "files": _file_infos(inputs),
        "time_zero": {"source": t0_source, "epoch_us": t0_us},
        "time_axis": "line order (the trace has no timestamps: run QEMU with -msg timestamp=on)"
        if line_order
        else "ms since migrate, source clock",
        "clock": alignment.info() if alignment is not None else None,
        "switchover_ack_in_use": replay.ack_in_use,
        "earlier_migrations_skipped": earlier,
        "summary_sources": sources,
        "qemu_reported": reported,
        "downtime_checkpoints_ms": {k: round_ms(v) for k, v in sorted(replay.checkpoints.items())},
        "downtime_handlers": replay.handler_downtimes,
        "downtime_breakdown_labels": {
            k: BREAKDOWN_LABELS[k] for k in summary.downtime_breakdown_ms if k in BREAKDOWN_LABELS
        },
        "qemu_version": {"profile": profile_name, "evidence": evidence},
        "observed": observed_settings(replay, inputs, summary),
        "errors": replay.errors,
        "skipped_lines_total": _total(inputs, "skipped_lines"),
        "ignored_event_lines_total": _ignored_total(inputs),
    }
    title = inputs.title or _default_title(inputs, summary)
    trace = Trace(
        engine_version=__version__,
        source="import",
        title=title[:200],
        qemu_profile=profile_name,
        scenario={},
        resolved={},
        profile=PROFILES[profile_name].as_dict(),
        summary=summary,
        steps=steps,
        events=sorted(replay.events, key=lambda e: (e.t_ms, e.step)),
        notes=notes,
        import_info=import_info,
    )
    # The scenario a user would simulate to compare (see derive.py); stored with the run.
    from .derive import derive_scenario

    derived = derive_scenario(trace)
    trace.scenario = derived["scenario"]
    trace.resolved = {"provenance": derived["provenance"]}
    return trace


def _attach_event_steps(events: list[Event], steps: list[Step]) -> None:
    starts = [s.t_ms for s in steps]
    for e in events:
        index = bisect.bisect_right(starts, e.t_ms) - 1
        e.step = max(0, index)


def _notes(
    inputs: ImportInputs, replay: Replay, alignment: ClockAlignment | None, line_order: bool
) -> list[str]:
    notes = ["Imported from real QEMU output: values QEMU did not log are unknown (null), never 0."]
    if line_order:
        notes.append(
            "The trace log has no timestamps (QEMU without -msg timestamp=on): steps are in line order and durations are unknown."
        )
    if alignment is not None:
        notes.append(
            f"Destination times shifted by {-alignment.offset_us / 1000.0:+.3f} ms to the source clock ({alignment.method})."
        )
    else:
        notes.append(
            "No destination files: destination-side instants (load, VM start) are unknown."
        )
    if inputs.src_trace is None:
        notes.append("No source trace: passes, thresholds and the ack time are unknown.")
    if replay.ack_in_use is None:
        notes.append(
            "No sign of switchover-ack in these files (no ack lines): the ack gate is unknown."
        )
    if not replay.checkpoints:
        notes.append(
            "No vmstate_downtime_* lines (QEMU 8.2+, -trace 'vmstate_downtime*'): switchover phases are bounded by the nearest trace lines (derived)."
        )
    return notes


def _file_infos(inputs: ImportInputs) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for role, item in (
        ("source_trace", inputs.src_trace),
        ("destination_trace", inputs.dst_trace),
        ("query_migrate", inputs.query),
        ("source_events", inputs.src_events),
        ("destination_events", inputs.dst_events),
        ("info_migrate", inputs.info),
    ):
        if item is not None:
            out[role] = item.info()
    return out


def _total(inputs: ImportInputs, attribute: str) -> int:
    total = 0
    for item in (
        inputs.src_trace,
        inputs.dst_trace,
        inputs.query,
        inputs.src_events,
        inputs.dst_events,
        inputs.info,
    ):
        if item is not None:
            total += int(getattr(item, attribute, 0))
    return total


def _ignored_total(inputs: ImportInputs) -> int:
    total = 0
    for item in (inputs.src_trace, inputs.dst_trace, inputs.src_events, inputs.dst_events):
        if item is not None:
            total += sum(item.ignored_events.values())
    return total


def _default_title(inputs: ImportInputs, summary: Summary) -> str:
    name = (
        inputs.src_trace.file
        if inputs.src_trace is not None
        else (inputs.query.file if inputs.query is not None else "QEMU migration")
    )
    return f"imported: {name} ({summary.status})"
