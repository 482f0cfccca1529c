"""What the files say beyond the run itself: the QEMU version (a profile) and the settings a
"Simulate this" scenario starts from (derive.py reads `observed`)."""

from __future__ import annotations

from statistics import median
from typing import Any

from app.engine.profiles import PROFILES
from app.engine.trace import Event, Summary

from .inputs import ImportInputs
from .replay import Replay
from .tracelog import INIT_DATA_SENT_ERROR

MiB = 1024**2


def guess_profile(inputs: ImportInputs, replay: Replay) -> tuple[str, list[str]]:
    evidence: list[str] = []
    low = (8, 1)
    high: tuple[int, int] | None = None
    names: set[str] = set()
    windows_with_switchover_bw = False
    for log in (inputs.src_trace, inputs.dst_trace):
        if log is None:
            continue
        names.update(r.name for r in log.records)
        windows_with_switchover_bw |= any(
            r.name == "migrate_transferred" and r.fields.get("switchover_bw") is not None
            for r in log.records
        )
        if log.vfio_size_format == "decimal":
            low = max(low, (9, 2))
            evidence.append(f"{log.file}: VFIO sizes in decimal (QEMU 9.2+)")
        elif log.vfio_size_format == "hex":
            high = (9, 1)
            evidence.append(f"{log.file}: VFIO sizes in hex (QEMU 8.1-9.1)")
    if windows_with_switchover_bw:
        low = max(low, (8, 2))
        evidence.append("migrate_transferred prints switchover_bw (QEMU 8.2+)")
    if "vmstate_downtime_checkpoint" in names:
        low = max(low, (8, 2))
        evidence.append("vmstate_downtime_checkpoint present (QEMU 8.2+)")
    if "vfio_migration_set_device_state" in names:
        low = max(low, (9, 1))
        evidence.append("vfio_migration_set_device_state present (QEMU 9.1+)")
    if "savevm_send_switchover_start" in names or "src_device" in replay.marks:
        low = max(low, (10, 0))
        evidence.append("SWITCHOVER_START command / `device` status at switchover (QEMU 10.0+)")
    if high is not None and low > high:
        evidence.append("evidence conflicts; the lower bound wins")
    version = low if high is None else min(low, high) if low > high else low
    name = f"{version[0]}.{version[1]}"
    if name not in PROFILES:
        name = "10.0"
    if not evidence:
        evidence.append("no version-specific lines: assumed 8.1 behaviour is the floor")
    return name, evidence


def _trace_dirty_rate(syncs: list[Event]) -> tuple[int, str] | None:
    """migration_bitmap_sync_end prints the pages dirtied in the current rate period, which
    QEMU restarts at the first sync >= 1 s after the previous restart (the same period as
    query-migrate's dirty-pages-rate). Median over closed periods; a run shorter than one
    period gives the open period's rate instead."""
    if len(syncs) < 2:
        return None
    start = syncs[0].t_ms
    rates: list[float] = []
    for sync in syncs[1:]:
        span = sync.t_ms - start
        if span >= 1000.0:
            rates.append(sync.data["dirty_pages"] * 4096 / (span / 1000.0))
            start = sync.t_ms
    if rates:
        return int(
            median(rates)
        ), "migration_bitmap_sync_end dirty pages per rate period (>= 1 s) x 4 KiB, median"
    last = syncs[-1]
    span = last.t_ms - start
    if span > 0 and last.data["dirty_pages"] > 0:
        return int(
            last.data["dirty_pages"] * 4096 / (span / 1000.0)
        ), "migration_bitmap_sync_end dirty pages x 4 KiB over the only (< 1 s) rate period"
    return None


