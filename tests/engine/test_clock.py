"""Time comparisons (issue 8, point 5): a window that starts at t0 closes at t0 + 100 even
when float subtraction says (t0 + 100) - t0 = 99.99999999999999."""

from __future__ import annotations

import pytest

from app.engine.clock import before, reached

from .helpers import known, run, scenario


@pytest.mark.parametrize("t0", [0.1, 469.297934, 83.453151, 12345.678])
def test_the_window_end_is_reached_exactly_at_t0_plus_100(t0: float) -> None:
    end = t0 + 100.0
    assert reached(end, end)
    assert not before(end, end)
    assert before(end - 0.001, end)
    assert not reached(end - 0.001, end)


def test_boundary_values_that_float_subtraction_gets_wrong_still_close() -> None:
    # The old check `t - window_t0 >= 100` failed for these start times.
    broken = [
        t0
        for t0 in (0.1, 469.297934, 929.531329, 83.453151, 72.799875)
        if (t0 + 100.0) - t0 < 100.0
    ]
    assert broken, "the test needs at least one start time that shows the float problem"
    assert all(reached(t0 + 100.0, t0 + 100.0) for t0 in broken)


def test_a_pass_that_only_writes_end_of_state_markers_advances_time() -> None:
    # Issue 8, point 5: RAM drained, the device's 1 MiB of initial bytes sent and loading at
    # the destination; every pass writes only END_OF_STATE. It used to end at 42 ms as
    # "cancelled: step limit" after 200,000 passes at one instant. It must complete after
    # the ack, with few passes.
    doc = scenario(
        guest={
            "ram_bytes": "256 MiB",
            "zero_page_fraction": 0.5,
            "working_set_bytes": "64 MiB",
            "dirty_rate_bytes_per_s": "16 MiB",
        },
        link={"bandwidth_bytes_per_s": "100 Gbit"},
        params={
            "max_bandwidth_bytes_per_s": "10 GiB",
            "avail_switchover_bandwidth_bytes_per_s": "10 Gbit",
        },
        devices=[{"name": "vf", "preset": "mlx5-cx7-vf-300mb", "initial_bytes": "1 MiB"}],
    )
    trace = run(doc)
    s = trace.summary
    assert s.status == "completed", s.reason
    assert known(s.switchover_started_at_ms) >= known(s.ack_received_at_ms)
    assert known(s.passes) < 5000
    # Time moves forward across the whole run: the ack needs the ~1480 ms image load.
    assert known(s.total_time_ms) > 1400
