"""QEMU version profiles: the behaviour switches that changed between releases.

Each flag names the QEMU change behind it, so a student can look the change up.
The "2026" profile is based on a *proposed* series (seen as commit titles only: "Make
switchover-ack re-usable", "Implement VFIO_PRECOPY_INFO_REINIT feature"); it is marked
as such everywhere it is shown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

ProfileName = Literal["8.1", "8.2", "9.0", "9.1", "9.2", "10.0", "10.1", "10.2", "2026"]


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    # 8.0-8.2: exact pending is taken when must_precopy <= threshold; 9.0+: pending < threshold.
    exact_trigger_le: bool
    # 10.1+: complete when can_switchover && pending <= threshold; before: (p == 0 || p < thr).
    complete_le: bool
    # 8.1-8.2: qemu_savevm_state_iterate stops at the first handler that returned 0.
    serialize_iterate: bool
    # 8.1-9.1: vfio_state_pending_exact adds init+dirty on top of stop_copy_length.
    vfio_exact_double_count: bool
    # 8.2+: avail-switchover-bandwidth parameter exists.
    avail_switchover_bandwidth: bool
    # 8.2+: P2P states and several VFIO devices (if all support P2P).
    p2p_and_multi_device: bool
    # 8.2+: STOP_COPY -> STOP moved to vfio_save_cleanup, after completion.
    stop_at_cleanup: bool
    # 10.0+: the `device` migration status is always entered at switchover.
    device_state_always: bool
    # 10.0+: MIG_CMD_SWITCHOVER_START is sent after VM stop.
    switchover_start_cmd: bool
    # 10.0+: with multifd, VFIO stop-copy data goes over multifd channels, one save thread
    # and one load thread per device (x-migration-multifd-transfer).
    multifd_device_state: bool
    # 9.2+: VFIO trace sizes printed in decimal (hex before).
    trace_sizes_decimal: bool
    # 2026 proposal: per-device, re-usable acks and VFIO_PRECOPY_INFO_REINIT.
    reusable_ack: bool
    proposed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _profile(
    name: str, description: str, version: tuple[int, int], *, proposed: bool = False
) -> Profile:
    return Profile(
        name=name,
        description=description,
        exact_trigger_le=version < (9, 0),
        complete_le=version >= (10, 1),
        serialize_iterate=version < (9, 0),
        vfio_exact_double_count=version < (9, 2),
        avail_switchover_bandwidth=version >= (8, 2),
        p2p_and_multi_device=version >= (8, 2),
        stop_at_cleanup=version >= (8, 2),
        device_state_always=version >= (10, 0),
        switchover_start_cmd=version >= (10, 0),
        multifd_device_state=version >= (10, 0),
        trace_sizes_decimal=version >= (9, 2),
        reusable_ack=proposed,
        proposed=proposed,
    )


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        _profile(
            "8.1",
            "QEMU 8.1 (Aug 2023): first release with switchover-ack; one VFIO device; handlers serialized",
            (8, 1),
        ),
        _profile(
            "8.2",
            "QEMU 8.2 (Dec 2023): P2P and several devices, avail-switchover-bandwidth; still serialized",
            (8, 2),
        ),
        _profile(
            "9.0",
            "QEMU 9.0 (Apr 2024): no more serialization in qemu_savevm_state_iterate; exact when pending < threshold",
            (9, 0),
        ),
        _profile(
            "9.1",
            "QEMU 9.1 (Aug 2024): VFIO_MIGRATION events; exact still double counts init+dirty",
            (9, 1),
        ),
        _profile(
            "9.2", "QEMU 9.2 (Dec 2024): VFIO exact pending reports only stop_copy_length", (9, 2)
        ),
        _profile(
            "10.0",
            "QEMU 10.0 (Apr 2025): `device` status always entered; SWITCHOVER_START command",
            (10, 0),
        ),
        _profile(
            "10.1",
            "QEMU 10.1 (Aug 2025): completion when can_switchover && pending <= threshold",
            (10, 1),
        ),
        _profile("10.2", "QEMU 10.2 (Dec 2025): as 10.1 for pre-copy", (10, 2)),
        _profile(
            "2026",
            "PROPOSED (2026 series, not released): per-device re-usable switchover acks and "
            "VFIO_PRECOPY_INFO_REINIT; otherwise as 10.2",
            (10, 2),
            proposed=True,
        ),
    )
}

if set(get_args(ProfileName)) != set(PROFILES):
    raise RuntimeError("ProfileName must list exactly the profiles in PROFILES")

DEFAULT_PROFILE: ProfileName = "10.1"
