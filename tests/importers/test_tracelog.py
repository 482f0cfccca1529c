"""The trace-log parser on real lines and on the documented line shapes."""

from __future__ import annotations

import pytest

from app.importers import ImportFileError
from app.importers.tracelog import parse_trace_log

from .helpers import REAL, REAL_RUNS, count_lines


@pytest.mark.parametrize("run", REAL_RUNS)
def test_real_source_logs_parse_with_every_line_accounted_for(run: str) -> None:
    path = REAL / f"{run}.src.trace.log"
    log = parse_trace_log(path.read_text(), path.name)
    lines = len(path.read_text().splitlines())
    ignored = sum(log.ignored_events.values())
    assert log.lines_total == lines
    assert len(log.records) + ignored + log.skipped_lines == lines
    assert log.skipped_lines == 0
    assert log.timestamped
    assert len(log.named("migrate_pending_estimate")) == count_lines(
        path, ":migrate_pending_estimate "
    )
    assert len(log.named("savevm_state_iterate")) == count_lines(path, ":savevm_state_iterate")
    # ram_load_complete is a real event the importer does not use: counted, not fatal.
    assert "migration_bitmap_clear_dirty" in log.ignored_events


def test_timestamps_are_exact_microseconds() -> None:
    path = REAL / "q100-w64-r2048-bw128-dt300-1.src.trace.log"
    log = parse_trace_log(path.read_text(), path.name)
    acked = log.named("source_return_path_thread_switchover_acked")[0]
    assert (
        acked.t_us == 1795639524_139077
    )  # "9304@1795639524.139077:source_return_path_thread_switchover_acked"
    assert acked.pid == 9304
    transferred = log.named("migrate_transferred")[0].fields
    assert transferred == {
        "transferred": 13547517,
        "time_spent": 100,
        "bandwidth": 135475,
        "switchover_bw": 0,
        "max_size": 40642551,
    }


def test_lines_without_the_pid_time_prefix_parse_but_have_no_time() -> None:
    text = "migrate_set_state new state setup\nmigrate_pending_estimate estimate pending size 4096 (pre = 4096 post=0)\n"
    log = parse_trace_log(text, "untimed.log")
    assert [r.name for r in log.records] == ["migrate_set_state", "migrate_pending_estimate"]
    assert all(r.t_us is None for r in log.records)
    assert not log.timestamped
    assert log.records[1].fields["pending"] == 4096


def test_vfio_sizes_hex_and_decimal_with_two_spaces_before_the_device() -> None:
    hex_line = "1@1.000001:vfio_state_pending_exact  (0000:17:00.2) precopy 0x1400000 postcopy 0x0 stopcopy size 0x800000 precopy initial size 0x400000 precopy dirty size 0x0"
    dec_line = "1@1.000002:vfio_state_pending_exact  (0000:17:00.2) precopy 20971520 postcopy 0 stopcopy size 8388608 precopy initial size 4194304 precopy dirty size 0"
    hex_log = parse_trace_log(hex_line, "hex.log")
    dec_log = parse_trace_log(dec_line, "dec.log")
    assert (
        hex_log.records[0].fields
        == dec_log.records[0].fields
        == {
            "device": "0000:17:00.2",
            "precopy": 20971520,
            "postcopy": 0,
            "stopcopy": 8388608,
            "init": 4194304,
            "dirty": 0,
        }
    )
    assert hex_log.vfio_size_format == "hex"
    assert dec_log.vfio_size_format == "decimal"


def test_vfio_load_state_tag_stays_hex_in_every_version() -> None:
    log = parse_trace_log("7@2.5:vfio_load_state  (dev0) data 0xffffffffef100005", "d.log")
    assert log.records[0].fields["data"] == 0xFFFFFFFFEF100005
    assert log.records[0].t_us == 2_500_000  # ".5" is 500000 us
    assert log.vfio_size_format is None  # a tag is not a size


def test_malformed_line_of_a_known_event_names_file_line_and_shape() -> None:
    text = "1@1.000000:migrate_set_state new state setup\n1@1.000100:migrate_pending_exact exact pending size lots\n"
    with pytest.raises(ImportFileError) as caught:
        parse_trace_log(text, "src.log")
    error = caught.value
    assert (error.file, error.line) == ("src.log", 2)
    assert "exact pending size <n> (pre = <n> post=<n>)" in error.expected
    assert "src.log:2: expected" in str(error)


def test_malformed_vfio_line_is_reported() -> None:
    with pytest.raises(ImportFileError) as caught:
        parse_trace_log(
            "ok line\n1@1.0:vfio_save_iterate  (dev) precopy initial size x precopy dirty size 0x0\n",
            "v.log",
        )
    assert caught.value.line == 2
    assert "precopy initial size <n>" in caught.value.expected


def test_unknown_lines_and_events_are_skipped_and_counted() -> None:
    text = "\n".join(  # noqa: FLY002
        (
            "some banner text",
            "1@1.000000:migrate_set_state new state setup",
            "1@1.000010:ram_load_complete exit_code 0 seq iteration 1",
            "1@1.000020:ram_load_complete exit_code 0 seq iteration 2",
            "=== end ===",
        )
    )
    log = parse_trace_log(text, "x.log")
    assert len(log.records) == 1
    assert log.ignored_events == {"ram_load_complete": 2}
    assert log.skipped_lines == 2


def test_error_report_lines_in_a_mixed_log_become_error_records() -> None:
    text = (
        "2023-06-21T10:00:01.000100Z qemu-system-x86_64: 0000:17:00.2: Received INIT_DATA_SENT but switchover ack is not used\n"
        "error while loading state section id 81(0000:00:02.4:00.0/vfio)\n"
    )
    log = parse_trace_log(text, "dst.log")
    assert [r.name for r in log.records] == ["error_report", "error_report"]
    first = log.records[0]
    assert first.fields["device"] == "0000:17:00.2"
    assert first.t_us == 1687341601_000100
    assert log.records[1].fields["message"].startswith("error while loading state section")
