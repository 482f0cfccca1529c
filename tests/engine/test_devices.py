from copy import deepcopy

import pytest

from app.engine.devices import DeviceRuntime
from app.engine.scenario import DeviceSpec, Reinit, resolve_device
from app.engine.vfio import VFIO_MIG_STOP_COPY_SIZE, VfioState

MiB = 1024**2


def runtime(**fields):
    return DeviceRuntime.create(
        resolve_device(DeviceSpec(name="d", preset="mlx5-cx7-vf-300mb", **fields)), p2p_states=True
    )


def test_failed_size_query_reports_100_gib():
    assert (
        runtime(stop_copy_query_fails=True).query_stop_copy_length()
        == VFIO_MIG_STOP_COPY_SIZE
        == 100 * 1024**3
    )


def test_stop_copy_length_covers_unread_precopy_data():
    dev = runtime()
    assert dev.query_stop_copy_length() == 300_000_000


def test_estimate_counts_only_in_pre_copy():
    dev = runtime()
    dev.init_est, dev.dirty_est = 5, 7
    assert dev.precopy_estimate() == 0  # still RUNNING
    dev.src.request(VfioState.PRE_COPY)
    assert dev.precopy_estimate() == 12


def test_reads_take_the_initial_image_first_then_a_new_incremental_image():
    dev = runtime()
    dev.data.dirty_accum = 100.0
    pieces = dev.read(16 * 1024**2 + 50)
    assert [(p.kind.value, p.nbytes, p.completes) for p in pieces] == [
        ("vfio_init", 16 * 1024**2, True),
        ("vfio_dirty", 50, False),
    ]
    assert dev.data.init_bytes == 0 and dev.data.dirty_bytes == 50


def test_the_write_that_completes_an_image_pays_its_whole_load():
    # mlx5vf_resume_write: earlier chunks are copied; the completing one runs
    # mlx5vf_cmd_load_vhca_state (1480 ms for the 300 MB device's initial image).
    dev = runtime()
    first = dev.read(1024**2)[0]
    assert not first.completes
    assert dev.dest_cost_ms(first) < 1.0
    rest = dev.read(16 * 1024**2)[0]
    assert rest.completes and rest.nbytes == 15 * 1024**2
    assert 1480.0 < dev.dest_cost_ms(rest) < 1482.0
    byte_wise = runtime(dest_load_granularity="byte")
    piece = byte_wise.read(1024**2)[0]
    assert byte_wise.dest_cost_ms(piece) == pytest.approx(
        1480.0 / 16 + 1024**2 / (8 * 1024**3 / 1000), rel=1e-6
    )


def test_reported_stop_copy_size_is_not_what_is_sent():
    # mlx5vf_pci_get_data_size reports the full state size (300 MB); the final SAVE is an
    # incremental delta (16 MiB for the idle preset).
    dev = runtime()
    dev.src.request(VfioState.PRE_COPY)
    dev.read(16 * 1024**2)
    assert dev.query_stop_copy_length() == 300_000_000
    dev.start_final_save(0.0)
    assert sum(i.total for i in dev.data.images) == 16 * 1024**2
    # the SAVE runs at read_bytes_per_s (600 MiB/s): ~26.7 ms before read() returns data
    assert dev.final_ready_ms == pytest.approx(16 / 600 * 1000, rel=1e-6)


def test_setup_waits_for_the_first_save_only_where_the_driver_saves_at_pre_copy_entry():
    assert runtime().setup_save_ms() == pytest.approx(16 / 600 * 1000, rel=1e-6)
    assert runtime(setup_saves_initial_image=False).setup_save_ms() == 0.0


def test_an_empty_image_hands_out_nothing_and_does_not_block_the_reads():
    dev = runtime()
    dev.reinit(0.0, 0, 0.0, reusable_ack=True)  # a re-initialisation of 0 bytes (2026)
    dev.read(16 * 1024**2)
    assert dev.read(1024) == [] and not dev.data.images


def _state(dev: DeviceRuntime) -> tuple[object, ...]:
    data = dev.data
    images = [(i.kind, i.total, i.left, i.load_ms, i.saved) for i in data.images]
    return (
        images,
        data.dirty_accum,
        data.last_ms,
        data.final_extra_bytes,
        data.final_extra_load_ms,
        list(dev.reinit_queue),
        dev.initial_total_bytes,
        dev.reinit_pending_report,
    )


def _figures_after_advance(dev: DeviceRuntime, now_ms: float, running: bool, reusable: bool):
    ahead = deepcopy(dev)
    ahead.advance(now_ms, running, reusable)
    return (ahead.data.init_bytes, ahead.data.dirty_bytes, ahead.query_stop_copy_length())


