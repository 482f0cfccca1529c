"""Importing the four real QEMU 10.0 migrations: every figure checked against the files."""

from __future__ import annotations

import itertools
import json

import pytest

from app.engine.trace import Trace

from .helpers import (
    REAL,
    REAL_RUNS,
    count_lines,
    epoch_us,
    first_line,
    import_info,
    import_real,
    last_json,
)

MiB = 1024**2


def _t_ms(run: str, side: str, needle: str) -> float:
    """ms since the source's `new state setup`, read straight from the trace file."""
    t0 = epoch_us(first_line(REAL / f"{run}.src.trace.log", "migrate_set_state new state setup"))
    return (epoch_us(first_line(REAL / f"{run}.{side}.trace.log", needle)) - t0) / 1000.0


@pytest.fixture(scope="module")
def traces() -> dict[str, Trace]:
    return {run: import_real(run) for run in REAL_RUNS}


def test_completed_run_summary_matches_query_migrate_and_trace(traces: dict[str, Trace]) -> None:
    run = "q100-w64-r2048-bw128-dt300-1"
    s = traces[run].summary
    final = last_json(REAL / f"{run}.query-migrate.jsonl", "downtime")
    # The final query-migrate reply: downtime 17, total-time 1018, setup-time 1,
    # dirty-sync-count 3, ram.transferred 149643354.
    assert (final["downtime"], final["total-time"], final["setup-time"]) == (17, 1018, 1)
    assert s.status == "completed"
    assert s.downtime_ms == 17.0
    assert s.total_time_ms == 1018.0
    assert s.setup_time_ms == 1.0
    assert s.dirty_sync_count == final["ram"]["dirty-sync-count"] == 3
    assert s.transferred_bytes == final["ram"]["transferred"] == 149643354
    # No VFIO device in these runs: unknown, not zero.
    assert s.vfio_transferred_bytes is None
    assert s.devices == []
    # 9304@1795639524.139077:source_return_path_thread_switchover_acked, t0 = ...524.137380.
    assert s.ack_received_at_ms == pytest.approx(1.697, abs=1e-9)
    assert s.ack_received_at_ms == pytest.approx(_t_ms(run, "src", "switchover_acked"), abs=1e-6)
    # One pass per migrate_pending_estimate line (11 in the file); the last one decided.
    assert s.passes == count_lines(REAL / f"{run}.src.trace.log", "migrate_pending_estimate") == 11
    # migrate_transferred ... bandwidth 135475 ... max_size 40642551 -> 300 ms (info.json: 300).
    assert s.downtime_limit_ms == 300.0
    # migration_thread_low_pending at ...525.138792.
    assert s.switchover_started_at_ms == pytest.approx(
        _t_ms(run, "src", "migration_thread_low_pending"), abs=1e-6
    )
    assert s.switchover_started_at_ms == pytest.approx(1001.412, abs=1e-9)
    # Destination RESUME at ...525.155415 (same host clock: offset 0).
    assert s.guest_downtime_ms == pytest.approx(16.623, abs=1e-9)
    assert sum(s.downtime_breakdown_ms.values()) == pytest.approx(s.downtime_ms, abs=1e-6)
    assert all(v > 0 for v in s.downtime_breakdown_ms.values())


@pytest.mark.parametrize(
    ("run", "downtime_ms", "total_ms", "syncs", "transferred", "limit_ms", "max_bw"),
    [
        ("q100-w256-r2048-bw32-dt300-1", 7, 13222, 6, 460272792, 300, 32 * MiB),
        ("q100-w256-r12288-bw128-dt100-1", 9, 4018, 7, 550546824, 100, 128 * MiB),
        ("q100-w64-r2048-bw128-dt300-1", 17, 1018, 3, 149643354, 300, 128 * MiB),
    ],
)
def test_every_completed_run(
    traces: dict[str, Trace],
    run: str,
    downtime_ms: int,
    total_ms: int,
    syncs: int,
    transferred: int,
    limit_ms: int,
    max_bw: int,
) -> None:
    trace = traces[run]
    s = trace.summary
    info = json.loads((REAL / f"{run}.info.json").read_text())
    assert (s.status, s.downtime_ms, s.total_time_ms, s.dirty_sync_count, s.transferred_bytes) == (
        "completed",
        downtime_ms,
        total_ms,
        syncs,
        transferred,
    )
    # Settings of the run (info.json) recovered from the trace alone.
    assert s.downtime_limit_ms == info["downtime_limit_ms"] == limit_ms
    observed = import_info(trace)["observed"]
    assert (
        observed["max_bandwidth_bytes_per_s"]["value"]
        == info["max_bandwidth_bytes_per_s"]
        == max_bw
    )
    assert observed["ram_total_bytes"]["value"] == 537403392
    assert import_info(trace)["clock"]["offset_ms"] == 0.0  # both QEMUs ran on one host clock
    assert trace.qemu_profile == "10.0"
    assert trace.source == "import"
    # Steps: setup, one per pass, then the switchover phases, in time order.
    phases = [step.phase for step in trace.steps]
    assert phases[0] == "setup" and phases[-1] == "completed"
    assert phases.count("iterate") == s.passes
    assert all(a.t_ms <= b.t_ms for a, b in itertools.pairwise(trace.steps))
    assert [step.index for step in trace.steps] == list(range(len(trace.steps)))
    assert trace.steps[1].provenance == "measured"
    decided = [
        step
        for step in trace.steps
        if step.decision.code == "switchover" and step.phase == "iterate"
    ]
    assert len(decided) == 1 and decided[0].pending_exact_bytes is not None
    gates = {gate.name: gate.open for gate in decided[0].gates}
    assert gates == {"ram_threshold": True, "switchover_ack": True}


