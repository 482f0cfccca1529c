"""The current step in words: what happened, which gate holds switchover and why, which QEMU
function decides. The engine writes the sentences (decision.reason, gate.detail, event.detail);
this module picks and orders them for the reader."""

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


def _plain(obj: Any) -> dict[str, Any]:
    return dict(obj) if isinstance(obj, Mapping) else obj.model_dump(mode="json")  # type: ignore[no-any-return]


def explain_step(step: Any, events: Sequence[Any] = ()) -> dict[str, Any]:
    """A JSON-able explanation of one step (used by the step panel and its JSON twin)."""
    s = _plain(step)
    evs = [e for e in map(_plain, events) if e.get("step") == s["index"] and e["kind"] != "window"]
    gates = [dict(g) for g in s.get("gates") or []]
    for gate in gates:
        gate["title"] = GATE_TITLES.get(gate["name"], gate["name"])
    closed = [g for g in gates if not g.get("open")]
    decision = dict(s.get("decision") or {})
    if closed:
        holding = "Switchover is held by: " + "; ".join(g["detail"] for g in closed) + "."
    elif s.get("phase") in ("iterate", "idle", "setup"):
        holding = "No gate holds switchover: every condition is met."
    else:
        holding = "The switchover is under way (the VM is stopped); no gate applies now."
    facts = [
        ("time", f"{format_ms(s.get('t_ms'))} to {format_ms(s.get('end_ms'))}"),
        ("status", s.get("status") or "unknown"),
        ("RAM remaining", format_bytes(s.get("ram_remaining_bytes"))),
        ("pending estimate", format_bytes(s.get("pending_estimate_bytes"))),
        ("pending exact", format_bytes(s.get("pending_exact_bytes")) if s.get("pending_exact_bytes") is not None else "not queried in this step"),
        ("threshold", format_bytes(s.get("threshold_bytes"))),
        ("bandwidth", format_rate(s.get("bandwidth_bytes_per_s"))),
        ("transferred", format_bytes(s.get("transferred_bytes"))),
    ]
    devices = []
    for d in s.get("devices") or []:
        init_left = d.get("init_kernel_bytes") if d.get("init_kernel_bytes") is not None else d.get("init_est_bytes")
        devices.append(
            {
                "name": d["name"],
                "state": f"{d.get('src_state') or '?'} → {d.get('dst_state') or '?'}",
                "initial_left": format_bytes(init_left),
                "initial_loaded": format_bytes(d.get("init_loaded_bytes")),
                "dirty": format_bytes(d.get("dirty_kernel_bytes") if d.get("dirty_kernel_bytes") is not None else d.get("dirty_est_bytes")),
                "init_data_sent": d.get("init_data_sent"),
                "init_data_loaded": d.get("init_data_loaded"),
            }
        )
    return {
        "index": s["index"],
        "t_ms": s.get("t_ms"),
        "end_ms": s.get("end_ms"),
        "phase": s.get("phase"),
        "phase_title": PHASE_TITLES.get(s.get("phase") or "", s.get("phase")),
        "happened": [
            {"text": e["detail"], "side": e["side"], "device": e.get("device"), "kind": e["kind"],
             "qemu_function": e.get("qemu_function"), "t_ms": e["t_ms"]}
            for e in evs
        ],
        "gates": gates,
        "holding": holding,
        "decision": decision,
        "facts": [{"label": k, "value": v} for k, v in facts],
        "devices": devices,
        "provenance": s.get("provenance"),
    }
