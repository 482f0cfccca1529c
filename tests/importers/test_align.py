"""Clock alignment from messages seen on both sides."""

from __future__ import annotations

from app.importers.align import align_clocks
from app.importers.tracelog import parse_trace_log

SRC = "\n".join(  # noqa: FLY002
    (
        "1@100.000000:savevm_send_open_return_path ",
        "1@100.000100:savevm_send_ping 0x1",
        "1@100.002000:source_return_path_thread_switchover_acked ",
        "1@100.002100:source_return_path_thread_pong 0x1",
    )
)


def _dst(offset_s: float) -> str:
    def at(t: float) -> str:
        t += offset_s
        return f"{int(t)}.{round((t - int(t)) * 1e6):06d}"

    return "\n".join(
        (
            f"2@{at(100.001000)}:loadvm_process_command com=OPEN_RETURN_PATH len=0",
            f"2@{at(100.001001)}:migrate_send_rp_message 7: len 0",
            f"2@{at(100.001100)}:loadvm_process_command_ping 0x1",
            f"2@{at(100.001101)}:migrate_send_rp_message 2: len 4",
        )
    )


def test_offset_is_the_middle_of_the_bounds_for_two_hosts() -> None:
    # One-way delay 1 ms each way; destination clock 7 s ahead.
    alignment = align_clocks(parse_trace_log(SRC, "s"), parse_trace_log(_dst(7.0), "d"), None, None)
    assert alignment is not None
    assert alignment.lower_us == 7_000_000 - 999 and alignment.upper_us == 7_000_000 + 1_000
    assert abs(alignment.offset_us - 7_000_000) <= 1
    assert "middle" in alignment.method


def test_zero_kept_when_the_logs_fit_one_clock() -> None:
    alignment = align_clocks(parse_trace_log(SRC, "s"), parse_trace_log(_dst(0.0), "d"), None, None)
    assert alignment is not None and alignment.offset_us == 0
    assert alignment.lower_us is not None and alignment.lower_us <= 0 <= (alignment.upper_us or 0)


def test_user_override_wins_but_bounds_are_still_shown() -> None:
    alignment = align_clocks(
        parse_trace_log(SRC, "s"),
        parse_trace_log(_dst(7.0), "d"),
        None,
        None,
        override_offset_us=6_999_000,
    )
    assert alignment is not None and alignment.offset_us == 6_999_000
    assert alignment.method == "given by the user" and len(alignment.pairs) == 4


def test_no_destination_no_alignment() -> None:
    assert align_clocks(parse_trace_log(SRC, "s"), None, None, None) is None