def test_cancelled_run(traces: dict[str, Trace]) -> None:
    run = "q100-w64-r12288-bw32-dt100-1"
    trace = traces[run]
    s = trace.summary
    last_active = last_json(REAL / f"{run}.query-migrate.jsonl", "total-time")
    assert s.status == "cancelled"  # info.json: never converged, cancelled at 30 s
    assert s.reason == "cancelled (migrate_cancel at 30.0 s) after 300 passes, never switched over"
    assert s.downtime_ms is None and s.guest_downtime_ms is None and s.downtime_breakdown_ms == {}
    assert s.switchover_started_at_ms is None
    assert s.total_time_ms == last_active["total-time"] == 30033
    assert s.dirty_sync_count == last_active["ram"]["dirty-sync-count"] == 15
    assert s.passes == count_lines(REAL / f"{run}.src.trace.log", "migrate_pending_estimate")
    assert s.ack_received_at_ms == pytest.approx(_t_ms(run, "src", "switchover_acked"), abs=1e-6)
    assert s.downtime_limit_ms == 100.0
    assert trace.steps[-1].phase == "cancelled"
    # Never converged: no pass decided to switch over; the ack was there from the start.
    assert not any(step.decision.code == "switchover" for step in trace.steps)
    assert all(step.switchover_acked for step in trace.steps if step.phase == "iterate")


def test_trace_only_import_counts_syncs_and_leaves_unlogged_values_unknown() -> None:
    run = "q100-w64-r2048-bw128-dt300-1"
    trace = import_real(run, dst=False, query=False, events=False)
    s = trace.summary
    # migration_bitmap_sync_start appears 3 times: setup, the exact query, completion.
    assert (
        s.dirty_sync_count
        == count_lines(REAL / f"{run}.src.trace.log", "migration_bitmap_sync_start")
        == 3
    )
    assert s.transferred_bytes is None  # only query-migrate / info migrate give QEMU's total
    assert s.guest_downtime_ms is None  # needs the destination
    # low_pending ...525.138792 -> migration_return_path_end_after ...525.155613: 16.821 ms (QEMU said 17).
    assert s.downtime_ms == pytest.approx(16.821, abs=1e-9)
    assert import_info(trace)["summary_sources"]["downtime_ms"].endswith("(derived)")
    assert import_info(trace)["clock"] is None
    assert sum(s.downtime_breakdown_ms.values()) == pytest.approx(s.downtime_ms, abs=1e-6)


def test_clock_bounds_come_from_messages_seen_on_both_sides(traces: dict[str, Trace]) -> None:
    clock = import_info(traces["q100-w64-r2048-bw128-dt300-1"])["clock"]
    by_message = {p["message"]: p for p in clock["pairs"]}
    # SWITCHOVER_ACK: sent ...524.139026 (dst), received ...524.139077 (src): offset >= -0.051 ms.
    assert by_message["SWITCHOVER_ACK"]["bound_ms"] == pytest.approx(-0.051)
    # SHUT: sent ...525.155499, received ...525.155520.
    assert by_message["SHUT"]["bound_ms"] == pytest.approx(-0.021)
    # SWITCHOVER_START: sent ...525.138889, processed ...525.139019: offset <= 0.130 ms.
    assert by_message["SWITCHOVER_START"]["bound_ms"] == pytest.approx(0.130)
    assert clock["lower_bound_ms"] == pytest.approx(-0.021)
    assert clock["upper_bound_ms"] == pytest.approx(0.130)


