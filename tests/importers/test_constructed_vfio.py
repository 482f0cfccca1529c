"""CONSTRUCTED VFIO logs (tests/fixtures/constructed, built from QEMU's format strings)."""

from __future__ import annotations

import pytest

from app.engine.trace import Event, Trace
from app.importers import InputFile, import_files
from app.importers.infomigrate import parse_info_migrate

from .helpers import CONSTRUCTED, facts, import_constructed, import_info

MiB = 1024**2
DEV = "0000:17:00.2"
DEV2 = "0000:17:00.3"


@pytest.fixture(scope="module")
def one() -> Trace:
    return import_constructed("vfio81-hex-one-device")


@pytest.fixture(scope="module")
def two() -> Trace:
    return import_constructed("vfio100-dec-two-devices")


@pytest.fixture(scope="module")
def refused() -> Trace:
    return import_constructed("vfio100-init-data-sent-not-used")


def _events(trace: Trace, kind: str) -> list[Event]:
    return [e for e in trace.events if e.kind == kind]


def test_81_hex_sizes_one_device_switchover_ack(one: Trace) -> None:
    s = one.summary
    info = import_info(one)
    assert info["files"]["source_trace"]["vfio_size_format"] == "hex"
    assert one.qemu_profile == "8.1"
    # The destination clock runs 2.5 s ahead; messages take 0.15 ms each way.
    assert info["clock"]["offset_ms"] == pytest.approx(2500.0, abs=0.001)
    assert info["clock"]["uncertainty_ms"] == pytest.approx(0.15, abs=0.001)
    (device,) = s.devices
    assert device.name == DEV and device.precopy is True
    assert device.initial_bytes == 4 * MiB  # "precopy initial size 0x400000"
    assert device.precopy_bytes == 4 * MiB and device.stop_copy_bytes == 8 * MiB
    assert s.vfio_transferred_bytes == facts()["vfio81-hex-one-device"]["vfio_sent"] == 12 * MiB
    assert s.dirty_sync_count == facts()["vfio81-hex-one-device"]["syncs"]
    # INIT_DATA_SENT written -> loaded at the destination -> ack sent -> ack received, in order.
    sent, loaded = _events(one, "init_data_sent")[0], _events(one, "init_data_loaded")[0]
    ack_sent, ack_received = _events(one, "ack_sent")[0], _events(one, "ack_received")[0]
    assert sent.t_ms < loaded.t_ms < ack_sent.t_ms < ack_received.t_ms
    assert ack_received.t_ms - ack_sent.t_ms == pytest.approx(0.15, abs=0.002)
    assert s.ack_received_at_ms == ack_received.t_ms
    assert device.init_data_loaded_at_ms == loaded.t_ms
    # Initial bytes drain 1 MiB per pass (the estimate QEMU keeps after each read).
    init_series = [step.devices[0].init_est_bytes for step in one.steps if step.phase == "iterate"]
    assert init_series[:6] == [4 * MiB, 4 * MiB, 3 * MiB, 2 * MiB, 1 * MiB, 0]
    # 8.1 serialization: nothing was read from the device while RAM still had pages to send.
    assert one.steps[1].devices[0].sent_bytes == 0
    # Waiting for the ack: exact pending fit the threshold, the ack gate held switchover back.
    waits = [step for step in one.steps if step.decision.code == "wait_for_ack"]
    assert waits and all(step.can_switchover is False for step in waits)
    decided = [
        step for step in one.steps if step.decision.code == "switchover" and step.phase == "iterate"
    ]
    assert s.ack_received_at_ms is not None
    assert decided[0].can_switchover is True and decided[0].t_ms > s.ack_received_at_ms
    # 8.1 exact pending double counts initial bytes on top of stop-copy: 2 MiB ram + 8 + init.
    assert decided[0].devices[0].stop_copy_length_bytes == 8 * MiB
    assert s.downtime_breakdown_ms["source_device_read"] > 0
    assert sum(s.downtime_breakdown_ms.values()) == pytest.approx(s.downtime_ms, abs=1e-6)


