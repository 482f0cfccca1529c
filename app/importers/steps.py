"""Stage 4 of building a trace: steps from the replay. A `setup` step, one `iterate` step per
pass, then the switchover phases bounded by `vmstate_downtime_checkpoint` (measured) or by
the nearest trace lines (derived); without pass lines, one step per query-migrate sample or
one step for the whole migration. Long runs are merged down to MAX_STEPS."""

from __future__ import annotations

import bisect
from typing import Any, Literal

from app.engine.trace import Decision, DeviceStep, Gate, Step

from .inputs import ImportInputs
from .limits import MAX_STEPS
from .querymigrate import QuerySample
from .replay import PassRecord, Replay

# How a step's figures are known (the trace model's Step.provenance).
Provenance = Literal["measured", "derived"]


def _nearest_sample(
    samples: list[QuerySample], times_ms: list[float], t_ms: float
) -> QuerySample | None:
    index = bisect.bisect_right(times_ms, t_ms + 1e-9) - 1
    return samples[index] if index >= 0 else None


def build_steps(replay: Replay, inputs: ImportInputs) -> list[Step]:
    samples = inputs.query.samples if inputs.query is not None else []
    sample_t = [(s.t_us - replay.t0_us) / 1000.0 for s in samples]
    no_vfio = not replay.devices
    steps: list[Step] = []
    have_dst = inputs.has_destination

    def common(t_end: float) -> dict[str, Any]:
        sample = _nearest_sample(samples, sample_t, t_end)
        return {
            "ram_remaining_bytes": sample.ram_remaining_bytes if sample is not None else None,
            "expected_downtime_ms": sample.expected_downtime_ms if sample is not None else None,
            "transferred_bytes": sample.ram_transferred_bytes if sample is not None else None,
            "vfio_transferred_bytes": sample.vfio_transferred_bytes if sample is not None else None,
        }

    first_pass = replay.passes[0].start_ms if replay.passes else None
    if first_pass is not None and first_pass > 0:
        c = common(first_pass)
        steps.append(
            Step(
                index=0,
                t_ms=0.0,
                end_ms=round(first_pass, 3),
                phase="setup",
                status=replay.passes[0].end_status or "setup",
                vm_running=True,
                dst_vm_running=False if have_dst else None,
                ram_remaining_bytes=c["ram_remaining_bytes"],
                ram_dirty_unsynced_bytes=None,
                dirty_sync_count=replay.setup_sync_count,
                bandwidth_bytes_per_s=None,
                threshold_bytes=None,
                pending_estimate_bytes=None,
                pending_exact_bytes=None,
                expected_downtime_ms=c["expected_downtime_ms"],
                can_switchover=None,
                switchover_acked=None,
                transferred_bytes=c["transferred_bytes"],
                ram_transferred_bytes=None,
                vfio_transferred_bytes=c["vfio_transferred_bytes"],
                loaded_bytes=None,
                in_flight_bytes=None,
                devices=[
                    DeviceStep(
                        name=d,
                        src_state=None,
                        dst_state=None,
                        init_est_bytes=None,
                        dirty_est_bytes=None,
                        init_kernel_bytes=None,
                        dirty_kernel_bytes=None,
                        stop_copy_length_bytes=None,
                        sent_bytes=None,
                        loaded_bytes=None,
                        init_loaded_bytes=None,
                        init_data_sent=None,
                        init_data_loaded=None,
                    )
                    for d in replay.devices
                ],
                decision=Decision(
                    code="idle",
                    reason="setup: save_setup hooks, first dirty-bitmap sync",
                    qemu_function="qemu_savevm_state_setup",
                ),
                provenance="measured" if not replay.untimed else "derived",
            )
        )
    for p in replay.passes:
        end = p.end_ms if p.end_ms is not None else p.start_ms
        c = common(end)
        pending = p.exact if p.exact is not None else p.estimate
        gates: list[Gate] = []
        if pending is not None and p.threshold_at_start is not None:
            gates.append(
                Gate(
                    name="ram_threshold",
                    open=pending < p.threshold_at_start,
                    detail=f"pending {pending} bytes vs threshold {p.threshold_at_start:.0f} bytes",
                )
            )
        if replay.ack_in_use:
            gates.append(
                Gate(
                    name="switchover_ack",
                    open=p.acked_at_start,
                    detail="ack received" if p.acked_at_start else "waiting for SWITCHOVER_ACK",
                )
            )
        decision = _decision(p, replay.ack_in_use)
        ram_remaining = c["ram_remaining_bytes"]
        if ram_remaining is None and no_vfio and p.estimate is not None and not samples:
            ram_remaining = p.estimate  # RAM-only: the estimate is RAM's bitmap x page size
        vfio_tr = c["vfio_transferred_bytes"]
        if vfio_tr is None and replay.devices and p.closed:
            vfio_tr = p.vfio_sent_bytes
        steps.append(
            Step(
                index=len(steps),
                t_ms=round(p.start_ms, 3),
                end_ms=round(end, 3),
                phase="iterate",
                status=p.end_status if p.end_status is not None else p.status,
                vm_running=True,
                dst_vm_running=False if have_dst else None,
                ram_remaining_bytes=ram_remaining,
                ram_dirty_unsynced_bytes=None,
                dirty_sync_count=p.sync_count,
                bandwidth_bytes_per_s=p.bandwidth_bytes_per_s,
                threshold_bytes=p.threshold_bytes,
                pending_estimate_bytes=p.estimate,
                pending_exact_bytes=p.exact,
                expected_downtime_ms=c["expected_downtime_ms"],
                can_switchover=(p.acked_at_start if replay.ack_in_use else None),
                switchover_acked=(p.acked if replay.ack_in_use else None),
                transferred_bytes=c["transferred_bytes"],
                ram_transferred_bytes=None,
                vfio_transferred_bytes=vfio_tr,
                loaded_bytes=None,
                in_flight_bytes=None,
                pass_sent_bytes=p.window_bytes,
                devices=p.devices,
                gates=gates,
                decision=decision,
                provenance="measured" if not replay.untimed else "derived",
            )
        )
    if not replay.passes and samples:
        steps.extend(_sample_steps(replay, samples, sample_t, have_dst))
    else:
        tail = _switchover_steps(replay, inputs, len(steps), samples, sample_t, have_dst)
        if not steps and tail and tail[0].t_ms > 0:
            decision = Decision(
                code="keep_iterating",
                reason="no pass-level data in these files: pre-copy shown as one step",
                qemu_function="migration_iteration_run",
            )
            steps.append(
                _bare_step(
                    0, 0.0, tail[0].t_ms, "iterate", "active", decision, "derived", vm_running=True
                )
            )
        steps.extend(tail)
    if not steps:
        steps.append(_only_step(replay, inputs, have_dst))
    steps = merge_passes(steps, MAX_STEPS)
    for index, step in enumerate(steps):
        step.index = index
    return steps


