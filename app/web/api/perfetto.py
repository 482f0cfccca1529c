"""Chrome Trace Event JSON (opens in ui.perfetto.dev and chrome://tracing).

Layout: process 1 is the source, process 2 the destination. The source's "migration thread"
track holds one slice per run of consecutive steps in the same phase; counter tracks show RAM
remaining, the switchover threshold and each device's initial and dirty bytes; instant events
mark INIT_DATA_SENT, acks and the VM stop/start. Times are microseconds, as the format wants.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from app.engine.trace import Event, Step, Trace

SOURCE_PID = 1
DEST_PID = 2
PHASE_TID = 1
EVENTS_TID = 2

INSTANT_NAMES: dict[str, str] = {
    "init_data_sent": "INIT_DATA_SENT",
    "init_data_loaded": "INIT_DATA_SENT loaded",
    "ack_sent": "ACK sent",
    "ack_received": "ACK received",
    "switchover_permitted": "switchover permitted",
    "switchover_decided": "switchover decided",
    "vm_stop": "VM stop",
    "vm_start": "VM start",
    "reinit": "REINIT",
    "error": "error",
}


def _us(ms: float) -> float:
    return round(ms * 1000.0, 3)


def metadata() -> list[dict[str, Any]]:
    names = [
        ("process_name", SOURCE_PID, 0, {"name": "source QEMU"}),
        ("process_name", DEST_PID, 0, {"name": "destination QEMU"}),
        ("process_sort_index", SOURCE_PID, 0, {"sort_index": 1}),
        ("process_sort_index", DEST_PID, 0, {"sort_index": 2}),
        ("thread_name", SOURCE_PID, PHASE_TID, {"name": "migration thread"}),
        ("thread_name", SOURCE_PID, EVENTS_TID, {"name": "source events"}),
        ("thread_name", DEST_PID, EVENTS_TID, {"name": "destination events"}),
    ]
    return [
        {"name": n, "ph": "M", "pid": pid, "tid": tid, "ts": 0, "args": args}
        for n, pid, tid, args in names
    ]


def phase_slices(steps: Iterable[Step]) -> list[dict[str, Any]]:
    """One complete ("X") slice per run of consecutive steps in the same phase.

    Slices on one track must not overlap (viewers reject improperly nested slices); an
    imported trace's steps may, so each slice ends at the latest where the next one starts.
    """
    slices = _raw_phase_slices(steps)
    for current, following in itertools.pairwise(slices):
        current["dur"] = round(max(min(current["dur"], following["ts"] - current["ts"]), 0.0), 3)
    return slices


def _raw_phase_slices(steps: Iterable[Step]) -> list[dict[str, Any]]:
    slices: list[dict[str, Any]] = []
    # Only the first and last step of the current group are held: exports stream the steps.
    first: Step | None = None
    last: Step | None = None
    for step in itertools.chain(steps, [None]):
        if step is not None and first is not None and step.phase == first.phase:
            last = step
            continue
        if first is not None and last is not None:
            start, end = first.t_ms, max(last.end_ms, first.t_ms)
            slices.append(
                {
                    "name": first.phase,
                    "cat": "phase",
                    "ph": "X",
                    "pid": SOURCE_PID,
                    "tid": PHASE_TID,
                    "ts": _us(start),
                    "dur": round(max(_us(end) - _us(start), 0.0), 3),
                    "args": {
                        "first_step": first.index,
                        "last_step": last.index,
                        "decision": last.decision.code,
                    },
                }
            )
        first = last = step
    return slices


def _counter(name: str, ts_ms: float, value: float) -> dict[str, Any]:
    return {
        "name": name,
        "cat": "counter",
        "ph": "C",
        "pid": SOURCE_PID,
        "tid": 0,
        "ts": _us(ts_ms),
        "args": {"value": value},
    }


def counters(steps: Iterable[Step]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for step in steps:
        if step.ram_remaining_bytes is not None:
            out.append(_counter("RAM remaining bytes", step.end_ms, step.ram_remaining_bytes))
        if step.threshold_bytes is not None:
            out.append(_counter("threshold bytes", step.end_ms, step.threshold_bytes))
        for device in step.devices:
            if device.init_est_bytes is not None:
                out.append(
                    _counter(f"{device.name} initial bytes", step.end_ms, device.init_est_bytes)
                )
            if device.dirty_est_bytes is not None:
                out.append(
                    _counter(f"{device.name} dirty bytes", step.end_ms, device.dirty_est_bytes)
                )
    return out


def instants(events: Iterable[Event]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for event in events:
        label = INSTANT_NAMES.get(event.kind)
        if label is None:
            continue
        name = f"{label} {event.device}" if event.device else label
        out.append(
            {
                "name": name,
                "cat": event.kind,
                "ph": "i",
                "s": "t",
                "pid": DEST_PID if event.side == "destination" else SOURCE_PID,
                "tid": EVENTS_TID,
                "ts": _us(event.t_ms),
                "args": {
                    "detail": event.detail,
                    "step": event.step,
                    "qemu_function": event.qemu_function,
                },
            }
        )
    return out


def to_trace_events(trace: Trace, run_id: str | None = None) -> dict[str, Any]:
    body = phase_slices(trace.steps) + counters(trace.steps) + instants(trace.events)
    # A stable sort by time keeps every track's timestamps monotonic, as viewers expect.
    body.sort(key=lambda event: event["ts"])
    return {
        "traceEvents": metadata() + body,
        "displayTimeUnit": "ms",
        "otherData": other_data(
            run_id, trace.title, trace.engine_version, trace.qemu_profile, trace.summary.status
        ),
    }


def other_data(
    run_id: str | None, title: str, engine_version: str, qemu_profile: str, status: str
) -> dict[str, Any]:
    return {
        "generator": "migscope",
        "run_id": run_id,
        "title": title,
        "engine_version": engine_version,
        "qemu_profile": qemu_profile,
        "status": status,
    }
