import pytest

from app.engine.devices import DeviceRuntime
from app.engine.scenario import DeviceSpec, resolve_device
from app.engine.vfio import VFIO_MIG_STOP_COPY_SIZE, VfioState


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