_SAMPLE_PHASE = {
    "setup": "setup",
    "active": "iterate",
    "pre-switchover": "pre_switchover",
    "device": "vm_stop",
    "completed": "completed",
    "failed": "failed",
    "cancelling": "cancelled",
    "cancelled": "cancelled",
}


def _bare_step(
    index: int,
    t: float,
    end: float,
    phase: str,
    status: str,
    decision: Decision,
    provenance: Provenance,
    **values: Any,
) -> Step:
    fields: dict[str, Any] = dict.fromkeys(
        (
            "vm_running",
            "dst_vm_running",
            "ram_remaining_bytes",
            "ram_dirty_unsynced_bytes",
            "dirty_sync_count",
            "bandwidth_bytes_per_s",
            "threshold_bytes",
            "pending_estimate_bytes",
            "pending_exact_bytes",
            "expected_downtime_ms",
            "can_switchover",
            "switchover_acked",
            "transferred_bytes",
            "ram_transferred_bytes",
            "vfio_transferred_bytes",
            "loaded_bytes",
            "in_flight_bytes",
        ),
    )
    fields.update(values)
    return Step(
        index=index,
        t_ms=round(t, 3),
        end_ms=round(end, 3),
        phase=phase,
        status=status,
        decision=decision,
        provenance=provenance,
        **fields,
    )