@pytest.mark.parametrize("preset", ["virtio-net-vf", "mlx5-cx7-vf-1gb-rdma"])
def test_figures_at_is_what_advance_would_leave_and_changes_nothing(preset):
    # A step's init/dirty_kernel_bytes and stop_copy_length_bytes read the driver at the
    # step's end this way (make_step), without moving anything.
    dev = DeviceRuntime.create(
        resolve_device(
            DeviceSpec(name="d", preset=preset, dirty_max_bytes=64 * 1024**2, reinit=[])
        ),
        p2p_states=True,
    )
    dev.src.request(VfioState.PRE_COPY)
    dev.read(1024**2)  # part of the initial image
    dev.advance(300.0, True, True)
    dev.read(dev.data.init_bytes + 1000)  # the rest, and a partly read incremental image
    before = _state(dev)
    assert dev.data.dirty_image_bytes() > 0
    for reusable in (True, False):
        for running in (True, False):
            preview = dev.figures_at(1250.0, running, reusable)
            assert _state(dev) == before
            assert tuple(preview) == _figures_after_advance(dev, 1250.0, running, reusable)
        # The guest paused or not in pre-copy: nothing grows, the figures are as they are.
        assert dev.figures_at(1250.0, False, reusable).dirty_bytes == dev.data.dirty_bytes
    grown = dev.figures_at(1250.0, True, True)
    rate = dev.spec.dirty_rate_bytes_per_s / 1000.0
    assert grown.dirty_bytes == dev.data.dirty_image_bytes() + min(
        int(dev.data.dirty_accum + rate * 950.0), 64 * 1024**2
    )
    assert grown.dirty_bytes > dev.data.dirty_bytes, "the device changed state after 300 ms"
    if dev.spec.reported_stop_copy_bytes is None:
        # Without a reported size the stop-copy length counts the unread pre-copy data.
        assert grown.stop_copy_length_bytes - dev.query_stop_copy_length() == (
            grown.dirty_bytes - dev.data.dirty_bytes
        )
    # Not in pre-copy (RUNNING after a failed migration): nothing grows.
    idle = deepcopy(dev)
    idle.src.state = VfioState.RUNNING
    assert idle.figures_at(1250.0, True, True).dirty_bytes == idle.data.dirty_bytes


@pytest.mark.parametrize("reusable", [True, False])
def test_figures_at_applies_a_reinit_due_as_the_next_advance_will(reusable):
    # The device re-initialises at 800 ms; the step ends at 1250 ms before any advance has
    # applied it: the driver answers with the re-initialised state (2026: a new initial
    # image and dirty_bytes restarted; 10.2: the new state in the stop-copy size).
    dev = DeviceRuntime.create(
        resolve_device(
            DeviceSpec(
                name="d",
                preset="mlx5-cx7-vf-1gb-rdma",
                reinit=[
                    Reinit(at_ms=800.0, initial_bytes=24 * MiB),
                    Reinit(at_ms=2000.0, initial_bytes=8 * MiB),
                ],
            )
        ),
        p2p_states=True,
    )
    dev.src.request(VfioState.PRE_COPY)
    dev.read(dev.data.init_bytes)
    dev.advance(500.0, True, reusable)
    dev.read(1000)  # a partly read incremental image survives a REINIT; its rest is dirty
    before = _state(dev)
    preview = dev.figures_at(1250.0, True, reusable)
    assert _state(dev) == before, "the preview applied nothing"
    assert tuple(preview) == _figures_after_advance(dev, 1250.0, True, reusable)
    rate = dev.spec.dirty_rate_bytes_per_s / 1000.0
    if reusable:
        assert preview.init_bytes == 24 * MiB
        assert preview.dirty_bytes == dev.data.dirty_image_bytes() + int(rate * 450.0)
        assert preview.stop_copy_length_bytes == 1_000_000_000
    else:
        assert preview.init_bytes == 0
        assert preview.dirty_bytes == dev.data.dirty_image_bytes() + int(
            dev.data.dirty_accum + rate * 750.0
        )
        assert preview.stop_copy_length_bytes == 1_000_000_000 + 24 * MiB
    # Not in pre-copy, the driver re-initialises nothing (DeviceRuntime.advance's rule).
    stopped = deepcopy(dev)
    stopped.src.state = VfioState.STOP_COPY
    assert stopped.figures_at(1250.0, True, reusable) == (
        stopped.data.init_bytes,
        stopped.data.dirty_bytes,
        stopped.query_stop_copy_length(),
    )
