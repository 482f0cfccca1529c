"""Per-device runtime: the kernel truth, QEMU's cached view on the source, and the
destination's view of the same device."""

from __future__ import annotations

from dataclasses import dataclass, field

from .scenario import ResolvedDevice
from .vfio import (
    VFIO_MIG_DATA_BUFFER_BYTES,
    VFIO_MIG_STOP_COPY_SIZE,
    DeviceTruth,
    VfioState,
    VfioStateMachine,
)


@dataclass
class DeviceRuntime:
    spec: ResolvedDevice
    src: VfioStateMachine
    dst: VfioStateMachine
    truth: DeviceTruth
    # QEMU's cached precopy_init_size / precopy_dirty_size (hw/vfio/migration.c).
    init_est: int = 0
    dirty_est: int = 0
    chunk_bytes: int = VFIO_MIG_DATA_BUFFER_BYTES
    initial_data_sent: bool = False
    init_data_sent_at_ms: float | None = None
    init_data_loaded_at_ms: float | None = None
    sent_bytes: int = 0
    precopy_sent_bytes: int = 0
    stopcopy_sent_bytes: int = 0
    initial_total_bytes: int = 0
    # 2026 profile: time this device's current ack reaches the source (None: not acked).
    ack_arrival_ms: float | None = None
    reinit_queue: list[tuple[float, int]] = field(default_factory=list)
    reinit_pending_report: bool = False

    @classmethod
    def create(cls, spec: ResolvedDevice, *, p2p_states: bool) -> DeviceRuntime:
        p2p = spec.p2p and p2p_states
        truth = DeviceTruth(
            init_bytes=float(spec.initial_bytes if spec.precopy else 0),
            dirty_bytes=0.0,
            stop_copy_bytes=spec.stop_copy_bytes,
            dirty_rate_bytes_per_ms=spec.dirty_rate_bytes_per_s / 1000.0 if spec.precopy else 0.0,
            dirty_max_bytes=float(spec.dirty_max_bytes),
        )
        return cls(
            spec=spec,
            src=VfioStateMachine(p2p=p2p, precopy=spec.precopy),
            dst=VfioStateMachine(p2p=p2p, precopy=spec.precopy),
            truth=truth,
            initial_total_bytes=spec.initial_bytes if spec.precopy else 0,
            reinit_queue=sorted((r.at_ms, r.initial_bytes) for r in spec.reinit),
        )

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def needs_ack(self) -> bool:
        # vfio_switchover_ack_needed: the destination device advertises PRE_COPY.
        return self.spec.precopy

    def query_stop_copy_length(self) -> int:
        """vfio_query_stop_copy_size; QEMU assumes 100 GiB when the ioctl fails."""
        if self.spec.stop_copy_query_fails:
            return VFIO_MIG_STOP_COPY_SIZE
        return self.truth.stop_copy_length()

    def precopy_estimate(self) -> int:
        """vfio_state_pending_estimate: cached init + dirty, only while in pre-copy."""
        return self.init_est + self.dirty_est if self.src.in_precopy else 0

    def in_state(self, *states: VfioState) -> bool:
        return self.src.state in states


def device_records(dev: DeviceRuntime, init_part: int, dirty_part: int, rest_part: int) -> list[tuple[str, int, float]]:
    """(kind, bytes, destination load cost in ms) for one chunk of device data: the initial
    part pays the slow initial-bytes cost that switchover-ack exists for."""
    per_init_ms = dev.spec.dest_initial_load_ms / dev.initial_total_bytes if dev.initial_total_bytes else 0.0
    rate = dev.spec.dest_load_bytes_per_s / 1000.0
    parts = (
        ("vfio_init", init_part, init_part * per_init_ms),
        ("vfio_dirty", dirty_part, dirty_part / rate),
        ("vfio_stopcopy", rest_part, rest_part / rate),
    )
    return [part for part in parts if part[1] > 0]
