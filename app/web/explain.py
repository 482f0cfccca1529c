"""The current step in words: what happened, which gate holds switchover and why, which QEMU
function decides. The engine writes the sentences (decision.reason, gate.detail, event.detail);
this module picks and orders them for the reader, and is the ONE place where the step panel's
text, its gates box and its decision are put together, so they cannot disagree.

Rules the engine's sentences leave implicit, applied here from its gates and events:
- QEMU reads `migration_can_switchover` once per pass, at the top of `migration_iteration_run`.
  The gates of an iterate step are that reading. An ack that arrives *during* the pass (an
  `ack_received` or `switchover_permitted` event in a step whose ack gate is closed) counts from
  the next pass: the gates box and the events say so, instead of "switchover permitted" beside a
  closed gate. The engine's decision reason states it itself (for that pass and the next).
- Set-up steps have no gate yet (the first pass has not run), and a failed or cancelled run
  never switches over: neither says "every condition is met".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.engine.units import format_bytes, format_ms, format_rate

GATE_TITLES = {
    "ram_threshold": "RAM and device data pending vs threshold",
    "switchover_ack": "switchover-ack from the destination",
    "vm_running": "guest running (the ack gate only applies while it runs)",
}
PHASE_TITLES = {
    "setup": "Setup: save_setup hooks, return path opened",
    "iterate": "Pre-copy iteration (migration_iteration_run)",
    "idle": "Idle: nothing to send in this window",
    "vm_stop": "VM stop: downtime starts",
    "pre_switchover": "Paused before switchover",
    "ram_complete": "RAM complete: last bitmap sync and the remaining dirty pages",
    "device_complete": "Device complete: STOP_COPY data",
    "non_iterable": "Non-iterable device and CPU state",
    "dest_load": "Destination loads what is left",
    "vm_start": "Destination starts the VM",
    "completed": "Completed",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
PRE_COPY_PHASES = ("iterate", "idle")
SWITCHOVER_PHASES = (
    "vm_stop",
    "pre_switchover",
    "ram_complete",
    "device_complete",
    "non_iterable",
    "dest_load",
    "vm_start",
)
ACK_ARRIVAL_KINDS = ("ack_received", "switchover_permitted")
# What the class may answer to "what happens next?" (teaching mode), keyed by decision code.
NEXT_CHOICES = {
    "keep_iterating": "QEMU keeps iterating (a gate still holds)",
    "wait_for_ack": "QEMU waits for the ack (RAM fits, the ack gate holds)",
    "switchover": "QEMU stops the VM and switches over",
}


def _plain(obj: Any) -> dict[str, Any]:
    return dict(obj) if isinstance(obj, Mapping) else obj.model_dump(mode="json")


def _late_ack(
    phase: str | None, gates: Sequence[Mapping[str, Any]], events: Sequence[Mapping[str, Any]]
) -> float | None:
    """The time an ack arrived during this pass while the pass had read the ack gate closed."""
    if phase not in PRE_COPY_PHASES:
        return None
    ack_gate = next((g for g in gates if g["name"] == "switchover_ack"), None)
    if ack_gate is None or ack_gate.get("open"):
        return None
    arrived = [e["t_ms"] for e in events if e["kind"] in ACK_ARRIVAL_KINDS]
    return min(arrived) if arrived else None


def _holding(
    phase: str | None, gates: Sequence[Mapping[str, Any]], decision: Mapping[str, Any]
) -> str:
    closed = [g for g in gates if not g.get("open")]
    if phase == "setup":
        return (
            "Set-up: no gate is read yet. migration_iteration_run reads migration_can_switchover and the "
            "pending figures from its first pass on."
        )
    if phase == "failed":
        return "The migration failed: it never switches over, so no gate applies."
    if phase == "cancelled":
        return "The migration was cancelled: it never switched over, so no gate applies."
    if phase in SWITCHOVER_PHASES or phase == "completed":
        return "The switchover is under way or done (the VM was stopped); no gate applies now."
    if not gates:
        return "No gate was read in this step."
    if closed:
        # `gates` are the rows the gates box shows (late-ack wording included): the same words.
        return "Switchover is held by: " + "; ".join(g["detail"] for g in closed) + "."
    if decision.get("code") == "switchover":
        return "No gate holds switchover: both gates were open at the top of this pass, so QEMU switches over."
    return "Every gate was open at the top of this pass."


def _gate_rows(
    gates: Sequence[Mapping[str, Any]], late_ack_ms: float | None
) -> list[dict[str, Any]]:
    rows = []
    for gate in gates:
        row = dict(gate)
        row["title"] = GATE_TITLES.get(gate["name"], gate["name"])
        if late_ack_ms is not None and gate["name"] == "switchover_ack":
            row["detail"] = (
                f"closed when this pass began; the ack arrived during the pass, at {format_ms(late_ack_ms)}, "
                "and counts from the next pass (migration_can_switchover is read once, at the top of "
                "migration_iteration_run)"
            )
        rows.append(row)
    return rows


def _happened(
    events: Sequence[Mapping[str, Any]], late_ack_ms: float | None
) -> list[dict[str, Any]]:
    out = []
    for e in events:
        text = e["detail"]
        if late_ack_ms is not None and e["kind"] == "switchover_permitted":
            text = (
                "switchover permitted from the next pass: the ack arrived during this one, after "
                "migration_iteration_run had read migration_can_switchover"
            )
        elif late_ack_ms is not None and e["kind"] == "ack_received":
            text += " (read by QEMU at the top of the next pass)"
        out.append(
            {
                "text": text,
                "side": e["side"],
                "device": e.get("device"),
                "kind": e["kind"],
                "qemu_function": e.get("qemu_function"),
                "t_ms": e["t_ms"],
            }
        )
    return out


def next_prompt(step: Any, following: Any | None) -> dict[str, Any] | None:
    """Teaching mode's "what happens next?": asked before a pass whose decision differs from this
    one's (a gate opens or QEMU switches over); the next step answers it."""
    if following is None:
        return None
    s, n = _plain(step), _plain(following)
    if s.get("phase") not in PRE_COPY_PHASES or n.get("phase") not in PRE_COPY_PHASES:
        return None
    now, then = (s.get("decision") or {}).get("code"), (n.get("decision") or {}).get("code")
    if then not in NEXT_CHOICES or now == then:
        return None
    return {
        "question": "What does QEMU decide in the next pass?",
        "choices": [{"code": code, "text": text} for code, text in NEXT_CHOICES.items()],
        "answer": then,
        "answer_step": n["index"],
    }


