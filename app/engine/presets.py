"""Device presets from published driver facts (see README "Device presets").

Every number carries a tag: "published" (stated by the source), "derived" (computed from a
published artefact; the arithmetic is in the note) or "estimate" (a reasoned default, to be
tuned; never measured). The web form and `migscope presets` show the tags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Tag = Literal["published", "derived", "estimate"]

MiB = 1024**2
GiB = 1024**3


@dataclass(frozen=True)
class Tagged:
    value: Any
    tag: Tag
    source: str


@dataclass(frozen=True)
class DevicePreset:
    name: str
    title: str
    driver: str
    fields: dict[str, Tagged] = field(default_factory=dict)
    notes: str = ""

    def values(self) -> dict[str, Any]:
        return {key: item.value for key, item in self.fields.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "driver": self.driver,
            "notes": self.notes,
            "fields": {
                key: {"value": item.value, "tag": item.tag, "source": item.source}
                for key, item in self.fields.items()
            },
        }


def P(value: Any, source: str) -> Tagged:
    return Tagged(value, "published", source)


def D(value: Any, source: str) -> Tagged:
    return Tagged(value, "derived", source)


def E(value: Any, source: str = "reasoned default; tune it") -> Tagged:
    return Tagged(value, "estimate", source)


_COVER = "switchover-ack cover letter, qemu-devel, Jun 2023 (Avihai Horon)"
_ORACLE = "Oracle downtime breakdown, qemu-devel, Jul 2024 (~100 MiB VFs)"
_MLX5 = "Linux drivers/vfio/pci/mlx5 (PRE_COPY since Linux 6.2)"
_MLX5_LOAD = (
    "mlx5vf_resume_write copies written bytes into a host buffer (mlx5vf_resume_read_image) and loads "
    "a complete image with one synchronous mlx5vf_cmd_load_vhca_state"
)
_MLX5_SETUP = (
    "RUNNING -> PRE_COPY runs mlx5vf_pci_save_device_data(track): the first full SAVE; the pre-copy "
    "info query (mlx5vf_precopy_ioctl) waits for it, so vfio_save_setup blocks"
)
_MLX5_SIZE = "mlx5vf_pci_get_data_size reports the firmware's full state size, not the final delta"
_MLX5_STOP = "(128 ms from downtime start to VM stopped with two VFs (Oracle, Jul 2024) - 20 ms vCPU stop) / 2"
_COPY = "copy_from_user into the driver's buffer, memcpy speed"

PRESETS: dict[str, DevicePreset] = {
    p.name: p
    for p in [
        DevicePreset(
            name="mlx5-cx7-vf-300mb",
            title="NVIDIA ConnectX-7 VF, 300 MB of state (the switchover-ack headline device)",
            driver="mlx5_vfio_pci",
            notes="~1480 ms of destination resource allocation is triggered by the initial bytes.",
            fields={
                "precopy": P(True, _MLX5),
                "p2p": P(True, _MLX5),
                "initial_bytes": E(
                    16 * MiB, "no size published; 'not expected to be very large' (1-30 MiB)"
                ),
                "dirty_rate_bytes_per_s": E(0, "idle device"),
                "dirty_max_bytes": E(64 * MiB),
                "stop_copy_bytes": E(
                    16 * MiB,
                    "the final SAVE is incremental (mlx5vf_pci_save_device_inc_data): for an "
                    "idle VF, what changed since the first image; no size published. A busy VF "
                    "saves far more (~100 MiB per VF in " + _ORACLE + ")",
                ),
                "reported_stop_copy_bytes": P(
                    300_000_000, "300 MB (" + _COVER + "); " + _MLX5_SIZE
                ),
                "read_bytes_per_s": D(600 * MiB, "SAVE 125-225 ms for ~100 MiB (" + _ORACLE + ")"),
                "dest_initial_load_ms": P(1480.0, _COVER),
                "dest_load_bytes_per_s": E(1 * GiB, "'a few hundred ms' for the rest"),
                "dest_load_granularity": P("image", _MLX5_LOAD),
                "dest_write_bytes_per_s": E(8 * GiB, _COPY),
                "setup_saves_initial_image": P(True, _MLX5_SETUP),
                "dest_config_load_ms": P(110.0, _ORACLE),
                "precopy_enter_ms": E(5.0),
                "stop_copy_enter_ms": D(54.0, _MLX5_STOP),
                "resume_exit_ms": E(20.0),
            },
        ),
        DevicePreset(
            name="mlx5-cx7-vf-100mib",
            title="NVIDIA ConnectX-7 VF, ~100 MiB of state",
            driver="mlx5_vfio_pci",
            fields={
                "precopy": P(True, _MLX5),
                "p2p": P(True, _MLX5),
                "initial_bytes": E(8 * MiB),
                "dirty_rate_bytes_per_s": E(0, "idle device"),
                "dirty_max_bytes": E(32 * MiB),
                "stop_copy_bytes": D(
                    92 * MiB,
                    "final image: ~400 MiB over 4 VFs (multifd device-state series) minus "
                    "the initial image",
                ),
                "reported_stop_copy_bytes": D(100 * MiB, "~400 MiB over 4 VFs; " + _MLX5_SIZE),
                "read_bytes_per_s": D(
                    570 * MiB, "100 MiB / 175 ms, middle of SAVE 125-225 ms (" + _ORACLE + ")"
                ),
                "dest_initial_load_ms": E(500.0, "1480 ms scaled to 100 MiB"),
                "dest_load_bytes_per_s": D(
                    440 * MiB, "100 MiB / 227 ms, middle of LOAD 214-240 ms (" + _ORACLE + ")"
                ),
                "dest_load_granularity": P("image", _MLX5_LOAD),
                "dest_write_bytes_per_s": E(8 * GiB, _COPY),
                "setup_saves_initial_image": P(True, _MLX5_SETUP),
                "dest_config_load_ms": P(110.0, _ORACLE),
                "precopy_enter_ms": E(5.0),
                "stop_copy_enter_ms": D(54.0, _MLX5_STOP),
                "resume_exit_ms": E(20.0),
            },
        ),
        DevicePreset(
            name="mlx5-cx7-vf-1gb-rdma",
            title="NVIDIA ConnectX-7 VF, 1 GB under RDMA resource churn (re-initialises, 2026 profile)",
            driver="mlx5_vfio_pci",
            notes="REINIT events only take effect with the proposed 2026 profile.",
            fields={
                "precopy": P(True, _MLX5),
                "p2p": P(True, _MLX5),
                "initial_bytes": E(32 * MiB, "10-50 MiB per REINIT"),
                "dirty_rate_bytes_per_s": E(50 * MiB, "20-100 MiB/s"),
                "dirty_max_bytes": E(256 * MiB),
                "stop_copy_bytes": D(
                    1_000_000_000 - 32 * MiB,
                    "1 GB under RDMA churn (2026 REINIT series), minus the initial image",
                ),
                "reported_stop_copy_bytes": P(
                    1_000_000_000, "1 GB (2026 REINIT series); " + _MLX5_SIZE
                ),
                "read_bytes_per_s": D(600 * MiB, _ORACLE),
                "dest_initial_load_ms": E(2000.0),
                "dest_load_bytes_per_s": E(1 * GiB),
                "dest_load_granularity": P("image", _MLX5_LOAD),
                "dest_write_bytes_per_s": E(8 * GiB, _COPY),
                "setup_saves_initial_image": P(True, _MLX5_SETUP),
                "dest_config_load_ms": P(110.0, _ORACLE),
                "precopy_enter_ms": E(5.0),
                "stop_copy_enter_ms": D(54.0, _MLX5_STOP),
                "resume_exit_ms": E(30.0),
                "reinit": E(
                    [{"at_ms": 4000.0, "initial_bytes": 32 * MiB, "dest_load_ms": 2000.0}],
                    "one re-initialisation during pre-copy, as costly to load as the first image",
                ),
            },
        ),
        DevicePreset(
            name="hisi-acc-vf",
            title="HiSilicon ACC (SEC/HPRE/ZIP) VF",
            driver="hisi_acc_vfio_pci",
            notes="Initial bytes are compatibility data: fail early on a bad destination, not a downtime win.",
            fields={
                "precopy": P(True, "Linux 6.2 hisi_acc_vfio_pci"),
                "p2p": E(False),
                "initial_bytes": D(40, "QM_MATCH_SIZE"),
                "dirty_rate_bytes_per_s": P(0, "dirty_bytes always 0 (driver code)"),
                "dirty_max_bytes": P(0, "driver code"),
                "stop_copy_bytes": D(136, "~176 B whole state minus 40 B initial"),
                "read_bytes_per_s": E(100 * MiB),
                "dest_initial_load_ms": E(1.0, "< 5 ms"),
                "dest_load_bytes_per_s": E(10 * MiB),
                "dest_load_granularity": D(
                    "image",
                    "hisi_acc_vf_resume_write buffers the data; the match data is "
                    "checked once the setup section is complete, the state loaded by "
                    "hisi_acc_vf_load_state at RESUMING -> STOP",
                ),
                "dest_config_load_ms": E(2.0),
                "precopy_enter_ms": E(1.0),
                "stop_copy_enter_ms": E(2.0),
                "resume_exit_ms": E(2.0),
            },
        ),
        DevicePreset(
            name="intel-qat-4xxx-vf",
            title="Intel QAT 4xxx VF",
            driver="qat_vfio_pci",
            fields={
                "precopy": P(True, "qat_vfio_pci"),
                "p2p": E(False),
                "initial_bytes": E(1024, "attributes for a compatibility check, < 4096 B"),
                "dirty_rate_bytes_per_s": P(0, "dirty always 0 (driver code)"),
                "dirty_max_bytes": P(0, "driver code"),
                "stop_copy_bytes": D(
                    3072, "one 4096 B state block (published) minus 1 KiB initial"
                ),
                "read_bytes_per_s": E(100 * MiB),
                "dest_initial_load_ms": E(2.0, "< 5 ms"),
                "dest_load_bytes_per_s": E(10 * MiB),
                "dest_load_granularity": D(
                    "image",
                    "qat_vf_resume_write buffers the state block; the compatibility "
                    "check runs once the setup section is complete",
                ),
                "dest_config_load_ms": E(5.0, "< 10 ms"),
                "precopy_enter_ms": E(1.0),
                "stop_copy_enter_ms": E(2.0),
                "resume_exit_ms": E(2.0),
            },
        ),
        DevicePreset(
            name="virtio-net-vf",
            title="virtio-net VF (virtio_vfio_pci, full device context)",
            driver="virtio_vfio_pci",
            notes="Reads the full device context in PRE_COPY; re-queries its size at most once per second.",
            fields={
                "precopy": P(True, "virtio_vfio_pci, Nov 2024"),
                "p2p": E(True),
                "initial_bytes": E(256 * 1024),
                "dirty_rate_bytes_per_s": D(
                    256 * 1024, "full context re-read at most once per second (driver code)"
                ),
                "dirty_max_bytes": D(256 * 1024, "one full context"),
                "stop_copy_bytes": E(256 * 1024),
                "read_bytes_per_s": E(200 * MiB),
                "dest_initial_load_ms": E(10.0),
                "dest_load_bytes_per_s": E(100 * MiB),
                "dest_load_granularity": P(
                    "image",
                    "virtio_vfio_pci reads and loads whole device contexts (virtio "
                    "cannot read or load partial contexts)",
                ),
                "dest_config_load_ms": E(5.0),
                "precopy_enter_ms": E(1.0),
                "stop_copy_enter_ms": E(5.0),
                "resume_exit_ms": E(5.0),
            },
        ),
        DevicePreset(
            name="amd-pensando-vf",
            title="AMD Pensando DSC VF (no PRE_COPY: a negative control)",
            driver="pds_vfio_pci",
            notes="Nothing for switchover-ack to wait for.",
            fields={
                "precopy": P(False, "pds_vfio_pci: STOP_COPY + P2P only"),
                "p2p": P(True, "pds_vfio_pci"),
                "initial_bytes": P(0, "no PRE_COPY"),
                "dirty_rate_bytes_per_s": P(0, "no PRE_COPY"),
                "dirty_max_bytes": P(0, "no PRE_COPY"),
                "stop_copy_bytes": P(64 * 1024, "MIG_DATA_SIZE constant in pds_vfio_pci"),
                "read_bytes_per_s": E(100 * MiB),
                "dest_initial_load_ms": P(0.0, "no PRE_COPY"),
                "dest_load_bytes_per_s": E(2 * MiB, "10-50 ms for the state"),
                "dest_config_load_ms": E(5.0),
                "precopy_enter_ms": P(0.0, "no PRE_COPY"),
                "stop_copy_enter_ms": E(10.0),
                "resume_exit_ms": E(10.0),
            },
        ),
        DevicePreset(
            name="vgpu-illustrative",
            title="vGPU (illustrative only: no published sizes or timings)",
            driver="out-of-tree",
            fields={
                "precopy": E(True),
                "p2p": E(True),
                "initial_bytes": E(256 * MiB),
                "dirty_rate_bytes_per_s": E(100 * MiB, "50-500 MiB/s under load"),
                "dirty_max_bytes": E(1 * GiB),
                "stop_copy_bytes": E(2 * GiB, "1-4 GiB"),
                "read_bytes_per_s": E(2 * GiB),
                "dest_initial_load_ms": E(800.0),
                "dest_load_bytes_per_s": E(2 * GiB),
                "dest_config_load_ms": E(50.0),
                "precopy_enter_ms": E(10.0),
                "stop_copy_enter_ms": E(50.0),
                "resume_exit_ms": E(50.0),
            },
        ),
        DevicePreset(
            name="grace-hopper-gpu",
            title="NVIDIA Grace Hopper GPU (nvgrace-gpu-vfio-pci: migration blocked)",
            driver="nvgrace-gpu-vfio-pci",
            fields={
                "migratable": P(False, "no migration support upstream"),
                "precopy": P(False, "no migration support upstream"),
                "p2p": P(False, "no migration support upstream"),
                "initial_bytes": P(0, "n/a"),
                "stop_copy_bytes": P(0, "n/a"),
            },
        ),
    ]
}
