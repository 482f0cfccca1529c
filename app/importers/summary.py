"""Stage 5 of building a trace: the summary, with where every figure came from.

QEMU's own figures (query-migrate, HMP `info migrate`) win where the files have them and are
kept as reported; otherwise figures are derived from the replay and say so in `sources`.
"""

from __future__ import annotations

from statistics import median
from typing import Any

from app.engine.trace import DeviceSummary, Step, Summary

from .inputs import ImportInputs
from .replay import Instant, Replay

BREAKDOWN_LABELS = {
    "vm_stop": "source: VM stop + device STOP_COPY transitions",
    "ram_final_sync": "source: final dirty-bitmap sync",
    "source_ram_send": "source: sending the remaining RAM",
    "source_device_read": "source: reading and sending VFIO stop-copy data",
    "source_non_iterable": "source: CPU and device state (non-iterable)",
    "dest_load_tail": "destination: finishing the load after the source sent everything",
    "dest_vm_start": "destination: announce + vm_start",
    "return_path_shut": "return path: SHUT to the source (and the rest up to downtime end)",
    "destination_and_shut": "destination load + vm start + SHUT (no destination log)",
}


def round_ms(value: float | None) -> float | None:
    """Stored times keep 0.001 ms."""
    return None if value is None else round(value, 3)