def _sample_steps(
    replay: Replay, samples: list[QuerySample], sample_t: list[float], have_dst: bool
) -> list[Step]:
    """No pass lines (no source trace): one step per query-migrate sample, as QEMU reported it."""
    steps: list[Step] = []
    previous = 0.0
    for sample, t in zip(samples, sample_t, strict=True):
        if t < previous:
            continue
        phase = _SAMPLE_PHASE.get(sample.status, "iterate")
        running = sample.status in ("setup", "active") if sample.status in _SAMPLE_PHASE else None
        code = {
            "setup": "idle",
            "iterate": "keep_iterating",
            "vm_stop": "switchover",
            "completed": "switchover",
        }.get(phase, "failed")
        decision = Decision(
            code=code,
            reason=f"query-migrate sample (line {sample.line}): status {sample.status}",
            qemu_function="qmp_query_migrate",
        )
        steps.append(
            _bare_step(
                len(steps),
                previous,
                t,
                phase,
                sample.status,
                decision,
                "measured",
                vm_running=running,
                dst_vm_running=False if have_dst and running else None,
                ram_remaining_bytes=sample.ram_remaining_bytes,
                dirty_sync_count=sample.dirty_sync_count,
                expected_downtime_ms=sample.expected_downtime_ms,
                transferred_bytes=sample.ram_transferred_bytes,
                vfio_transferred_bytes=sample.vfio_transferred_bytes,
                bandwidth_bytes_per_s=None if sample.mbps is None else sample.mbps * 1e6 / 8,
            )
        )
        previous = t
    return steps


def _only_step(replay: Replay, inputs: ImportInputs, have_dst: bool) -> Step:
    """Only events or `info migrate`: one step for the whole migration."""
    status = replay.final_status(inputs)
    end = max((e.t_ms for e in replay.events), default=0.0)
    if inputs.info is not None and inputs.info.total_time_ms is not None:
        end = max(end, inputs.info.total_time_ms)
    decision = Decision(
        code="switchover" if status == "completed" else "failed",
        reason="no pass-level data in these files: one step for the whole migration",
        qemu_function="migration_thread",
    )
    return _bare_step(
        0,
        0.0,
        end,
        status,
        status,
        decision,
        "derived",
        dirty_sync_count=(inputs.info.dirty_sync_count if inputs.info else None),
    )


_DECISION_WEIGHT = {"wait_for_ack": 3, "keep_iterating": 2, "rate_limited": 1}