def _round_rate_down(bytes_per_s: float) -> int:
    """QEMU overshoots the window budget a little, never undershoots it: snap down to the
    roundest MiB/s value within 3% (129.0 MiB/s -> 128, 32.6 -> 32, 100.8 -> 100)."""
    mib = bytes_per_s / MiB
    for step in (64, 32, 16, 8, 4, 2, 1):
        value = (mib // step) * step
        if value > 0 and (mib - value) / mib <= 0.03:
            return int(value * MiB)
    return int(bytes_per_s)


def observed_settings(replay: Replay, inputs: ImportInputs, summary: Summary) -> dict[str, Any]:
    """What the files say about the settings, for "Simulate this" (derive.py)."""
    out: dict[str, Any] = {}
    q = inputs.query
    if q is not None and (s := q.last_with("ram_total_bytes")) is not None:
        out["ram_total_bytes"] = {
            "value": s.ram_total_bytes,
            "from": f"query-migrate ram.total (line {s.line})",
        }
        page = s.page_size_bytes or 4096
        if s.duplicate_pages is not None and s.ram_total_bytes:
            fraction = min(1.0, s.duplicate_pages * page / s.ram_total_bytes)
            out["zero_page_fraction"] = {
                "value": round(fraction, 3),
                "from": "query-migrate ram.duplicate x page size / ram.total",
            }
        rates = [
            x.dirty_pages_rate * (x.page_size_bytes or 4096)
            for x in q.samples
            if x.dirty_pages_rate
        ]
        if rates:
            out["dirty_rate_bytes_per_s"] = {
                "value": int(median(rates)),
                "from": "median of query-migrate ram.dirty-pages-rate x page size",
            }
    if "dirty_rate_bytes_per_s" not in out:
        rate = _trace_dirty_rate(
            [
                e
                for e in replay.events
                if e.kind == "bitmap_sync" and e.side == "source" and "dirty_pages" in e.data
            ]
        )
        if rate is not None:
            out["dirty_rate_bytes_per_s"] = {"value": rate[0], "from": rate[1]}
    breakdown = summary.downtime_breakdown_ms
    if not replay.devices and "vm_stop" in breakdown:
        out["vm_stop_ms"] = {
            "value": breakdown["vm_stop"],
            "from": "downtime breakdown: decision -> VM stopped",
        }
    if "dest_vm_start" in breakdown:
        out["vm_start_ms"] = {
            "value": breakdown["dest_vm_start"],
            "from": "downtime breakdown: destination load done -> VM running",
        }
    if summary.setup_time_ms is not None:
        out["setup_ms"] = {"value": summary.setup_time_ms, "from": "setup time"}
    if "ram_total_bytes" in out:
        pass
    elif inputs.info is not None and inputs.info.total_ram_bytes is not None:
        out["ram_total_bytes"] = {
            "value": inputs.info.total_ram_bytes,
            "from": "info migrate total ram",
        }
    elif replay.passes and replay.passes[0].estimate and not replay.devices:
        out["ram_total_bytes"] = {
            "value": replay.passes[0].estimate,
            "from": "first migrate_pending_estimate (every page is dirty before the first pass)",
        }
    limited = [p.window_bw for p in replay.passes if p.slept_ms and p.slept_ms > 0 and p.window_bw]
    if limited:
        out["max_bandwidth_bytes_per_s"] = {
            "value": _round_rate_down(median(limited)),
            "from": f"median throughput of {len(limited)} rate-limited windows, rounded down to a round MiB/s",
        }
    windows = [p.window_bw for p in replay.passes if p.window_bw]
    if windows:
        out["peak_window_bytes_per_s"] = {
            "value": int(max(windows)),
            "from": "largest migrate_transferred bandwidth",
        }
    if summary.downtime_limit_ms is not None:
        out["downtime_limit_ms"] = {
            "value": summary.downtime_limit_ms,
            "from": "migrate_transferred max_size / bandwidth",
        }
    init_error = any(INIT_DATA_SENT_ERROR in e for e in replay.errors)
    if replay.ack_in_use:
        dst_caps = ["return-path"] if init_error else ["return-path", "switchover-ack"]
        out["caps"] = {
            "value": {"source": ["return-path", "switchover-ack"], "destination": dst_caps},
            "from": "destination refused INIT_DATA_SENT: switchover-ack was off there"
            if init_error
            else "switchover-ack lines on the source/destination",
        }
    devices: dict[str, Any] = {}
    for d in replay.devices.values():
        item: dict[str, Any] = {}
        if d.precopy is not None:
            item["precopy"] = d.precopy
        if d.initial_bytes is not None:
            item["initial_bytes"] = d.initial_bytes
        stop = d.stopcopy_sent if d.stopcopy_sent else d.stop_copy
        if stop is not None:
            item["stop_copy_bytes"] = stop
        devices[d.name] = item
    if devices:
        out["devices"] = {
            "value": devices,
            "from": "vfio_* trace lines (initial bytes: first pending query; stop-copy: bytes read after VM stop, else the last stopcopy size)",
        }
    return out