def summarize(
    replay: Replay, inputs: ImportInputs, steps: list[Step]
) -> tuple[Summary, dict[str, str], dict[str, Any]]:
    q = inputs.query
    info = inputs.info
    sources: dict[str, str] = {}
    reported: dict[str, Any] = {}
    final_q = q.final() if q is not None else None

    def from_reports(attr_q: str, attr_info: str, key: str) -> float | None:
        if q is not None:
            sample = q.last_with(attr_q)
            if sample is not None:
                value = getattr(sample, attr_q)
                reported[key] = value
                sources[key] = (
                    f"query-migrate line {sample.line} ({sample.status}; measured by QEMU)"
                )
                return float(value)
        if info is not None and getattr(info, attr_info) is not None:
            value = getattr(info, attr_info)
            reported[key] = value
            sources[key] = "info migrate" + (
                " (rounded by QEMU)" if attr_info in info.approximate else " (measured by QEMU)"
            )
            return float(value)
        return None

    status = replay.final_status(inputs)
    timed = not replay.untimed
    b = replay.switchover_instants()

    total = from_reports("total_time_ms", "total_time_ms", "total_time_ms")
    if total is None and timed:
        end = next(
            (
                replay.marks.get(k)
                for k in (
                    "src_completed",
                    "src_cancelled",
                    "src_failed",
                    "qmp_src_completed",
                    "qmp_src_cancelled",
                    "qmp_src_failed",
                )
                if k in replay.marks
            ),
            None,
        )
        if end is not None:
            total, sources["total_time_ms"] = end, "trace: setup -> final status (derived)"
    setup = from_reports("setup_time_ms", "setup_time_ms", "setup_time_ms")
    if setup is None and timed and "src_active" in replay.marks:
        setup, sources["setup_time_ms"] = (
            replay.marks["src_active"],
            "trace: setup -> active (derived; QEMU counts from the thread start)",
        )

    downtime: float | None = None
    if "src-downtime-start" in replay.checkpoints and "src-downtime-end" in replay.checkpoints:
        downtime = replay.checkpoints["src-downtime-end"] - replay.checkpoints["src-downtime-start"]
        sources["downtime_ms"] = (
            "vmstate_downtime_checkpoint src-downtime-start -> src-downtime-end (measured)"
        )
        from_reports("downtime_ms", "downtime_ms", "downtime_ms")
        sources["downtime_ms"] = (
            "vmstate_downtime_checkpoint src-downtime-start -> src-downtime-end (measured)"
        )
    else:
        downtime = (
            from_reports("downtime_ms", "downtime_ms", "downtime_ms")
            if status == "completed"
            else None
        )
        if (
            downtime is None
            and status == "completed"
            and timed
            and b["start"][0] is not None
            and b["end"][0] is not None
        ):
            downtime = b["end"][0] - b["start"][0]
            sources["downtime_ms"] = (
                "trace: migration_thread_low_pending -> return path joined (derived)"
            )

    breakdown = _breakdown(replay, b, downtime, inputs) if downtime is not None and timed else {}
    guest = None
    if (
        timed
        and b["start"][0] is not None
        and b["dst_started"][0] is not None
        and status == "completed"
    ):
        guest = b["dst_started"][0] - b["start"][0]
        sources["guest_downtime_ms"] = (
            "downtime start -> destination VM running (RESUME / dst-precopy-bh-vm-started), clocks aligned"
        )

    dirty_sync = from_reports("dirty_sync_count", "dirty_sync_count", "dirty_sync_count")
    if dirty_sync is None and replay.sync_count:
        dirty_sync, sources["dirty_sync_count"] = (
            float(replay.sync_count),
            "trace: count of migration_bitmap_sync_start (measured)",
        )
    if dirty_sync is None and inputs.src_events is not None:
        passes_q = [e.data["pass"] for e in inputs.src_events.named("MIGRATION_PASS")]
        if passes_q:
            dirty_sync, sources["dirty_sync_count"] = (
                float(max(passes_q)),
                "QMP MIGRATION_PASS (measured)",
            )

    transferred = from_reports("ram_transferred_bytes", "transferred_bytes", "transferred_bytes")
    vfio_tr = from_reports(
        "vfio_transferred_bytes", "vfio_transferred_bytes", "vfio_transferred_bytes"
    )
    if vfio_tr is None and replay.devices and inputs.src_trace is not None:
        vfio_tr, sources["vfio_transferred_bytes"] = (
            float(replay.vfio_sent_total),
            "trace: sum of vfio_save_block data_size (measured)",
        )

    limit = _downtime_limit(replay, inputs)
    if limit is not None:
        sources["downtime_limit_ms"] = "trace: migrate_transferred max_size / bandwidth (derived)"

    ack = replay.marks.get("ack_received")
    if ack is not None:
        sources["ack_received_at_ms"] = (
            "trace: source_return_path_thread_switchover_acked (measured)"
        )
    permitted = replay.marks.get("switchover_permitted")
    if permitted is not None:
        sources["switchover_permitted_at_ms"] = "first pass starting after the ack (derived)"
    elif ack is not None:
        permitted = ack
        sources["switchover_permitted_at_ms"] = "ack time: no pass started after it (derived)"
    started = b["start"][0]
    if started is not None:
        sources["switchover_started_at_ms"] = (
            "vmstate_downtime_checkpoint src-downtime-start (measured)"
            if b["start"][1] == "measured"
            else "trace: migration_thread_low_pending, just before VM stop (derived)"
        )
    passes = len(replay.passes) if replay.passes else None
    if passes is not None:
        sources["passes"] = (
            "trace: count of migrate_pending_estimate (one per migration_iteration_run)"
        )

    devices = [
        DeviceSummary(
            name=d.name,
            preset=None,
            precopy=d.precopy,
            initial_bytes=d.initial_bytes,
            init_data_sent_at_ms=round_ms(d.init_data_sent_at_ms) if timed else None,
            init_data_loaded_at_ms=round_ms(d.init_data_loaded_at_ms) if timed else None,
            precopy_bytes=d.precopy_sent if d.sent is not None else None,
            stop_copy_bytes=d.stopcopy_sent if d.sent is not None else None,
        )
        for d in replay.devices.values()
    ]
    reason = _reason(replay, status, inputs, steps)
    summary = Summary(
        status=status,
        reason=reason,
        total_time_ms=round_ms(total),
        setup_time_ms=round_ms(setup),
        downtime_ms=round_ms(downtime),
        guest_downtime_ms=round_ms(guest),
        downtime_limit_ms=limit,
        downtime_breakdown_ms=breakdown,
        dirty_sync_count=None if dirty_sync is None else int(dirty_sync),
        transferred_bytes=None if transferred is None else int(transferred),
        vfio_transferred_bytes=None if vfio_tr is None else int(vfio_tr),
        ack_received_at_ms=round_ms(ack) if timed else None,
        switchover_permitted_at_ms=round_ms(permitted) if timed else None,
        switchover_started_at_ms=round_ms(started) if timed else None,
        passes=passes,
        devices=devices,
    )
    if final_q is not None:
        reported["final_status"] = final_q.status
    return summary, sources, reported