def test_100_decimal_sizes_two_devices_ack_after_both(two: Trace) -> None:
    s = two.summary
    assert import_info(two)["files"]["source_trace"]["vfio_size_format"] == "decimal"
    assert two.qemu_profile == "10.0"
    by_name = {d.name: d for d in s.devices}
    assert by_name[DEV].initial_bytes == 3 * MiB and by_name[DEV2].initial_bytes == 2 * MiB
    assert by_name[DEV].stop_copy_bytes == 6 * MiB and by_name[DEV2].stop_copy_bytes == 4 * MiB
    loaded = sorted(e.t_ms for e in _events(two, "init_data_loaded"))
    assert len(loaded) == 2
    (ack_sent,) = _events(two, "ack_sent")
    # The destination acks once, after the second device approved.
    assert ack_sent.t_ms > loaded[1] > loaded[0]
    waits = [step for step in two.steps if step.decision.code == "wait_for_ack"]
    assert waits and all(step.t_ms < ack_sent.t_ms for step in waits)
    # Downtime from the vmstate_downtime_checkpoint lines (measured): src-downtime-start is
    # 10 us after the decision, src-downtime-end 55 us after SHUT arrived.
    f = facts()["vfio100-dec-two-devices"]
    expected = round((f["end"] + 0.000055 - (f["stop_start"] + 0.000010)) * 1000, 3)
    assert s.downtime_ms == pytest.approx(expected, abs=1e-6)
    assert import_info(two)["summary_sources"]["downtime_ms"].startswith(
        "vmstate_downtime_checkpoint"
    )
    assert import_info(two)["qemu_reported"]["downtime_ms"] == 22  # query-migrate "downtime": 22
    assert s.vfio_transferred_bytes == 15 * MiB == f["vfio_sent"]  # query-migrate vfio.transferred
    handlers = {
        (h["side"], h["idstr"]): h["downtime_ms"] for h in import_info(two)["downtime_handlers"]
    }
    assert (
        handlers[("source", "ram")] == 0.6
    )  # "vmstate_downtime_save type=iterable idstr=ram ... downtime=600"
    assert ("destination", "0000:00:06.0/vfio") in handlers
    # Phase steps bounded by checkpoints are measured.
    vm_stop = next(step for step in two.steps if step.phase == "vm_stop")
    assert vm_stop.provenance == "measured"
    assert [d.src_state for d in vm_stop.devices] == ["STOP_COPY", "STOP_COPY"]


def test_info_migrate_of_the_two_device_run() -> None:
    info = parse_info_migrate(
        (CONSTRUCTED / "vfio100-dec-two-devices.info-migrate.txt").read_text(), "info.txt"
    )
    assert info.layout == "classic"
    assert info.vfio_transferred_bytes == 15360 * 1024  # "vfio device transferred: 15360 kbytes"
    assert (info.downtime_ms, info.total_time_ms, info.dirty_sync_count) == (22.0, 83.0, 5)


def test_received_init_data_sent_but_switchover_ack_is_not_used(refused: Trace) -> None:
    s = refused.summary
    assert s.status == "failed"
    assert "Received INIT_DATA_SENT but switchover ack is not used" in s.reason
    errors = _events(refused, "error")
    first = errors[0]
    assert first.side == "destination" and first.device == DEV
    assert any(e.side == "source" for e in errors)
    assert not _events(refused, "init_data_loaded") and not _events(refused, "ack_received")
    assert s.ack_received_at_ms is None and s.downtime_ms is None
    assert refused.steps[-1].phase == "failed"
    assert refused.steps[-1].devices[0].init_data_loaded is False
    # "Simulate this" reproduces the mismatch: switchover-ack on the source only.
    assert refused.scenario["caps"]["source"] == ["return-path", "switchover-ack"]
    assert refused.scenario["caps"]["destination"] == ["return-path"]


def test_constructed_files_are_labelled() -> None:
    readme = (CONSTRUCTED / "README.md").read_text()
    assert "CONSTRUCTED" in readme and "not recorded from a real QEMU" in readme


def test_a_failure_during_switchover_ends_the_steps_where_the_last_one_ended() -> None:
    # The two-device source log cut after the first device's stop-copy data, then the source
    # fails: the last step runs from the end of the switchover steps to the failed state.
    lines = (CONSTRUCTED / "vfio100-dec-two-devices.src.trace.log").read_text().splitlines()
    cut = next(i for i, line in enumerate(lines) if "idstr=0000:00:05.0/vfio " in line)
    failed_line = "4100@1700000000.071000:migrate_set_state new state failed"
    text = "\n".join([*lines[: cut + 1], failed_line]) + "\n"
    trace = import_files(src_trace=InputFile("cut.src.trace.log", text.encode()))
    assert trace.summary.status == "failed"
    last, before = trace.steps[-1], trace.steps[-2]
    assert (last.phase, last.status, last.provenance) == ("failed", "failed", "measured")
    assert before.phase == "non_iterable"
    assert last.t_ms == before.end_ms == 70.499
    assert last.end_ms == 71.0
    assert last.decision.qemu_function == "migrate_set_state"
    assert [step.index for step in trace.steps] == list(range(len(trace.steps)))