def test_events_use_the_contract_kinds(traces: dict[str, Trace]) -> None:
    allowed = {
        "status",
        "open_return_path",
        "ping",
        "pong",
        "init_data_sent",
        "init_data_loaded",
        "ack_sent",
        "ack_received",
        "switchover_permitted",
        "switchover_decided",
        "vm_stop",
        "vm_start",
        "device_state",
        "bitmap_sync",
        "window",
        "shut_sent",
        "shut_received",
        "reinit",
        "error",
    }
    for trace in traces.values():
        kinds = {e.kind for e in trace.events}
        assert kinds <= allowed
        assert {
            "ack_sent",
            "ack_received",
            "open_return_path",
            "ping",
            "pong",
            "window",
            "bitmap_sync",
        } <= kinds
        assert [e.t_ms for e in trace.events] == sorted(e.t_ms for e in trace.events)
        assert all(0 <= e.step < len(trace.steps) for e in trace.events)


def test_import_is_deterministic() -> None:
    run = "q100-w256-r12288-bw128-dt100-1"
    assert import_real(run).to_json() == import_real(run).to_json()


def test_a_log_holding_two_migrations_imports_the_last_one() -> None:
    from app.importers import InputFile, import_files

    first, second = "q100-w64-r2048-bw128-dt300-1", "q100-w256-r12288-bw128-dt100-1"

    def both(suffix: str) -> InputFile:
        data = (REAL / f"{first}{suffix}").read_bytes() + (REAL / f"{second}{suffix}").read_bytes()
        return InputFile(f"appended{suffix}", data)

    trace = import_files(src_trace=both(".src.trace.log"), dst_trace=both(".dst.trace.log"))
    alone = import_real(second, query=False, events=False)
    assert trace.summary == alone.summary
    assert import_info(trace)["earlier_migrations_skipped"] == {
        "appended.src.trace.log": 1,
        "appended.dst.trace.log": 1,
    }


def test_query_migrate_alone_gives_one_step_per_sample() -> None:
    from app.importers import InputFile, import_files

    run = "q100-w64-r2048-bw128-dt300-1"
    path = REAL / f"{run}.query-migrate.jsonl"
    trace = import_files(query_migrate=InputFile(path.name, path.read_bytes()))
    s = trace.summary
    assert (s.status, s.downtime_ms, s.total_time_ms, s.dirty_sync_count) == (
        "completed",
        17.0,
        1018.0,
        3,
    )
    assert s.ack_received_at_ms is None and s.passes is None  # not in query-migrate
    assert len(trace.steps) == 23  # 23 replies in the file
    assert trace.steps[1].ram_remaining_bytes == 514572288  # line 2: "remaining": 514572288
    assert trace.steps[-1].phase == "completed"


def test_events_alone_or_info_migrate_alone_give_one_step() -> None:
    from app.importers import InputFile, import_files

    path = REAL / "q100-w64-r2048-bw128-dt300-1.src.events.jsonl"
    trace = import_files(src_events=InputFile(path.name, path.read_bytes()))
    assert (
        trace.summary.status == "completed" and trace.summary.dirty_sync_count == 3
    )  # MIGRATION_PASS 3
    # Pre-copy as one derived step, then STOP (QMP) -> completed (QMP MIGRATION completed).
    assert [step.phase for step in trace.steps] == ["iterate", "vm_stop", "completed"]
    assert trace.steps[0].provenance == "derived"
    assert trace.steps[1].t_ms == pytest.approx(
        1001.44, abs=1e-9
    )  # STOP at ...525.138852, setup at ...524.137412
    hmp = InputFile(
        "info.txt",
        b"Migration status: completed\ntotal time: 1018 ms\ndowntime: 17 ms\nsetup: 1 ms\ndirty sync count: 3\n",
    )
    trace = import_files(info_migrate=hmp)
    assert (trace.summary.downtime_ms, trace.summary.total_time_ms, len(trace.steps)) == (
        17.0,
        1018.0,
        1,
    )


def test_long_runs_are_merged_to_the_step_limit() -> None:
    from app.importers.steps import merge_passes

    trace = import_real("q100-w64-r12288-bw32-dt100-1")  # 300 passes
    merged = merge_passes(trace.steps, 50)
    assert len(merged) <= 50
    assert merged[0].phase == "setup" and merged[-1].phase == "cancelled"
    iterate = [s for s in merged if s.phase == "iterate"]
    assert iterate[0].t_ms == trace.steps[1].t_ms and iterate[-1].end_ms == trace.steps[-2].end_ms
    total_sent = sum(s.pass_sent_bytes or 0 for s in trace.steps)
    assert sum(s.pass_sent_bytes or 0 for s in merged) == total_sent
    assert all(s.provenance == "derived" for s in iterate if "merged" in s.decision.reason)