def _reason(replay: Replay, status: str, inputs: ImportInputs, steps: list[Step]) -> str:
    if status == "completed":
        return f"completed after {len(replay.passes)} passes" if replay.passes else "completed"
    if status == "cancelled" and "src_cancelling" in replay.marks:
        # The channel errors that follow a cancel are its consequence, not its cause.
        never = "" if "low_pending" in replay.marks else ", never switched over"
        passes = f" after {len(replay.passes)} passes" if replay.passes else ""
        return f"cancelled (migrate_cancel at {replay.marks['src_cancelling'] / 1000.0:.1f} s){passes}{never}"
    if replay.errors:
        return f"{status}: {replay.errors[0]}"
    if inputs.query is not None and inputs.query.samples and inputs.query.samples[-1].error_desc:
        return f"{status}: {inputs.query.samples[-1].error_desc}"
    if replay.status not in ("completed", "failed", "cancelled", "cancelling", "none"):
        return f"the files end while the migration was still {replay.status}"
    return status


def _downtime_limit(replay: Replay, inputs: ImportInputs) -> float | None:
    """threshold = bandwidth x downtime-limit, so max_size / bandwidth gives the limit back."""
    ratios: list[float] = []
    for e in replay.events:
        if e.kind != "window":
            continue
        bw_per_ms = (
            e.data.get("switchover_bandwidth_bytes_per_s", e.data["bandwidth_bytes_per_s"]) / 1000.0
        )
        if bw_per_ms >= 1000 and e.data["threshold_bytes"] > 0:
            ratios.append(e.data["threshold_bytes"] / bw_per_ms)
    if not ratios:
        return None
    return float(round(median(ratios)))


def _breakdown(
    replay: Replay, b: dict[str, Instant], downtime: float, inputs: ImportInputs
) -> dict[str, float]:
    start = b["start"][0]
    if start is None:
        return {}
    have_dst = inputs.has_destination
    order: list[tuple[str, float | None]] = [("vm_stop", b["vm_stopped"][0])]
    sync_s, sync_e = replay.marks.get("final_sync_start"), replay.marks.get("final_sync_end")
    ram_saved = b["ram_saved"][0]
    if sync_s is not None and sync_e is not None:
        order.append(("source_ram_send", sync_s))
        order.append(("ram_final_sync", sync_e))
    order.append(("source_ram_send", ram_saved))
    if replay.devices:
        order.append(("source_device_read", b["iterable_saved"][0]))
    order.append(("source_non_iterable", b["non_iterable_saved"][0]))
    if have_dst:
        order.append(("dest_load_tail", b["dst_loaded"][0]))
        order.append(("dest_vm_start", b["dst_started"][0]))
    parts: dict[str, float] = {}
    cursor = start
    for name, t in order:
        if t is None or t < cursor:
            continue
        if t - start > downtime:
            t = start + downtime
        parts[name] = parts.get(name, 0.0) + (t - cursor)
        cursor = t
    # The rest up to QEMU's end of downtime: SHUT over the return path (and, without a
    # destination log, the destination's load and VM start). It also absorbs the difference
    # between QEMU's whole-ms downtime and the traced instants.
    rest = "return_path_shut" if have_dst else "destination_and_shut"
    parts[rest] = parts.get(rest, 0.0) + max(0.0, downtime - (cursor - start))
    rounded = {k: round(v, 3) for k, v in parts.items() if round(v, 3) > 0}
    residue = round(round(downtime, 3) - sum(rounded.values()), 3)
    if rounded and residue:
        last = rest if rest in rounded else max(rounded, key=lambda k: rounded[k])
        rounded[last] = round(rounded[last] + residue, 3)
    return {k: v for k, v in rounded.items() if v > 0}
