"""Turn parsed QEMU outputs into the trace model a simulated run uses.

Time zero is the source's `migrate_set_state new state setup` (else the source MIGRATION
`setup` event, else the first query-migrate sample minus its total-time). Every time is ms
since then on the source clock; destination times are shifted by the clock offset from
align.py. Steps: `setup`, one `iterate` step per pass of migration_iteration_run (from one
`migrate_pending_estimate` to the next), then the switchover phases (vm_stop, ram_complete,
device_complete, non_iterable, dest_load, vm_start, completed) bounded by
`vmstate_downtime_checkpoint` (measured) or by the nearest trace lines (derived).

Values QEMU did not log stay None. `import_info.summary_sources` says where every summary
figure came from; QEMU's own figures (query-migrate / HMP) are kept in `qemu_reported`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from statistics import median
from typing import Any, Literal

from app import __version__
from app.engine.profiles import PROFILES
from app.engine.trace import Decision, DeviceStep, DeviceSummary, Event, Gate, Step, Summary, Trace

from .align import ClockAlignment, align_clocks
from .errors import ImportError_
from .infomigrate import InfoMigrate
from .limits import MAX_STEPS
from .qmpevents import QmpEventLog
from .querymigrate import QueryMigrateSeries, QuerySample
from .tracelog import INIT_DATA_SENT_ERROR, TraceLog, TraceRecord

INIT_DATA_SENT_TAG = 0xFFFFFFFFEF100005
RP_SHUT, RP_PONG, RP_SWITCHOVER_ACK = 1, 2, 7

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


@dataclass
class ImportInputs:
    src_trace: TraceLog | None = None
    dst_trace: TraceLog | None = None
    query: QueryMigrateSeries | None = None
    src_events: QmpEventLog | None = None
    dst_events: QmpEventLog | None = None
    info: InfoMigrate | None = None
    title: str | None = None
    clock_offset_us: int | None = None  # user override: destination minus source


@dataclass
class _Dev:
    name: str
    src_state: str | None = None
    dst_state: str | None = None
    init_est: int | None = None
    dirty_est: int | None = None
    init_kernel: int | None = None
    dirty_kernel: int | None = None
    stop_copy: int | None = None
    sent: int | None = None
    loaded: int | None = None
    init_loaded: int | None = None
    init_data_sent: bool | None = None
    init_data_loaded: bool | None = None
    initial_bytes: int | None = None
    precopy: bool | None = None
    precopy_sent: int = 0
    stopcopy_sent: int = 0
    init_data_sent_at_ms: float | None = None
    init_data_loaded_at_ms: float | None = None

    def snapshot(self) -> DeviceStep:
        return DeviceStep(
            name=self.name,
            src_state=self.src_state,
            dst_state=self.dst_state,
            init_est_bytes=self.init_est,
            dirty_est_bytes=self.dirty_est,
            init_kernel_bytes=self.init_kernel,
            dirty_kernel_bytes=self.dirty_kernel,
            stop_copy_length_bytes=self.stop_copy,
            sent_bytes=self.sent,
            loaded_bytes=self.loaded,
            init_loaded_bytes=self.init_loaded,
            init_data_sent=self.init_data_sent,
            init_data_loaded=self.init_data_loaded,
        )


@dataclass
class _Pass:
    start_ms: float
    estimate: int | None = None
    exact: int | None = None
    decided: int | None = None  # migration_thread_low_pending value
    window_bytes: int | None = None
    window_bw: float | None = None
    slept_ms: int | None = None
    iterated: bool = False
    threshold_at_start: float | None = None
    acked_at_start: bool = False
    status: str = "active"


@dataclass
class _State:
    t0_us: int
    offset_us: int
    untimed: bool
    ack_in_use: bool | None
    status: str = "none"
    dst_status: str | None = None
    sync_count: int = 0
    setup_sync_count: int | None = None
    bandwidth_bytes_per_s: float | None = None
    threshold_bytes: float | None = None
    window_sum_bytes: int = 0
    windows_seen: int = 0
    vfio_sent_total: int = 0
    acked: bool = False
    vm_stopped: bool = False
    dst_vm_started: bool = False
    devices: dict[str, _Dev] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)  # named instants (ms), first occurrence
    checkpoints: dict[str, float] = field(default_factory=dict)
    handler_downtimes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    passes: list[_Pass] = field(default_factory=list)
    pass_ends: list[float] = field(default_factory=list)
    pass_devices: list[list[DeviceStep]] = field(default_factory=list)
    pass_sync: list[int] = field(default_factory=list)
    pass_bw: list[tuple[float | None, float | None]] = field(default_factory=list)
    pass_window_sum: list[int] = field(default_factory=list)
    pass_vfio_sent: list[int] = field(default_factory=list)
    pass_status: list[str] = field(default_factory=list)
    pass_acked: list[bool] = field(default_factory=list)
    iterable_ids: set[str] = field(default_factory=set)
    after_stop_sections: list[tuple[str, float, float | None]] = field(default_factory=list)
    section_open: dict[str, float] = field(default_factory=dict)
    # (t_ms, device snapshots, vfio bytes sent) after each VFIO line once the VM stopped, so
    # every switchover phase shows the devices as they were at its end.
    late_snapshots: list[tuple[float, list[DeviceStep], int]] = field(default_factory=list)

    def mark(self, name: str, t_ms: float) -> None:
        self.marks.setdefault(name, t_ms)

    def dev(self, name: str) -> _Dev:
        if name not in self.devices:
            self.devices[name] = _Dev(name=name)
        return self.devices[name]


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# ---------------------------------------------------------------- time base


def _untimed(log: TraceLog | None) -> bool:
    return log is not None and bool(log.records) and not log.timestamped


def _t0_us(inputs: ImportInputs) -> tuple[int, str]:
    src = inputs.src_trace
    if src is not None and src.timestamped:
        for r in src.records:
            if r.name == "migrate_set_state" and r.fields.get("state") == "setup" and r.t_us is not None:
                return r.t_us, "source trace: migrate_set_state new state setup"
    if inputs.src_events is not None:
        for e in inputs.src_events.events:
            if e.name == "MIGRATION" and e.data.get("status") == "setup":
                return e.t_us, "source QMP event MIGRATION setup"
    if inputs.query is not None:
        for s in inputs.query.samples:
            if s.total_time_ms is not None:
                return s.t_us - int(s.total_time_ms * 1000), "first query-migrate sample minus its total-time"
    if src is not None and src.timestamped:
        first = next(r.t_us for r in src.records if r.t_us is not None)
        return first, "first timestamped line of the source trace"
    if inputs.src_events is not None and inputs.src_events.events:
        return inputs.src_events.events[0].t_us, "first source QMP event"
    if inputs.query is not None and inputs.query.samples:
        return inputs.query.samples[0].t_us, "first query-migrate sample"
    for log in (inputs.dst_trace,):
        if log is not None and log.timestamped:
            first = next(r.t_us for r in log.records if r.t_us is not None)
            return first, "first timestamped line of the destination trace"
    if inputs.dst_events is not None and inputs.dst_events.events:
        return inputs.dst_events.events[0].t_us, "first destination QMP event"
    return 0, "no timestamps: line order"


# ---------------------------------------------------------------- main


def build_trace(inputs: ImportInputs) -> Trace:
    """Build an imported Trace; raises ImportError_ when the inputs hold nothing usable."""
    _check_usable(inputs)
    inputs, earlier = _last_migration(inputs)
    untimed_dst_dropped = False
    if inputs.src_trace is not None and inputs.src_trace.timestamped and inputs.dst_trace is not None and not inputs.dst_trace.timestamped:
        # Without timestamps the destination cannot be placed on the source's time axis.
        inputs = replace(inputs, dst_trace=None)
        untimed_dst_dropped = True
    alignment = align_clocks(inputs.src_trace, inputs.dst_trace, inputs.src_events, inputs.dst_events, inputs.clock_offset_us)
    offset_us = alignment.offset_us if alignment is not None else 0
    t0_us, t0_source = _t0_us(inputs)
    untimed = _untimed(inputs.src_trace) or (inputs.src_trace is None and _untimed(inputs.dst_trace))
    ack_in_use = _ack_in_use(inputs)
    st = _State(t0_us=t0_us, offset_us=offset_us, untimed=untimed, ack_in_use=ack_in_use)
    _prescan_devices(st, inputs)
    merged = _merge(inputs, st)
    init_errors = {
        r.fields.get("device") for _, side, r in merged if r.name == "error_report" and INIT_DATA_SENT_ERROR in r.fields["message"]
    }
    for t_ms, side, record in merged:
        _apply(st, t_ms, side, record, init_errors)
    _close_pass(st, st.marks.get("low_pending", st.marks.get("end_of_log", 0.0)))
    _apply_qmp_events(st, inputs)
    _vm_stop_start_events(st)
    steps = _steps(st, inputs)
    summary, sources, reported = _summary(st, inputs, steps)
    _attach_event_steps(st.events, steps)
    profile_name, evidence = _guess_profile(inputs, st)
    notes = _notes(inputs, st, alignment, untimed)
    if untimed_dst_dropped:
        notes.append("The destination trace has no timestamps (no -msg timestamp=on): it could not be aligned and was left out.")
    import_info: dict[str, Any] = {
        "files": _file_infos(inputs),
        "time_zero": {"source": t0_source, "epoch_us": t0_us},
        "time_axis": "line order (the trace has no timestamps: run QEMU with -msg timestamp=on)" if untimed else "ms since migrate, source clock",
        "clock": alignment.info() if alignment is not None else None,
        "switchover_ack_in_use": ack_in_use,
        "earlier_migrations_skipped": earlier,
        "summary_sources": sources,
        "qemu_reported": reported,
        "downtime_checkpoints_ms": {k: _r(v) for k, v in sorted(st.checkpoints.items())},
        "downtime_handlers": st.handler_downtimes,
        "downtime_breakdown_labels": {k: BREAKDOWN_LABELS[k] for k in summary.downtime_breakdown_ms if k in BREAKDOWN_LABELS},
        "qemu_version": {"profile": profile_name, "evidence": evidence},
        "observed": _observed(st, inputs, summary),
        "errors": st.errors,
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
        events=sorted(st.events, key=lambda e: (e.t_ms, e.step)),
        notes=notes,
        import_info=import_info,
    )
    # The scenario a user would simulate to compare (see derive.py); stored with the run.
    from .derive import derive_scenario

    derived = derive_scenario(trace)
    trace.scenario = derived["scenario"]
    trace.resolved = {"provenance": derived["provenance"]}
    return trace


def _last_setup_index(records: list[TraceRecord]) -> int:
    starts = [i for i, r in enumerate(records) if r.name == "migrate_set_state" and r.fields.get("state") == "setup"]
    return starts[-1] if starts else 0


def _last_migration(inputs: ImportInputs) -> tuple[ImportInputs, dict[str, int]]:
    """A log appended over several migrations (libvirt's per-VM log is): keep the last one of
    each file, from its `new state setup` on, and say how many earlier ones were left out."""
    earlier: dict[str, int] = {}
    out = replace(inputs)
    for attr in ("src_trace", "dst_trace"):
        log: TraceLog | None = getattr(inputs, attr)
        if log is None:
            continue
        setups = sum(1 for r in log.records if r.name == "migrate_set_state" and r.fields.get("state") == "setup")
        if setups > 1:
            earlier[log.file] = setups - 1
            setattr(out, attr, replace(log, records=log.records[_last_setup_index(log.records):]))
    for attr in ("src_events", "dst_events"):
        events: QmpEventLog | None = getattr(inputs, attr)
        if events is None:
            continue
        starts = [i for i, e in enumerate(events.events) if e.name == "MIGRATION" and e.data.get("status") == "setup"]
        if len(starts) > 1:
            earlier[events.file] = len(starts) - 1
            setattr(out, attr, replace(events, events=events.events[starts[-1]:]))
    src = out.src_trace
    if inputs.query is not None and src is not None and src.timestamped and inputs.src_trace is not src:
        start = next((r.t_us for r in src.records if r.t_us is not None), None)
        if start is not None:
            kept = [s for s in inputs.query.samples if s.t_us >= start]
            if len(kept) < len(inputs.query.samples) and kept:
                out.query = replace(inputs.query, samples=kept)
    return out, earlier


def _check_usable(inputs: ImportInputs) -> None:
    usable = False
    for log in (inputs.src_trace, inputs.dst_trace):
        if log is None:
            continue
        if not log.records:
            raise ImportError_(
                log.file,
                None,
                "QEMU trace lines of migration events (e.g. `<pid>@<s>.<us>:migrate_set_state new state setup`); "
                f"none found in {log.lines_total} lines",
            )
        usable = True
    if inputs.query is not None:
        if not inputs.query.samples:
            raise ImportError_(inputs.query.file, None, 'query-migrate replies, one per line: {"timestamp": {...}, "return": {"status": ...}}')
        usable = True
    for events in (inputs.src_events, inputs.dst_events):
        if events is None:
            continue
        if not events.events:
            raise ImportError_(events.file, None, "QMP events MIGRATION, MIGRATION_PASS, VFIO_MIGRATION, STOP or RESUME, one per line")
        usable = True
    if inputs.info is not None:
        usable = True
    if not usable:
        raise ImportError_("(no file)", None, "at least one input file (a source trace log, query-migrate samples, QMP events or `info migrate`)")


def _ack_in_use(inputs: ImportInputs) -> bool | None:
    for log in (inputs.src_trace, inputs.dst_trace):
        if log is None:
            continue
        for r in log.records:
            if r.name in ("source_return_path_thread_switchover_acked", "loadvm_state_switchover_ack_needed", "loadvm_approve_switchover"):
                return True
            if r.name == "error_report" and INIT_DATA_SENT_ERROR in r.fields["message"]:
                return True  # the source sent INIT_DATA_SENT: it had switchover-ack on
    return None


def _prescan_devices(st: _State, inputs: ImportInputs) -> None:
    names: set[str] = set()
    for log in (inputs.src_trace, inputs.dst_trace):
        if log is not None:
            names.update(r.fields["device"] for r in log.records if r.name.startswith("vfio_") and r.fields.get("device"))
    for events in (inputs.src_events, inputs.dst_events):
        if events is not None:
            names.update(e.data["device-id"] for e in events.named("VFIO_MIGRATION"))
    for name in sorted(names):
        st.dev(name)


def _merge(inputs: ImportInputs, st: _State) -> list[tuple[float, str, TraceRecord]]:
    out: list[tuple[float, int, int, str, TraceRecord]] = []
    for side, log, shift in (("source", inputs.src_trace, 0), ("destination", inputs.dst_trace, st.offset_us)):
        if log is None:
            continue
        for r in log.records:
            if st.untimed or r.t_us is None:
                t_ms = float(r.line)
            else:
                t_ms = (r.t_us - shift - st.t0_us) / 1000.0
            out.append((t_ms, 0 if side == "source" else 1, r.line, side, r))
    # VFIO_MIGRATION events join the timeline as state lines (so every step's device snapshot
    # has them) for devices whose trace on that side has no state lines of its own.
    for side, events, shift, log in (("source", inputs.src_events, 0, inputs.src_trace), ("destination", inputs.dst_events, st.offset_us, inputs.dst_trace)):
        if events is None or st.untimed:
            continue
        traced = {r.fields.get("device") for r in (log.records if log is not None else []) if r.name in ("vfio_migration_set_state", "vfio_migration_set_device_state")}
        for e in events.named("VFIO_MIGRATION"):
            if e.data["device-id"] in traced:
                continue
            state = _VFIO_STATE_NAMES.get(e.data["device-state"], e.data["device-state"].upper())
            record = TraceRecord(line=e.line, t_us=e.t_us, pid=None, name="vfio_migration_set_device_state", fields={"device": e.data["device-id"], "state": state, "qmp": True})
            out.append(((e.t_us - shift - st.t0_us) / 1000.0, 0 if side == "source" else 1, e.line, side, record))
    # Stable: time, then source before destination at equal times, then file order.
    out.sort(key=lambda item: (item[0], item[1], item[2]))
    return [(t, side, r) for t, _, _, side, r in out]


def _event(st: _State, t_ms: float, kind: str, side: str, detail: str, fn: str | None, device: str | None = None, **data: Any) -> None:
    st.events.append(Event(t_ms=round(t_ms, 3), step=0, kind=kind, side=side, device=device, detail=detail, qemu_function=fn, data=data))  # type: ignore[arg-type]


def _close_pass(st: _State, end_ms: float) -> None:
    if len(st.pass_ends) < len(st.passes):
        st.pass_ends.append(end_ms)
        st.pass_devices.append([d.snapshot() for d in st.devices.values()])
        st.pass_sync.append(st.sync_count)
        st.pass_bw.append((st.bandwidth_bytes_per_s, st.threshold_bytes))
        st.pass_window_sum.append(st.window_sum_bytes)
        st.pass_vfio_sent.append(st.vfio_sent_total)
        st.pass_status.append(st.status)
        st.pass_acked.append(st.acked)


def _apply(st: _State, t: float, side: str, r: TraceRecord, init_errors: set[str | None]) -> None:
    f = r.fields
    n = r.name
    src = side == "source"
    if n == "migrate_set_state":
        state = f["state"]
        if src:
            st.status = state
            st.mark(f"src_{state}", t)
            if state in ("cancelling", "cancelled", "failed", "completed"):
                _close_pass(st, t)
        else:
            st.dst_status = state
            st.mark(f"dst_{state}", t)
        _event(st, t, "status", side, f"{side} status -> {state}", "migrate_set_state", status=state)
    elif n == "migrate_pending_estimate" and src:
        if st.passes:
            _close_pass(st, t)
        else:
            st.setup_sync_count = st.sync_count
        p = _Pass(start_ms=t, estimate=f["pending"], threshold_at_start=st.threshold_bytes, acked_at_start=st.acked, status=st.status)
        st.passes.append(p)
        if st.acked and "switchover_permitted" not in st.marks and st.ack_in_use:
            st.mark("switchover_permitted", t)
            _event(st, t, "switchover_permitted", "source", "first pass that sees the ack: can_switchover is true from here", "migration_can_switchover")
    elif n == "migrate_pending_exact" and src and st.passes:
        st.passes[-1].exact = f["pending"]
    elif n == "migration_thread_low_pending" and src:
        if st.passes:
            st.passes[-1].decided = f["pending"]
        st.mark("low_pending", t)
        _close_pass(st, t)
        _event(st, t, "switchover_decided", "source", f"pending {f['pending']} bytes is below the threshold: switch over", "migration_iteration_run", pending_bytes=f["pending"])
    elif n == "migrate_transferred" and src:
        bw = f["bandwidth"] * 1000.0  # bytes/ms -> bytes/s
        st.bandwidth_bytes_per_s = bw
        st.threshold_bytes = float(f["max_size"])
        st.window_sum_bytes += f["transferred"]
        st.windows_seen += 1
        if st.passes and len(st.pass_ends) < len(st.passes):
            st.passes[-1].window_bytes = f["transferred"]
            st.passes[-1].window_bw = bw
        data = {"bandwidth_bytes_per_s": bw, "threshold_bytes": float(f["max_size"]), "window_bytes": f["transferred"], "time_spent_ms": f["time_spent"]}
        if f.get("switchover_bw"):
            data["switchover_bandwidth_bytes_per_s"] = f["switchover_bw"] * 1000.0
        _event(st, t, "window", "source", f"window closed: {f['transferred']} bytes in {f['time_spent']} ms", "migration_update_counters", **data)
    elif n == "migration_rate_limit_pre" and src and st.passes:
        st.passes[-1].slept_ms = f["ms"]
    elif n == "savevm_state_iterate" and src and st.passes:
        st.passes[-1].iterated = True
    elif n == "migration_bitmap_sync_start" and src:
        st.sync_count += 1
        if st.vm_stopped:
            st.mark("final_sync_start", t)
    elif n == "migration_bitmap_sync_end" and src:
        if st.vm_stopped:
            st.mark("final_sync_end", t)
        _event(st, t, "bitmap_sync", "source", f"dirty bitmap sync #{st.sync_count}: {f['dirty_pages']} dirty pages in this rate period", "migration_bitmap_sync", dirty_pages=f["dirty_pages"], sync_count=st.sync_count)
    elif n == "savevm_section_start" and src:
        if st.vm_stopped:
            st.section_open[f["idstr"]] = t
        elif st.status in ("active", "setup"):
            st.iterable_ids.add(f["idstr"])
    elif n == "savevm_section_end" and src and st.vm_stopped:
        st.after_stop_sections.append((f["idstr"], st.section_open.pop(f["idstr"], t), t))
    elif n == "savevm_send_open_return_path" or (n == "loadvm_process_command" and f["com"] == "OPEN_RETURN_PATH"):
        _event(st, t, "open_return_path", side, "MIG_CMD_OPEN_RETURN_PATH " + ("sent" if src else "processed"), "qemu_savevm_send_open_return_path" if src else "loadvm_process_command")
    elif n == "savevm_send_ping" or n == "loadvm_process_command_ping":
        _event(st, t, "ping", side, f"PING {f['value']:#x} " + ("sent" if src else "processed"), n, value=f["value"])
    elif n == "source_return_path_thread_pong":
        _event(st, t, "pong", "source", f"PONG {f['value']:#x} received", "source_return_path_thread", value=f["value"])
    elif n == "migrate_send_rp_message" and not src:
        kind = {RP_SHUT: "shut_sent", RP_PONG: "pong", RP_SWITCHOVER_ACK: "ack_sent"}.get(f["msg_type"])
        if kind is not None:
            label = {"shut_sent": "SHUT sent on the return path", "pong": "PONG sent", "ack_sent": "SWITCHOVER_ACK sent: every device approved"}[kind]
            if kind == "ack_sent":
                st.mark("ack_sent", t)
            _event(st, t, kind, "destination", label, "migrate_send_rp_message", msg_type=f["msg_type"])
    elif n == "source_return_path_thread_switchover_acked":
        st.acked = True
        st.mark("ack_received", t)
        _event(st, t, "ack_received", "source", "SWITCHOVER_ACK received: switchover_acked = true", "source_return_path_thread")
    elif n == "source_return_path_thread_shut":
        st.mark("shut_received", t)
        detail = "SHUT received: the destination finished" if f["value"] == 0 else f"SHUT received with error {f['value']:#x}: the destination failed"
        _event(st, t, "shut_received", "source", detail, "source_return_path_thread", value=f["value"])
    elif n == "source_return_path_thread_bad_end":
        _event(st, t, "error", "source", "return path ended with an error", "source_return_path_thread")
    elif n == "migration_completion_vm_stop" and src:
        if not st.vm_stopped:
            st.late_snapshots.append((t, [d.snapshot() for d in st.devices.values()], st.vfio_sent_total))
        st.vm_stopped = True
        st.mark("vm_stopped", t)
    elif n == "migration_return_path_end_before" and src:
        st.mark("rp_end_before", t)
    elif n == "migration_return_path_end_after" and src:
        st.mark("rp_end_after", t)
    elif n == "savevm_send_switchover_start" and src:
        st.mark("switchover_start_sent", t)
    elif n == "loadvm_state_switchover_ack_needed":
        st.mark("dst_ack_needed", t)
    elif n == "qemu_loadvm_state_post_main" and not src:
        st.mark("dst_loadvm_done", t)
    elif n == "vmstate_downtime_checkpoint":
        name = f["checkpoint"]
        st.checkpoints.setdefault(name, t)
        if name == "src-downtime-start":
            st.vm_stopped = True
    elif n in ("vmstate_downtime_save", "vmstate_downtime_load"):
        st.handler_downtimes.append({"side": side, "kind": "save" if n.endswith("save") else "load", "type": f["type"], "idstr": f["idstr"], "instance_id": f["instance_id"], "downtime_ms": f["downtime_us"] / 1000.0, "at_ms": round(t, 3)})
    elif n in ("migrate_error", "migrate_fd_error"):
        st.errors.append(f"{side}: {f['error']}")
        _event(st, t, "error", side, f["error"], n)
    elif n == "error_report":
        st.errors.append(f"{side}: {f['message']}")
        _event(st, t, "error", side, f["message"], "error_report", device=f.get("device"), level=f["level"])
    elif n.startswith("vfio_"):
        _apply_vfio(st, t, side, r, init_errors)
        if st.vm_stopped:
            st.late_snapshots.append((t, [d.snapshot() for d in st.devices.values()], st.vfio_sent_total))


_VFIO_STATE_NAMES = {"stop": "STOP", "running": "RUNNING", "stop-copy": "STOP_COPY", "resuming": "RESUMING", "running-p2p": "RUNNING_P2P", "pre-copy": "PRE_COPY", "pre-copy-p2p": "PRE_COPY_P2P"}


def _set_dev_state(st: _State, t: float, side: str, dev: _Dev, state: str, fn: str) -> None:
    old = dev.src_state if side == "source" else dev.dst_state
    if old == state:
        return
    if side == "source":
        dev.src_state = state
        if state.startswith("PRE_COPY"):
            dev.precopy = True
    else:
        dev.dst_state = state
    _event(st, t, "device_state", side, f"{dev.name}: {old or '?'} -> {state}", fn, device=dev.name, **{"from": old, "to": state})


def _apply_vfio(st: _State, t: float, side: str, r: TraceRecord, init_errors: set[str | None]) -> None:
    f = r.fields
    n = r.name
    dev = st.dev(f["device"])
    src = side == "source"
    if n in ("vfio_migration_set_device_state",):
        _set_dev_state(st, t, side, dev, f["state"], "vfio_migration_send_event" if f.get("qmp") else n)
    elif n == "vfio_migration_set_state":
        # 8.1 prints the state reached; 9.1+ prints the request ("new state"), confirmed later
        # by vfio_migration_set_device_state, which then wins (same value: no second event).
        _set_dev_state(st, t, side, dev, f["state"] or f["new_state"], n)
    elif n == "vfio_state_pending_estimate" and src:
        dev.init_est, dev.dirty_est = f["init"], f["dirty"]
        if dev.initial_bytes is None and dev.init_est is not None:
            dev.initial_bytes = dev.init_est
    elif n == "vfio_state_pending_exact" and src:
        dev.stop_copy = f["stopcopy"]
        dev.init_kernel, dev.dirty_kernel = f["init"], f["dirty"]
        dev.init_est, dev.dirty_est = f["init"], f["dirty"]
        if dev.initial_bytes is None:
            dev.initial_bytes = f["init"]
    elif n == "vfio_save_block" and src:
        size = max(0, f["data_size"])
        dev.sent = (dev.sent or 0) + size
        st.vfio_sent_total += size
        if st.vm_stopped:
            dev.stopcopy_sent += size
        else:
            dev.precopy_sent += size
    elif n == "vfio_save_iterate" and src:
        dev.precopy = True
        dev.init_est, dev.dirty_est = f["init"], f["dirty"]
        if dev.sent is None:
            dev.sent = 0
        if st.ack_in_use and f["init"] == 0 and not dev.init_data_sent:
            dev.init_data_sent = True
            dev.init_data_sent_at_ms = t
            _event(st, t, "init_data_sent", "source", f"{dev.name}: initial bytes all read; section ends with INIT_DATA_SENT (derived: precopy initial size 0)", "vfio_save_iterate", device=dev.name)
        elif dev.init_data_sent is None and st.ack_in_use:
            dev.init_data_sent = False
    elif n == "vfio_load_state" and not src:
        if f["data"] == INIT_DATA_SENT_TAG:
            if dev.name in init_errors:
                return
            dev.init_data_loaded = True
            dev.init_data_loaded_at_ms = t
            _event(st, t, "init_data_loaded", "destination", f"{dev.name}: INIT_DATA_SENT processed, device approves switchover", "vfio_load_state", device=dev.name)
    elif n == "vfio_load_state_device_data" and not src:
        size = max(0, f["size"])
        dev.loaded = (dev.loaded or 0) + size
        if not dev.init_data_loaded and st.ack_in_use:
            dev.init_loaded = (dev.init_loaded or 0) + size
        if dev.init_data_loaded is None and st.ack_in_use:
            dev.init_data_loaded = False
    elif n == "vfio_save_setup" and src:
        if dev.sent is None:
            dev.sent = 0
    elif n == "vfio_save_complete_precopy" and src:
        st.mark("vfio_complete_" + dev.name, t)


def _apply_qmp_events(st: _State, inputs: ImportInputs) -> None:
    """QMP events fill what the traces did not give (and STOP/RESUME instants)."""
    sides = (("source", inputs.src_events, 0), ("destination", inputs.dst_events, st.offset_us))
    trace_status = {e.side for e in st.events if e.kind == "status"}
    trace_syncs = any(e.kind == "bitmap_sync" for e in st.events)
    for side, log, shift in sides:
        if log is None:
            continue
        for e in log.events:
            t = (e.t_us - shift - st.t0_us) / 1000.0
            if e.name == "STOP" and side == "source":
                st.mark("qmp_stop", t)
            elif e.name == "RESUME" and side == "destination":
                st.mark("qmp_resume", t)
            elif e.name == "MIGRATION":
                status = e.data["status"]
                st.mark(f"qmp_{'src' if side == 'source' else 'dst'}_{status}", t)
                if side not in trace_status:
                    _event(st, t, "status", side, f"{side} status -> {status} (QMP event)", "migrate_set_state", status=status)
            elif e.name == "MIGRATION_PASS" and side == "source" and not trace_syncs:
                _event(st, t, "bitmap_sync", "source", f"dirty bitmap sync #{e.data['pass']} (QMP MIGRATION_PASS)", "migration_bitmap_sync", sync_count=e.data["pass"])


def _vm_stop_start_events(st: _State) -> None:
    """One vm_stop and one vm_start event, from the best source available."""
    for kind, side, options in (
        ("vm_stop", "source", (
            (st.checkpoints.get("src-vm-stopped"), "checkpoint src-vm-stopped", False),
            (st.marks.get("vm_stopped"), "migration_completion_vm_stop", False),
            (st.marks.get("qmp_stop"), "QMP STOP", False),
        )),
        ("vm_start", "destination", (
            (st.checkpoints.get("dst-precopy-bh-vm-started"), "checkpoint dst-precopy-bh-vm-started", False),
            (st.marks.get("qmp_resume"), "QMP RESUME", False),
            (st.marks.get("dst_completed"), "derived: destination status completed right after vm_start", True),
        )),
    ):
        for t, how, derived in options:
            if t is not None:
                what = "source VM stopped" if kind == "vm_stop" else "destination VM running"
                fn = "migration_stop_vm" if kind == "vm_stop" else "vm_start"
                if derived:
                    _event(st, t, kind, side, f"{what} ({how})", fn, derived=True)
                else:
                    _event(st, t, kind, side, f"{what} ({how})", fn)
                break


# ---------------------------------------------------------------- steps


def _nearest_sample(samples: list[QuerySample], times_ms: list[float], t_ms: float) -> QuerySample | None:
    index = bisect.bisect_right(times_ms, t_ms + 1e-9) - 1
    return samples[index] if index >= 0 else None


def _steps(st: _State, inputs: ImportInputs) -> list[Step]:
    samples = inputs.query.samples if inputs.query is not None else []
    sample_t = [(s.t_us - st.t0_us) / 1000.0 for s in samples]
    no_vfio = not st.devices
    steps: list[Step] = []
    have_dst = inputs.dst_trace is not None or inputs.dst_events is not None

    def common(t_end: float) -> dict[str, Any]:
        sample = _nearest_sample(samples, sample_t, t_end)
        return {
            "ram_remaining_bytes": sample.ram_remaining_bytes if sample is not None else None,
            "expected_downtime_ms": sample.expected_downtime_ms if sample is not None else None,
            "transferred_bytes": sample.ram_transferred_bytes if sample is not None else None,
            "vfio_transferred_bytes": sample.vfio_transferred_bytes if sample is not None else None,
        }

    first_pass = st.passes[0].start_ms if st.passes else None
    if first_pass is not None and first_pass > 0:
        c = common(first_pass)
        steps.append(
            Step(
                index=0, t_ms=0.0, end_ms=round(first_pass, 3), phase="setup", status=st.pass_status[0] if st.pass_status else "setup",
                vm_running=True, dst_vm_running=False if have_dst else None, ram_remaining_bytes=c["ram_remaining_bytes"],
                ram_dirty_unsynced_bytes=None, dirty_sync_count=st.setup_sync_count, bandwidth_bytes_per_s=None,
                threshold_bytes=None, pending_estimate_bytes=None, pending_exact_bytes=None, expected_downtime_ms=c["expected_downtime_ms"],
                can_switchover=None, switchover_acked=None, transferred_bytes=c["transferred_bytes"], ram_transferred_bytes=None,
                vfio_transferred_bytes=c["vfio_transferred_bytes"], loaded_bytes=None, in_flight_bytes=None,
                devices=[DeviceStep(name=d, src_state=None, dst_state=None, init_est_bytes=None, dirty_est_bytes=None, init_kernel_bytes=None, dirty_kernel_bytes=None, stop_copy_length_bytes=None, sent_bytes=None, loaded_bytes=None, init_loaded_bytes=None, init_data_sent=None, init_data_loaded=None) for d in st.devices],
                decision=Decision(code="idle", reason="setup: save_setup hooks, first dirty-bitmap sync", qemu_function="qemu_savevm_state_setup"),
                provenance="measured" if not st.untimed else "derived",
            )
        )
    for i, p in enumerate(st.passes):
        end = st.pass_ends[i] if i < len(st.pass_ends) else p.start_ms
        c = common(end)
        bw, thr = st.pass_bw[i] if i < len(st.pass_bw) else (None, None)
        pending = p.exact if p.exact is not None else p.estimate
        gates: list[Gate] = []
        if pending is not None and p.threshold_at_start is not None:
            gates.append(Gate(name="ram_threshold", open=pending < p.threshold_at_start, detail=f"pending {pending} bytes vs threshold {p.threshold_at_start:.0f} bytes"))
        if st.ack_in_use:
            gates.append(Gate(name="switchover_ack", open=p.acked_at_start, detail="ack received" if p.acked_at_start else "waiting for SWITCHOVER_ACK"))
        decision = _decision(p, st.ack_in_use)
        transferred = c["transferred_bytes"]
        if transferred is None and st.pass_window_sum and not samples:
            transferred = None  # window sums miss the open window; not QEMU's total
        ram_remaining = c["ram_remaining_bytes"]
        if ram_remaining is None and no_vfio and p.estimate is not None and not samples:
            ram_remaining = p.estimate  # RAM-only: the estimate is RAM's bitmap x page size
        vfio_tr = c["vfio_transferred_bytes"]
        if vfio_tr is None and st.devices and i < len(st.pass_vfio_sent):
            vfio_tr = st.pass_vfio_sent[i]
        steps.append(
            Step(
                index=len(steps), t_ms=round(p.start_ms, 3), end_ms=round(end, 3), phase="iterate", status=st.pass_status[i] if i < len(st.pass_status) else p.status,
                vm_running=True, dst_vm_running=False if have_dst else None, ram_remaining_bytes=ram_remaining, ram_dirty_unsynced_bytes=None,
                dirty_sync_count=st.pass_sync[i] if i < len(st.pass_sync) else None, bandwidth_bytes_per_s=bw, threshold_bytes=thr,
                pending_estimate_bytes=p.estimate, pending_exact_bytes=p.exact, expected_downtime_ms=c["expected_downtime_ms"],
                can_switchover=(p.acked_at_start if st.ack_in_use else None), switchover_acked=(st.pass_acked[i] if st.ack_in_use and i < len(st.pass_acked) else None),
                transferred_bytes=transferred, ram_transferred_bytes=None, vfio_transferred_bytes=vfio_tr, loaded_bytes=None, in_flight_bytes=None,
                pass_sent_bytes=p.window_bytes, devices=st.pass_devices[i] if i < len(st.pass_devices) else [], gates=gates, decision=decision,
                provenance="measured" if not st.untimed else "derived",
            )
        )
    if not st.passes and samples:
        steps.extend(_sample_steps(st, samples, sample_t, have_dst))
    else:
        tail = _switchover_steps(st, inputs, len(steps), samples, sample_t, have_dst)
        if not steps and tail and tail[0].t_ms > 0:
            decision = Decision(code="keep_iterating", reason="no pass-level data in these files: pre-copy shown as one step", qemu_function="migration_iteration_run")
            steps.append(_bare_step(0, 0.0, tail[0].t_ms, "iterate", "active", decision, "derived", vm_running=True))
        steps.extend(tail)
    if not steps:
        steps.append(_only_step(st, inputs, have_dst))
    steps = _merge_passes(steps, MAX_STEPS)
    for index, step in enumerate(steps):
        step.index = index
    return steps


_SAMPLE_PHASE = {"setup": "setup", "active": "iterate", "pre-switchover": "pre_switchover", "device": "vm_stop", "completed": "completed", "failed": "failed", "cancelling": "cancelled", "cancelled": "cancelled"}


def _bare_step(index: int, t: float, end: float, phase: str, status: str, decision: Decision, provenance: str, **values: Any) -> Step:
    fields: dict[str, Any] = dict.fromkeys(
        ("vm_running", "dst_vm_running", "ram_remaining_bytes", "ram_dirty_unsynced_bytes", "dirty_sync_count", "bandwidth_bytes_per_s",
         "threshold_bytes", "pending_estimate_bytes", "pending_exact_bytes", "expected_downtime_ms", "can_switchover", "switchover_acked",
         "transferred_bytes", "ram_transferred_bytes", "vfio_transferred_bytes", "loaded_bytes", "in_flight_bytes"),
    )
    fields.update(values)
    return Step(index=index, t_ms=round(t, 3), end_ms=round(end, 3), phase=phase, status=status, decision=decision, provenance=provenance, **fields)  # type: ignore[arg-type]


def _sample_steps(st: _State, samples: list[QuerySample], sample_t: list[float], have_dst: bool) -> list[Step]:
    """No pass lines (no source trace): one step per query-migrate sample, as QEMU reported it."""
    steps: list[Step] = []
    previous = 0.0
    for sample, t in zip(samples, sample_t, strict=True):
        if t < previous:
            continue
        phase = _SAMPLE_PHASE.get(sample.status, "iterate")
        running = sample.status in ("setup", "active") if sample.status in _SAMPLE_PHASE else None
        code = {"setup": "idle", "iterate": "keep_iterating", "vm_stop": "switchover", "completed": "switchover"}.get(phase, "failed")
        decision = Decision(code=code, reason=f"query-migrate sample (line {sample.line}): status {sample.status}", qemu_function="qmp_query_migrate")
        steps.append(
            _bare_step(
                len(steps), previous, t, phase, sample.status, decision, "measured",
                vm_running=running, dst_vm_running=False if have_dst and running else None,
                ram_remaining_bytes=sample.ram_remaining_bytes, dirty_sync_count=sample.dirty_sync_count,
                expected_downtime_ms=sample.expected_downtime_ms, transferred_bytes=sample.ram_transferred_bytes,
                vfio_transferred_bytes=sample.vfio_transferred_bytes,
                bandwidth_bytes_per_s=None if sample.mbps is None else sample.mbps * 1e6 / 8,
            )
        )
        previous = t
    return steps


def _only_step(st: _State, inputs: ImportInputs, have_dst: bool) -> Step:
    """Only events or `info migrate`: one step for the whole migration."""
    status = _final_status(st, inputs)
    end = max((e.t_ms for e in st.events), default=0.0)
    if inputs.info is not None and inputs.info.total_time_ms is not None:
        end = max(end, inputs.info.total_time_ms)
    decision = Decision(code="switchover" if status == "completed" else "failed", reason="no pass-level data in these files: one step for the whole migration", qemu_function="migration_thread")
    return _bare_step(0, 0.0, end, status, status, decision, "derived", dirty_sync_count=(inputs.info.dirty_sync_count if inputs.info else None))


_DECISION_WEIGHT = {"wait_for_ack": 3, "keep_iterating": 2, "rate_limited": 1}


def _merge_passes(steps: list[Step], limit: int) -> list[Step]:
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
            reason = f"{len(pending)} passes merged (the run has {passes}); last: {last.decision.reason}"
            merged = last.model_copy(update={
                "t_ms": pending[0].t_ms, "pass_sent_bytes": sum(sent) if sent else None, "provenance": "derived",
                "decision": Decision(code=code, reason=reason, qemu_function=last.decision.qemu_function),
            })
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


def _decision(p: _Pass, ack_in_use: bool | None) -> Decision:
    fn = "migration_iteration_run"
    thr = p.threshold_at_start
    if p.decided is not None:
        return Decision(code="switchover", reason=f"pending {p.decided} bytes is below the threshold{'' if thr is None else f' ({thr:.0f} bytes)'} and switchover is allowed: complete", qemu_function=fn)
    if p.exact is not None and thr is not None and p.exact < thr and ack_in_use and not p.acked_at_start:
        return Decision(code="wait_for_ack", reason=f"exact pending {p.exact} bytes fits the threshold but the destination has not acked yet", qemu_function=fn)
    if p.slept_ms:
        why = f"exact pending {p.exact} bytes is not below the threshold" if p.exact is not None else f"estimate {p.estimate} bytes is not below the threshold"
        return Decision(code="rate_limited", reason=f"{why}; sent until the window budget was used, then slept {p.slept_ms} ms", qemu_function="migration_rate_limit")
    if p.exact is not None:
        return Decision(code="keep_iterating", reason=f"exact pending {p.exact} bytes is not below the threshold: keep sending", qemu_function=fn)
    return Decision(code="keep_iterating", reason=f"estimate {p.estimate} bytes is not below the threshold: keep sending", qemu_function=fn)


def _boundaries(st: _State) -> dict[str, tuple[float | None, str]]:
    """Switchover instants (ms) with 'measured' (checkpoint) or 'derived' (nearest trace line)."""
    cp, m = st.checkpoints, st.marks

    def pick(*options: tuple[float | None, str]) -> tuple[float | None, str]:
        for value, how in options:
            if value is not None:
                return value, how
        return None, ""

    iterable_end: float | None = None
    ram_end: float | None = None
    for idstr, _start, end in st.after_stop_sections:
        if idstr in st.iterable_ids:
            iterable_end = end
            if idstr == "ram":
                ram_end = end
    non_iterable_end = max((end for _, _, end in st.after_stop_sections if end is not None), default=None)
    return {
        "start": pick((cp.get("src-downtime-start"), "measured"), (m.get("low_pending"), "derived"), (m.get("qmp_stop"), "derived")),
        "vm_stopped": pick((cp.get("src-vm-stopped"), "measured"), (m.get("vm_stopped"), "derived"), (m.get("qmp_stop"), "derived")),
        "ram_saved": pick((ram_end, "derived")),
        "iterable_saved": pick((cp.get("src-iterable-saved"), "measured"), (iterable_end, "derived")),
        "non_iterable_saved": pick((cp.get("src-non-iterable-saved"), "measured"), (m.get("rp_end_before"), "derived"), (non_iterable_end, "derived")),
        "dst_loaded": pick((cp.get("dst-precopy-loadvm-completed"), "measured"), (m.get("dst_loadvm_done"), "derived")),
        "dst_started": pick((cp.get("dst-precopy-bh-vm-started"), "measured"), (m.get("qmp_resume"), "measured"), (m.get("dst_completed"), "derived")),
        "end": pick((cp.get("src-downtime-end"), "measured"), (m.get("rp_end_after"), "derived"), (m.get("shut_received"), "derived"), (m.get("src_completed"), "derived"), (m.get("qmp_src_completed"), "derived")),
    }


def _switchover_steps(st: _State, inputs: ImportInputs, first_index: int, samples: list[QuerySample], sample_t: list[float], have_dst: bool) -> list[Step]:
    b = _boundaries(st)
    start = b["start"][0]
    steps: list[Step] = []
    final = st.status
    if start is None:
        end_t = st.marks.get(f"src_{final}") if final in ("failed", "cancelled") else None
        if end_t is not None:
            steps.append(_phase_step(st, first_index, end_t, end_t, final, final, True, have_dst, samples, sample_t, "measured", f"migration {final}", "migrate_set_state"))
        return steps
    plan: list[tuple[str, str | None, str]] = [
        ("vm_stop", "vm_stopped", "VM stop: vCPUs and device state transitions (STOP_COPY)"),
        ("ram_complete", "ram_saved", "RAM complete: final sync, remaining pages sent without rate limit"),
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
        if phase == "device_complete" and not st.devices:
            continue
        if t_end is None or t_end < cursor:
            continue
        stopped = True
        dst_running = True if phase in ("completed",) and b["dst_started"][0] is not None else (False if have_dst and phase != "vm_start" else (True if phase == "vm_start" else None))
        status = "completed" if phase == "completed" and final == "completed" else ("device" if "src_device" in st.marks or "qmp_src_device" in st.marks else "active")
        steps.append(_phase_step(st, first_index + len(steps), cursor, t_end, phase, status, stopped, have_dst, samples, sample_t, how or "derived", label, _PHASE_FN[phase], dst_running=dst_running))
        cursor = t_end
    if final in ("failed", "cancelled") and f"src_{final}" in st.marks:
        t_fail = max(cursor, st.marks[f"src_{final}"])
        steps.append(_phase_step(st, first_index + len(steps), cursor, t_fail, final, final, True, have_dst, samples, sample_t, "measured", f"migration {final}", "migrate_set_state"))
    return steps


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
    st: _State, index: int, t: float, end: float, phase: str, status: str, stopped: bool, have_dst: bool,
    samples: list[QuerySample], sample_t: list[float], provenance: str, reason: str, fn: str, dst_running: bool | None = None,
) -> Step:
    sample = _nearest_sample(samples, sample_t, end)
    devices = [d.snapshot() for d in st.devices.values()]
    vfio_sent = st.vfio_sent_total
    if st.late_snapshots:
        times = [x[0] for x in st.late_snapshots]
        at = bisect.bisect_right(times, end + 1e-9) - 1
        if at >= 0:
            devices, vfio_sent = st.late_snapshots[at][1], st.late_snapshots[at][2]
    return Step(
        index=index, t_ms=round(t, 3), end_ms=round(end, 3), phase=phase, status=status, vm_running=not stopped,
        dst_vm_running=dst_running if dst_running is not None else (False if have_dst and phase not in ("completed",) else None),
        ram_remaining_bytes=None, ram_dirty_unsynced_bytes=None, dirty_sync_count=st.sync_count or None, bandwidth_bytes_per_s=None,
        threshold_bytes=None, pending_estimate_bytes=None, pending_exact_bytes=None, expected_downtime_ms=None, can_switchover=None,
        switchover_acked=st.acked if st.ack_in_use else None, transferred_bytes=sample.ram_transferred_bytes if sample is not None and phase == "completed" else None,
        ram_transferred_bytes=None, vfio_transferred_bytes=(vfio_sent if st.devices else None), loaded_bytes=None, in_flight_bytes=None,
        devices=devices, gates=[], decision=Decision(code="switchover" if phase not in ("failed", "cancelled") else "failed", reason=reason, qemu_function=fn),
        provenance="measured" if provenance == "measured" else "derived",
    )


# ---------------------------------------------------------------- summary


def _summary(st: _State, inputs: ImportInputs, steps: list[Step]) -> tuple[Summary, dict[str, str], dict[str, Any]]:
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
                sources[key] = f"query-migrate line {sample.line} ({sample.status}; measured by QEMU)"
                return float(value)
        if info is not None and getattr(info, attr_info) is not None:
            value = getattr(info, attr_info)
            reported[key] = value
            sources[key] = "info migrate" + (" (rounded by QEMU)" if attr_info in info.approximate else " (measured by QEMU)")
            return float(value)
        return None

    status = _final_status(st, inputs)
    timed = not st.untimed
    b = _boundaries(st)

    total = from_reports("total_time_ms", "total_time_ms", "total_time_ms")
    if total is None and timed:
        end = next((st.marks.get(k) for k in ("src_completed", "src_cancelled", "src_failed", "qmp_src_completed", "qmp_src_cancelled", "qmp_src_failed") if k in st.marks), None)
        if end is not None:
            total, sources["total_time_ms"] = end, "trace: setup -> final status (derived)"
    setup = from_reports("setup_time_ms", "setup_time_ms", "setup_time_ms")
    if setup is None and timed and "src_active" in st.marks:
        setup, sources["setup_time_ms"] = st.marks["src_active"], "trace: setup -> active (derived; QEMU counts from the thread start)"

    downtime: float | None = None
    if "src-downtime-start" in st.checkpoints and "src-downtime-end" in st.checkpoints:
        downtime = st.checkpoints["src-downtime-end"] - st.checkpoints["src-downtime-start"]
        sources["downtime_ms"] = "vmstate_downtime_checkpoint src-downtime-start -> src-downtime-end (measured)"
        from_reports("downtime_ms", "downtime_ms", "downtime_ms")
        sources["downtime_ms"] = "vmstate_downtime_checkpoint src-downtime-start -> src-downtime-end (measured)"
    else:
        downtime = from_reports("downtime_ms", "downtime_ms", "downtime_ms") if status == "completed" else None
        if downtime is None and status == "completed" and timed and b["start"][0] is not None and b["end"][0] is not None:
            downtime = b["end"][0] - b["start"][0]
            sources["downtime_ms"] = "trace: migration_thread_low_pending -> return path joined (derived)"

    breakdown = _breakdown(st, b, downtime, inputs) if downtime is not None and timed else {}
    guest = None
    if timed and b["start"][0] is not None and b["dst_started"][0] is not None and status == "completed":
        guest = b["dst_started"][0] - b["start"][0]
        sources["guest_downtime_ms"] = "downtime start -> destination VM running (RESUME / dst-precopy-bh-vm-started), clocks aligned"

    dirty_sync = from_reports("dirty_sync_count", "dirty_sync_count", "dirty_sync_count")
    if dirty_sync is None and st.sync_count:
        dirty_sync, sources["dirty_sync_count"] = float(st.sync_count), "trace: count of migration_bitmap_sync_start (measured)"
    if dirty_sync is None and inputs.src_events is not None:
        passes_q = [e.data["pass"] for e in inputs.src_events.named("MIGRATION_PASS")]
        if passes_q:
            dirty_sync, sources["dirty_sync_count"] = float(max(passes_q)), "QMP MIGRATION_PASS (measured)"

    transferred = from_reports("ram_transferred_bytes", "transferred_bytes", "transferred_bytes")
    vfio_tr = from_reports("vfio_transferred_bytes", "vfio_transferred_bytes", "vfio_transferred_bytes")
    if vfio_tr is None and st.devices and inputs.src_trace is not None:
        vfio_tr, sources["vfio_transferred_bytes"] = float(st.vfio_sent_total), "trace: sum of vfio_save_block data_size (measured)"

    limit = _downtime_limit(st, inputs)
    if limit is not None:
        sources["downtime_limit_ms"] = "trace: migrate_transferred max_size / bandwidth (derived)"

    ack = st.marks.get("ack_received")
    if ack is not None:
        sources["ack_received_at_ms"] = "trace: source_return_path_thread_switchover_acked (measured)"
    permitted = st.marks.get("switchover_permitted")
    if permitted is not None:
        sources["switchover_permitted_at_ms"] = "first pass starting after the ack (derived)"
    elif ack is not None:
        permitted = ack
        sources["switchover_permitted_at_ms"] = "ack time: no pass started after it (derived)"
    started = b["start"][0]
    if started is not None:
        sources["switchover_started_at_ms"] = "vmstate_downtime_checkpoint src-downtime-start (measured)" if b["start"][1] == "measured" else "trace: migration_thread_low_pending, just before VM stop (derived)"
    passes = len(st.passes) if st.passes else None
    if passes is not None:
        sources["passes"] = "trace: count of migrate_pending_estimate (one per migration_iteration_run)"

    devices = [
        DeviceSummary(
            name=d.name, preset=None, precopy=d.precopy, initial_bytes=d.initial_bytes,
            init_data_sent_at_ms=_r(d.init_data_sent_at_ms) if timed else None,
            init_data_loaded_at_ms=_r(d.init_data_loaded_at_ms) if timed else None,
            precopy_bytes=d.precopy_sent if d.sent is not None else None,
            stop_copy_bytes=d.stopcopy_sent if d.sent is not None else None,
        )
        for d in st.devices.values()
    ]
    reason = _reason(st, status, inputs, steps)
    summary = Summary(
        status=status, reason=reason, total_time_ms=_r(total), setup_time_ms=_r(setup), downtime_ms=_r(downtime),
        guest_downtime_ms=_r(guest), downtime_limit_ms=limit, downtime_breakdown_ms=breakdown,
        dirty_sync_count=None if dirty_sync is None else int(dirty_sync),
        transferred_bytes=None if transferred is None else int(transferred),
        vfio_transferred_bytes=None if vfio_tr is None else int(vfio_tr),
        ack_received_at_ms=_r(ack) if timed else None, switchover_permitted_at_ms=_r(permitted) if timed else None,
        switchover_started_at_ms=_r(started) if timed else None, passes=passes, devices=devices,
    )
    if final_q is not None:
        reported["final_status"] = final_q.status
    return summary, sources, reported


FinalStatus = Literal["completed", "failed", "cancelled"]


def _final_status(st: _State, inputs: ImportInputs) -> FinalStatus:
    candidates = [st.status if inputs.src_trace is not None and st.status != "none" else None]
    if inputs.src_events is not None:
        statuses = [e.data["status"] for e in inputs.src_events.named("MIGRATION")]
        candidates.append(statuses[-1] if statuses else None)
    if inputs.query is not None and inputs.query.samples:
        candidates.append(inputs.query.samples[-1].status)
    if inputs.info is not None:
        candidates.append(inputs.info.status)
    for value in candidates:
        if value == "completed":
            return "completed"
        if value == "failed":
            return "failed"
        if value in ("cancelled", "cancelling"):
            return "cancelled"
    if any("failed" in str(v) for v in (st.dst_status,)) or st.errors:
        return "failed"
    # The files end while the migration was still running: the model has no "incomplete"
    # status, so it is shown as cancelled with the reason saying so.
    return "cancelled"


def _reason(st: _State, status: str, inputs: ImportInputs, steps: list[Step]) -> str:
    if status == "completed":
        return f"completed after {len(st.passes)} passes" if st.passes else "completed"
    if status == "cancelled" and "src_cancelling" in st.marks:
        # The channel errors that follow a cancel are its consequence, not its cause.
        never = "" if "low_pending" in st.marks else ", never switched over"
        passes = f" after {len(st.passes)} passes" if st.passes else ""
        return f"cancelled (migrate_cancel at {st.marks['src_cancelling'] / 1000.0:.1f} s){passes}{never}"
    if st.errors:
        return f"{status}: {st.errors[0]}"
    if inputs.query is not None and inputs.query.samples and inputs.query.samples[-1].error_desc:
        return f"{status}: {inputs.query.samples[-1].error_desc}"
    if st.status not in ("completed", "failed", "cancelled", "cancelling", "none"):
        return f"the files end while the migration was still {st.status}"
    return status


def _downtime_limit(st: _State, inputs: ImportInputs) -> float | None:
    """threshold = bandwidth x downtime-limit, so max_size / bandwidth gives the limit back."""
    ratios: list[float] = []
    for e in st.events:
        if e.kind != "window":
            continue
        bw_per_ms = e.data.get("switchover_bandwidth_bytes_per_s", e.data["bandwidth_bytes_per_s"]) / 1000.0
        if bw_per_ms >= 1000 and e.data["threshold_bytes"] > 0:
            ratios.append(e.data["threshold_bytes"] / bw_per_ms)
    if not ratios:
        return None
    return float(round(median(ratios)))


def _breakdown(st: _State, b: dict[str, tuple[float | None, str]], downtime: float, inputs: ImportInputs) -> dict[str, float]:
    start = b["start"][0]
    if start is None:
        return {}
    have_dst = inputs.dst_trace is not None or inputs.dst_events is not None
    order: list[tuple[str, float | None]] = [("vm_stop", b["vm_stopped"][0])]
    sync_s, sync_e = st.marks.get("final_sync_start"), st.marks.get("final_sync_end")
    ram_saved = b["ram_saved"][0]
    if sync_s is not None and sync_e is not None:
        order.append(("source_ram_send", sync_s))
        order.append(("ram_final_sync", sync_e))
    order.append(("source_ram_send", ram_saved))
    if st.devices:
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


def _attach_event_steps(events: list[Event], steps: list[Step]) -> None:
    starts = [s.t_ms for s in steps]
    for e in events:
        index = bisect.bisect_right(starts, e.t_ms) - 1
        e.step = max(0, index)


def _guess_profile(inputs: ImportInputs, st: _State) -> tuple[str, list[str]]:
    evidence: list[str] = []
    low = (8, 1)
    high: tuple[int, int] | None = None
    names: set[str] = set()
    windows_with_switchover_bw = False
    for log in (inputs.src_trace, inputs.dst_trace):
        if log is None:
            continue
        names.update(r.name for r in log.records)
        windows_with_switchover_bw |= any(r.name == "migrate_transferred" and r.fields.get("switchover_bw") is not None for r in log.records)
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
    if "savevm_send_switchover_start" in names or "src_device" in st.marks:
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
        return int(median(rates)), "migration_bitmap_sync_end dirty pages per rate period (>= 1 s) x 4 KiB, median"
    last = syncs[-1]
    span = last.t_ms - start
    if span > 0 and last.data["dirty_pages"] > 0:
        return int(last.data["dirty_pages"] * 4096 / (span / 1000.0)), "migration_bitmap_sync_end dirty pages x 4 KiB over the only (< 1 s) rate period"
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


MiB = 1024**2


def _observed(st: _State, inputs: ImportInputs, summary: Summary) -> dict[str, Any]:
    """What the files say about the settings, for "Simulate this" (derive.py)."""
    out: dict[str, Any] = {}
    q = inputs.query
    if q is not None and (s := q.last_with("ram_total_bytes")) is not None:
        out["ram_total_bytes"] = {"value": s.ram_total_bytes, "from": f"query-migrate ram.total (line {s.line})"}
        page = s.page_size_bytes or 4096
        if s.duplicate_pages is not None and s.ram_total_bytes:
            fraction = min(1.0, s.duplicate_pages * page / s.ram_total_bytes)
            out["zero_page_fraction"] = {"value": round(fraction, 3), "from": "query-migrate ram.duplicate x page size / ram.total"}
        rates = [x.dirty_pages_rate * (x.page_size_bytes or 4096) for x in q.samples if x.dirty_pages_rate]
        if rates:
            out["dirty_rate_bytes_per_s"] = {"value": int(median(rates)), "from": "median of query-migrate ram.dirty-pages-rate x page size"}
    if "dirty_rate_bytes_per_s" not in out:
        rate = _trace_dirty_rate([e for e in st.events if e.kind == "bitmap_sync" and e.side == "source" and "dirty_pages" in e.data])
        if rate is not None:
            out["dirty_rate_bytes_per_s"] = {"value": rate[0], "from": rate[1]}
    breakdown = summary.downtime_breakdown_ms
    if not st.devices and "vm_stop" in breakdown:
        out["vm_stop_ms"] = {"value": breakdown["vm_stop"], "from": "downtime breakdown: decision -> VM stopped"}
    if "dest_vm_start" in breakdown:
        out["vm_start_ms"] = {"value": breakdown["dest_vm_start"], "from": "downtime breakdown: destination load done -> VM running"}
    if summary.setup_time_ms is not None:
        out["setup_ms"] = {"value": summary.setup_time_ms, "from": "setup time"}
    if "ram_total_bytes" in out:
        pass
    elif inputs.info is not None and inputs.info.total_ram_bytes is not None:
        out["ram_total_bytes"] = {"value": inputs.info.total_ram_bytes, "from": "info migrate total ram"}
    elif st.passes and st.passes[0].estimate and not st.devices:
        out["ram_total_bytes"] = {"value": st.passes[0].estimate, "from": "first migrate_pending_estimate (every page is dirty before the first pass)"}
    limited = [p.window_bw for p in st.passes if p.slept_ms and p.slept_ms > 0 and p.window_bw]
    if limited:
        out["max_bandwidth_bytes_per_s"] = {"value": _round_rate_down(median(limited)), "from": f"median throughput of {len(limited)} rate-limited windows, rounded down to a round MiB/s"}
    windows = [p.window_bw for p in st.passes if p.window_bw]
    if windows:
        out["peak_window_bytes_per_s"] = {"value": int(max(windows)), "from": "largest migrate_transferred bandwidth"}
    if summary.downtime_limit_ms is not None:
        out["downtime_limit_ms"] = {"value": summary.downtime_limit_ms, "from": "migrate_transferred max_size / bandwidth"}
    init_error = any(INIT_DATA_SENT_ERROR in e for e in st.errors)
    if st.ack_in_use:
        dst_caps = ["return-path"] if init_error else ["return-path", "switchover-ack"]
        out["caps"] = {
            "value": {"source": ["return-path", "switchover-ack"], "destination": dst_caps},
            "from": "destination refused INIT_DATA_SENT: switchover-ack was off there" if init_error else "switchover-ack lines on the source/destination",
        }
    devices: dict[str, Any] = {}
    for d in st.devices.values():
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
        out["devices"] = {"value": devices, "from": "vfio_* trace lines (initial bytes: first pending query; stop-copy: bytes read after VM stop, else the last stopcopy size)"}
    return out


def _notes(inputs: ImportInputs, st: _State, alignment: ClockAlignment | None, untimed: bool) -> list[str]:
    notes = ["Imported from real QEMU output: values QEMU did not log are unknown (null), never 0."]
    if untimed:
        notes.append("The trace log has no timestamps (QEMU without -msg timestamp=on): steps are in line order and durations are unknown.")
    if alignment is not None:
        notes.append(f"Destination times shifted by {-alignment.offset_us / 1000.0:+.3f} ms to the source clock ({alignment.method}).")
    else:
        notes.append("No destination files: destination-side instants (load, VM start) are unknown.")
    if inputs.src_trace is None:
        notes.append("No source trace: passes, thresholds and the ack time are unknown.")
    if st.ack_in_use is None:
        notes.append("No sign of switchover-ack in these files (no ack lines): the ack gate is unknown.")
    if not st.checkpoints:
        notes.append("No vmstate_downtime_* lines (QEMU 8.2+, -trace 'vmstate_downtime*'): switchover phases are bounded by the nearest trace lines (derived).")
    return notes


def _file_infos(inputs: ImportInputs) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for role, item in (("source_trace", inputs.src_trace), ("destination_trace", inputs.dst_trace), ("query_migrate", inputs.query), ("source_events", inputs.src_events), ("destination_events", inputs.dst_events), ("info_migrate", inputs.info)):
        if item is not None:
            out[role] = item.info()
    return out


def _total(inputs: ImportInputs, attribute: str) -> int:
    total = 0
    for item in (inputs.src_trace, inputs.dst_trace, inputs.query, inputs.src_events, inputs.dst_events, inputs.info):
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
    name = inputs.src_trace.file if inputs.src_trace is not None else (inputs.query.file if inputs.query is not None else "QEMU migration")
    return f"imported: {name} ({summary.status})"