def merge_passes(steps: list[Step], limit: int) -> list[Step]:
    """Long runs (hours at ~10 passes/s): merge runs of consecutive pass steps so at most
    `limit` steps remain. A merged step keeps the figures of its last pass (end-of-step values),
    sums the bytes sent, and is marked derived; the deciding pass is never merged."""
    if len(steps) <= limit:
        return steps
    passes = sum(1 for s in steps if s.phase == "iterate")
    room = max(1, limit - (len(steps) - passes) - 1)
    group = -(-passes // room)
    out: list[Step] = []
    pending: list[Step] = []

    def flush() -> None:
        if not pending:
            return
        if len(pending) == 1:
            out.append(pending[0])
        else:
            last = pending[-1]
            sent = [s.pass_sent_bytes for s in pending if s.pass_sent_bytes is not None]
            code = max((s.decision.code for s in pending), key=lambda c: _DECISION_WEIGHT.get(c, 0))
            reason = (
                f"{len(pending)} passes merged (the run has {passes}); last: {last.decision.reason}"
            )
            merged = last.model_copy(
                update={
                    "t_ms": pending[0].t_ms,
                    "pass_sent_bytes": sum(sent) if sent else None,
                    "provenance": "derived",
                    "decision": Decision(
                        code=code, reason=reason, qemu_function=last.decision.qemu_function
                    ),
                }
            )
            out.append(merged)
        pending.clear()

    for step in steps:
        if step.phase == "iterate" and step.decision.code != "switchover":
            pending.append(step)
            if len(pending) == group:
                flush()
        else:
            flush()
            out.append(step)
    flush()
    return out


def _decision(p: PassRecord, ack_in_use: bool | None) -> Decision:
    fn = "migration_iteration_run"
    thr = p.threshold_at_start
    if p.decided is not None:
        return Decision(
            code="switchover",
            reason=f"pending {p.decided} bytes is below the threshold{'' if thr is None else f' ({thr:.0f} bytes)'} and switchover is allowed: complete",
            qemu_function=fn,
        )
    if (
        p.exact is not None
        and thr is not None
        and p.exact < thr
        and ack_in_use
        and not p.acked_at_start
    ):
        return Decision(
            code="wait_for_ack",
            reason=f"exact pending {p.exact} bytes fits the threshold but the destination has not acked yet",
            qemu_function=fn,
        )
    if p.slept_ms:
        why = (
            f"exact pending {p.exact} bytes is not below the threshold"
            if p.exact is not None
            else f"estimate {p.estimate} bytes is not below the threshold"
        )
        return Decision(
            code="rate_limited",
            reason=f"{why}; sent until the window budget was used, then slept {p.slept_ms} ms",
            qemu_function="migration_rate_limit",
        )
    if p.exact is not None:
        return Decision(
            code="keep_iterating",
            reason=f"exact pending {p.exact} bytes is not below the threshold: keep sending",
            qemu_function=fn,
        )
    return Decision(
        code="keep_iterating",
        reason=f"estimate {p.estimate} bytes is not below the threshold: keep sending",
        qemu_function=fn,
    )


def _switchover_steps(
    replay: Replay,
    inputs: ImportInputs,
    first_index: int,
    samples: list[QuerySample],
    sample_t: list[float],
    have_dst: bool,
) -> list[Step]:
    b = replay.switchover_instants()
    start = b["start"][0]
    steps: list[Step] = []
    final = replay.status
    if start is None:
        ended = _ended_step(replay, first_index, None, have_dst, samples, sample_t)
        return [ended] if ended is not None else []
    plan: list[tuple[str, str | None, str]] = [
        ("vm_stop", "vm_stopped", "VM stop: vCPUs and device state transitions (STOP_COPY)"),
        (
            "ram_complete",
            "ram_saved",
            "RAM complete: final sync, remaining pages sent without rate limit",
        ),
        ("device_complete", "iterable_saved", "VFIO complete: stop-copy data read and sent"),
        ("non_iterable", "non_iterable_saved", "non-iterable state: CPUs and device config"),
        ("dest_load", "dst_loaded", "destination finishes loading the stream"),
        ("vm_start", "dst_started", "destination VM start"),
        ("completed", "end", "SHUT received: downtime ends"),
    ]
    cursor = start
    for phase, key, label in plan:
        if key is None:
            continue
        t_end, how = b[key]
        if phase == "device_complete" and not replay.devices:
            continue
        if t_end is None or t_end < cursor:
            continue
        stopped = True
        dst_running = (
            True
            if phase in ("completed",) and b["dst_started"][0] is not None
            else (
                False
                if have_dst and phase != "vm_start"
                else (True if phase == "vm_start" else None)
            )
        )
        status = (
            "completed"
            if phase == "completed" and final == "completed"
            else (
                "device"
                if "src_device" in replay.marks or "qmp_src_device" in replay.marks
                else "active"
            )
        )
        steps.append(
            _phase_step(
                replay,
                first_index + len(steps),
                cursor,
                t_end,
                phase,
                status,
                stopped,
                have_dst,
                samples,
                sample_t,
                how or "derived",
                label,
                _PHASE_FN[phase],
                dst_running=dst_running,
            )
        )
        cursor = t_end
    ended = _ended_step(replay, first_index + len(steps), cursor, have_dst, samples, sample_t)
    if ended is not None:
        steps.append(ended)
    return steps


def _ended_step(
    replay: Replay,
    index: int,
    start_ms: float | None,
    have_dst: bool,
    samples: list[QuerySample],
    sample_t: list[float],
) -> Step | None:
    """The last step of a migration that failed or was cancelled, from `start_ms` (the end of
    the switchover steps; None when switchover never began) to the source's failed/cancelled
    status change; None when the migration did neither or the log does not show when."""
    final = replay.status
    mark_ms = replay.marks.get(f"src_{final}") if final in ("failed", "cancelled") else None
    if mark_ms is None:
        return None
    begin_ms = mark_ms if start_ms is None else start_ms
    return _phase_step(
        replay,
        index,
        begin_ms,
        max(begin_ms, mark_ms),
        final,
        final,
        True,
        have_dst,
        samples,
        sample_t,
        "measured",
        f"migration {final}",
        "migrate_set_state",
    )


_PHASE_FN = {
    "vm_stop": "migration_stop_vm",
    "ram_complete": "ram_save_complete",
    "device_complete": "vfio_save_complete_precopy",
    "non_iterable": "qemu_savevm_state_complete_precopy_non_iterable",
    "dest_load": "qemu_loadvm_state",
    "vm_start": "process_incoming_migration_bh",
    "completed": "migration_completion_end",
}


def _phase_step(
    replay: Replay,
    index: int,
    t: float,
    end: float,
    phase: str,
    status: str,
    stopped: bool,
    have_dst: bool,
    samples: list[QuerySample],
    sample_t: list[float],
    provenance: str,
    reason: str,
    fn: str,
    dst_running: bool | None = None,
) -> Step:
    sample = _nearest_sample(samples, sample_t, end)
    devices = [d.snapshot() for d in replay.devices.values()]
    vfio_sent = replay.vfio_sent_total
    if replay.late_snapshots:
        times = [x[0] for x in replay.late_snapshots]
        at = bisect.bisect_right(times, end + 1e-9) - 1
        if at >= 0:
            devices, vfio_sent = replay.late_snapshots[at][1], replay.late_snapshots[at][2]
    return Step(
        index=index,
        t_ms=round(t, 3),
        end_ms=round(end, 3),
        phase=phase,
        status=status,
        vm_running=not stopped,
        dst_vm_running=dst_running
        if dst_running is not None
        else (False if have_dst and phase not in ("completed",) else None),
        ram_remaining_bytes=None,
        ram_dirty_unsynced_bytes=None,
        dirty_sync_count=replay.sync_count or None,
        bandwidth_bytes_per_s=None,
        threshold_bytes=None,
        pending_estimate_bytes=None,
        pending_exact_bytes=None,
        expected_downtime_ms=None,
        can_switchover=None,
        switchover_acked=replay.acked if replay.ack_in_use else None,
        transferred_bytes=sample.ram_transferred_bytes
        if sample is not None and phase == "completed"
        else None,
        ram_transferred_bytes=None,
        vfio_transferred_bytes=(vfio_sent if replay.devices else None),
        loaded_bytes=None,
        in_flight_bytes=None,
        devices=devices,
        gates=[],
        decision=Decision(
            code="switchover" if phase not in ("failed", "cancelled") else "failed",
            reason=reason,
            qemu_function=fn,
        ),
        provenance="measured" if provenance == "measured" else "derived",
    )
