from app.engine.devices import DeviceRuntime
from app.engine.scenario import DeviceSpec, resolve_device
from app.engine.vfio import VFIO_MIG_STOP_COPY_SIZE, VfioState


def runtime(**fields):
    return DeviceRuntime.create(resolve_device(DeviceSpec(name="d", preset="mlx5-cx7-vf-300mb", **fields)), p2p_states=True)


def test_failed_size_query_reports_100_gib():
    assert runtime(stop_copy_query_fails=True).query_stop_copy_length() == VFIO_MIG_STOP_COPY_SIZE == 100 * 1024**3


def test_stop_copy_length_covers_unread_precopy_data():
    dev = runtime()
    assert dev.query_stop_copy_length() == 300_000_000


def test_estimate_counts_only_in_pre_copy():
    dev = runtime()
    dev.init_est, dev.dirty_est = 5, 7
    assert dev.precopy_estimate() == 0  # still RUNNING
    dev.src.request(VfioState.PRE_COPY)
    assert dev.precopy_estimate() == 12


def test_reads_take_initial_bytes_first():
    dev = runtime()
    dev.truth.dirty_bytes = 100.0
    init, dirty = dev.truth.read(16 * 1024**2 + 50)
    assert init == 16 * 1024**2 and dirty == 50