def explain_step(step: Any, events: Sequence[Any] = ()) -> dict[str, Any]:
    """A JSON-able explanation of one step (used by the step panel and its JSON twin)."""
    s = _plain(step)
    phase = s.get("phase")
    evs = [e for e in map(_plain, events) if e.get("step") == s["index"] and e["kind"] != "window"]
    raw_gates = [dict(g) for g in s.get("gates") or []]
    decision = dict(s.get("decision") or {})
    late_ack_ms = _late_ack(phase, raw_gates, evs)
    gates = _gate_rows(raw_gates, late_ack_ms)
    facts = [
        ("time", f"{format_ms(s.get('t_ms'))} to {format_ms(s.get('end_ms'))}"),
        ("status", s.get("status") or "unknown"),
        ("RAM remaining", format_bytes(s.get("ram_remaining_bytes"))),
        ("pending estimate", format_bytes(s.get("pending_estimate_bytes"))),
        (
            "pending exact",
            format_bytes(s.get("pending_exact_bytes"))
            if s.get("pending_exact_bytes") is not None
            else "not queried in this step",
        ),
        ("threshold", format_bytes(s.get("threshold_bytes"))),
        ("bandwidth", format_rate(s.get("bandwidth_bytes_per_s"))),
        ("transferred", format_bytes(s.get("transferred_bytes"))),
    ]
    devices = []
    for d in s.get("devices") or []:
        init_left = (
            d.get("init_kernel_bytes")
            if d.get("init_kernel_bytes") is not None
            else d.get("init_est_bytes")
        )
        devices.append(
            {
                "name": d["name"],
                "state": f"{d.get('src_state') or '?'} → {d.get('dst_state') or '?'}",
                "initial_left": format_bytes(init_left),
                "initial_loaded": format_bytes(d.get("init_loaded_bytes")),
                "dirty": format_bytes(
                    d.get("dirty_kernel_bytes")
                    if d.get("dirty_kernel_bytes") is not None
                    else d.get("dirty_est_bytes")
                ),
                "init_data_sent": d.get("init_data_sent"),
                "init_data_loaded": d.get("init_data_loaded"),
            }
        )
    return {
        "index": s["index"],
        "t_ms": s.get("t_ms"),
        "end_ms": s.get("end_ms"),
        "phase": phase,
        "phase_title": PHASE_TITLES.get(phase or "", phase),
        "happened": _happened(evs, late_ack_ms),
        "gates": gates,
        "holding": _holding(phase, gates, decision),
        "late_ack_ms": late_ack_ms,
        "decision": decision,
        "facts": [{"label": k, "value": v} for k, v in facts],
        "devices": devices,
        "provenance": s.get("provenance"),
    }


def _ack_applies(scenario: Mapping[str, Any] | None) -> bool | None:
    """Both sides enable switchover-ack (None when the run has no scenario to say, e.g. imported)."""
    caps = (scenario or {}).get("caps")
    if not isinstance(caps, Mapping):
        return None
    return all("switchover-ack" in (caps.get(side) or []) for side in ("source", "destination"))


def summary_story(
    summary: Mapping[str, Any], scenario: Mapping[str, Any] | None, source: str | None
) -> dict[str, str]:
    """The summary tiles that need words, not just a number: ack, switchover permitted, downtime."""
    status = summary.get("status")
    switched = summary.get("switchover_started_at_ms") is not None
    applies = _ack_applies(scenario) if source != "import" else None
    if applies is False:
        ack = "not applicable"
        ack_sub = "switchover-ack is off: nothing to wait for"
    else:
        ack = (
            format_ms(summary.get("ack_received_at_ms"))
            if summary.get("ack_received_at_ms") is not None
            else ("never" if applies and status != "completed" else "unknown")
        )
        permitted = summary.get("switchover_permitted_at_ms")
        if permitted is None:
            ack_sub = "switchover never permitted"
        elif switched:
            ack_sub = f"switchover permitted {format_ms(permitted)}"
        else:
            ack_sub = f"switchover permitted {format_ms(permitted)}, but the run {status or 'ended'} before switching over"
    if switched:
        downtime_note = ""
    elif status in ("failed", "cancelled"):
        downtime_note = f"no downtime: the run {status} before the VM stopped"
    else:
        downtime_note = "no downtime recorded"
    return {"ack": ack, "ack_sub": ack_sub, "downtime_note": downtime_note}
