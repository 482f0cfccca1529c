"""query-migrate samples, QMP events and HMP `info migrate`: accepted shapes and errors."""

from __future__ import annotations

import pytest

from app.importers import ImportFileError
from app.importers.infomigrate import parse_info_migrate
from app.importers.qmpevents import parse_qmp_events
from app.importers.querymigrate import parse_query_migrate

from .helpers import REAL


def test_query_migrate_wrapped_unwrapped_and_float_timestamps() -> None:
    text = "\n".join(  # noqa: FLY002
        (
            '{"QMP": {"version": {}}}',
            '{"timestamp": {"seconds": 10, "microseconds": 500000}, "return": {"status": "active", "total-time": 5, "ram": {"transferred": 100, "dirty-sync-count": 1}}}',
            '{"timestamp": 10.75, "status": "active", "total-time": 255, "ram": {"remaining": 4096}}',
            '<- {"timestamp": {"seconds": 11, "microseconds": 0}, "return": {"status": "completed", "downtime": 17, "vfio": {"transferred": 2048}}}',
            '{"return": {}}',
            '{"timestamp": {"seconds": 11, "microseconds": 1}, "event": "STOP"}',
        )
    )
    series = parse_query_migrate(text, "q.jsonl")
    assert [s.t_us for s in series.samples] == [10_500_000, 10_750_000, 11_000_000]
    assert series.samples[0].ram_transferred_bytes == 100
    assert series.samples[1].ram_remaining_bytes == 4096 and series.samples[1].total_time_ms == 255
    assert series.samples[2].downtime_ms == 17 and series.samples[2].vfio_transferred_bytes == 2048
    assert series.skipped_lines == 3  # greeting, empty reply, event


def test_query_migrate_real_file() -> None:
    series = parse_query_migrate(
        (REAL / "q100-w64-r2048-bw128-dt300-1.query-migrate.jsonl").read_text(), "q"
    )
    assert len(series.samples) == 23
    final = series.final()
    assert final is not None and final.status == "completed" and final.downtime_ms == 17


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"return": {"status": "active"}}', '"timestamp"'),
        (
            '{"timestamp": {"seconds": "x", "microseconds": 0}, "return": {"status": "active"}}',
            '"timestamp" of',
        ),
        ('{"timestamp": 1, "return": {"status": 5}}', "MigrationStatus"),
        (
            '{"timestamp": 1, "return": {"status": "active", "ram": {"transferred": -1}}}',
            "ram.'transferred'",
        ),
        ('{"timestamp": 1, "return": {"status": "active", "ram": []}}', '"ram" as an object'),
        ("{not json", "one JSON object per line"),
    ],
)
def test_query_migrate_errors_name_the_line(line: str, expected: str) -> None:
    with pytest.raises(ImportFileError) as caught:
        parse_query_migrate('{"timestamp": 1, "return": {"status": "setup"}}\n' + line, "q.jsonl")
    assert caught.value.line == 2 and caught.value.file == "q.jsonl"
    assert expected in caught.value.expected


def test_qmp_events_real_file_and_shapes() -> None:
    log = parse_qmp_events(
        (REAL / "q100-w64-r2048-bw128-dt300-1.src.events.jsonl").read_text(), "e"
    )
    assert [e.name for e in log.events].count("MIGRATION_PASS") == 3
    assert log.named("STOP")[0].t_us == 1795639525_138852
    text = (
        '{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "VFIO_MIGRATION", "data": {"device-id": "vf0", "qom-path": "/m/vf0", "device-state": "pre-copy"}}\n'
        '{"timestamp": {"seconds": 1, "microseconds": 3}, "event": "SHUTDOWN", "data": {}}\n'
    )
    log = parse_qmp_events(text, "e2")
    assert log.events[0].data["device-state"] == "pre-copy"
    assert log.ignored_events == {"SHUTDOWN": 1}


def test_qmp_event_with_bad_data_is_reported() -> None:
    with pytest.raises(ImportFileError) as caught:
        parse_qmp_events(
            '{"timestamp": {"seconds": 1, "microseconds": 0}, "event": "MIGRATION_PASS", "data": {"pass": "two"}}',
            "e.jsonl",
        )
    assert caught.value.line == 1 and "MIGRATION_PASS" in caught.value.expected


def test_info_migrate_1010_layout_sizes_are_marked_approximate() -> None:
    text = (
        "Status: \t\tcompleted\n"
        "Time (ms): \t\ttotal=1018, setup=1, down=17\n"
        "RAM info:\n"
        "  Throughput (Mbps): \t1177.14\n"
        "  Sizes: \t\tpagesize=4 KiB, total=512 MiB\n"
        "  Transfers: \t\ttransferred=143 MiB, remain=0 B\n"
        "    Channels: \t\tprecopy=129 MiB, multifd=0 B, postcopy=0 B, vfio=1.5 MiB\n"
        "  Others: \t\tdirty_syncs=3, downtime_bytes=14329047\n"
    )
    info = parse_info_migrate(text, "hmp.txt")
    assert info.layout == "10.1"
    assert (info.total_time_ms, info.setup_time_ms, info.downtime_ms, info.dirty_sync_count) == (
        1018,
        1,
        17,
        3,
    )
    assert info.vfio_transferred_bytes == int(1.5 * 1024**2)
    assert "vfio_transferred_bytes" in info.approximate


def test_info_migrate_errors() -> None:
    with pytest.raises(ImportFileError) as caught:
        parse_info_migrate("hello\nworld\n", "hmp.txt")
    assert caught.value.line is None and "Migration status" in caught.value.expected
    with pytest.raises(ImportFileError) as caught:
        parse_info_migrate("Migration status: completed\ndowntime: soon\n", "hmp.txt")
    assert caught.value.line == 2 and "<n> ms" in caught.value.expected


def test_vfio_migration_events_give_device_states_when_the_trace_has_none() -> None:
    from app.importers import InputFile, import_files

    run = REAL / "q100-w64-r2048-bw128-dt300-1"
    events = (
        '{"timestamp": {"seconds": 1795639524, "microseconds": 138600}, "event": "VFIO_MIGRATION", "data": {"device-id": "vf0", "qom-path": "/machine/peripheral/vf0", "device-state": "pre-copy"}}\n'
        '{"timestamp": {"seconds": 1795639525, "microseconds": 138900}, "event": "VFIO_MIGRATION", "data": {"device-id": "vf0", "qom-path": "/machine/peripheral/vf0", "device-state": "stop-copy"}}\n'
    )
    trace = import_files(
        src_trace=InputFile("src.log", (run.parent / f"{run.name}.src.trace.log").read_bytes()),
        src_events=InputFile(
            "events.jsonl",
            (run.parent / f"{run.name}.src.events.jsonl").read_bytes() + events.encode(),
        ),
    )
    changes = [
        (e.device, e.data["from"], e.data["to"]) for e in trace.events if e.kind == "device_state"
    ]
    assert changes == [("vf0", None, "PRE_COPY"), ("vf0", "PRE_COPY", "STOP_COPY")]
    assert [d.name for d in trace.summary.devices] == ["vf0"]
    assert trace.summary.devices[0].precopy is True
    # The states are in the step snapshots too: PRE_COPY during the passes, STOP_COPY after stop.
    iterate = [step for step in trace.steps if step.phase == "iterate"]
    assert iterate[0].devices[0].src_state == "PRE_COPY"
    assert trace.steps[-1].devices[0].src_state == "STOP_COPY"
