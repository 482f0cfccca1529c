"""The trace: what one run of the engine (or one imported real migration) records.

A trace is self-describing: the scenario as given and as resolved, the profile, the engine
version, a summary, every step and every event. Simulated and imported runs share this
model; imported runs mark which values were measured (`provenance`) and leave values that
QEMU did not log as None ("unknown", never zero).

Serialisation is deterministic: `Trace.to_json()` gives the same bytes for the same run.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

TRACE_FORMAT = "migscope-trace"
TRACE_FORMAT_VERSION = 1

Side = Literal["source", "destination", "link", "return-path", "user"]


M = TypeVar("M", bound=BaseModel)


def trusted(cls: type[M], values: dict[str, Any], fields_set: set[str] | None = None) -> M:
    """A model from values the engine built itself: what `model_construct` makes, without its
    per-call walk over the fields (the engine builds one step per pass). `values` holds every
    field, in the model's field order; `fields_set` the ones given explicitly (default: all)."""
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", values)
    object.__setattr__(
        model, "__pydantic_fields_set__", set(values) if fields_set is None else fields_set
    )
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


class Phase(StrEnum):
    """Step phases. The values are the strings stored in traces (other layers read them)."""

    SETUP = "setup"
    ITERATE = "iterate"
    IDLE = "idle"
    VM_STOP = "vm_stop"
    PRE_SWITCHOVER = "pre_switchover"
    RAM_COMPLETE = "ram_complete"
    DEVICE_COMPLETE = "device_complete"
    NON_ITERABLE = "non_iterable"
    DEST_LOAD = "dest_load"
    VM_START = "vm_start"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


# The phase of a pre-copy pass's step: one step per pass, or one per run of alike passes
# (collapse.py). What the run page's "N steps stand for M passes" counts.
PASS_PHASES: tuple[str, ...] = (Phase.ITERATE,)


def pass_step_count(steps: list[Step]) -> int:
    """The steps in PASS_PHASES (each stands for one pre-copy pass or a run of alike ones)."""
    return sum(1 for step in steps if step.phase in PASS_PHASES)


class EventKind(StrEnum):
    """Event kinds. The values are the strings stored in traces (docs/CONTRACT.md)."""

    STATUS = "status"
    OPEN_RETURN_PATH = "open_return_path"
    PING = "ping"
    PONG = "pong"
    INIT_DATA_SENT = "init_data_sent"
    INIT_DATA_LOADED = "init_data_loaded"
    ACK_NEEDED = "ack_needed"
    APPROVE = "approve"
    ACK_SENT = "ack_sent"
    ACK_RECEIVED = "ack_received"
    SWITCHOVER_PERMITTED = "switchover_permitted"
    SWITCHOVER_BLOCKED = "switchover_blocked"
    SWITCHOVER_DECIDED = "switchover_decided"
    VM_STOP = "vm_stop"
    VM_START = "vm_start"
    DEVICE_STATE = "device_state"
    BITMAP_SYNC = "bitmap_sync"
    WINDOW = "window"
    SHUT_SENT = "shut_sent"
    SHUT_RECEIVED = "shut_received"
    REINIT = "reinit"
    ERROR = "error"
    GUEST_PAUSED = "guest_paused"
    SET_PARAMETERS = "set_parameters"
    MIGRATE_CONTINUE = "migrate_continue"
    LOADVM_COMPLETED = "loadvm_completed"
    IMAGE_LOADED = "image_loaded"
    DEVICE_SAVE = "device_save"


class Decision(BaseModel):
    """What the source migration thread decided at this step, and why."""

    code: str = Field(
        description="e.g. keep_iterating, switchover, wait_for_ack, rate_limited, idle, failed"
    )
    reason: str = Field(description="one sentence a student can read")
    qemu_function: str = Field(description="the QEMU function that makes the same decision")


class Gate(BaseModel):
    """One condition that must hold before the source may switch over."""

    name: Literal["ram_threshold", "switchover_ack", "vm_running"]
    open: bool
    detail: str


class DeviceStep(BaseModel):
    """Per-device figures at the end of a step."""

    name: str
    src_state: str | None = Field(
        description="VFIO device state on the source (RUNNING, PRE_COPY, STOP_COPY, ...)"
    )
    dst_state: str | None = Field(description="VFIO device state on the destination")
    init_est_bytes: int | None = Field(
        description="initial bytes QEMU believes remain (its cached precopy_init_size)"
    )
    dirty_est_bytes: int | None = Field(
        description="dirty bytes QEMU believes remain (cached precopy_dirty_size)"
    )
    init_kernel_bytes: int | None = Field(
        description="initial bytes the device really holds (kernel truth), as of the step's end (end_ms)"
    )
    dirty_kernel_bytes: int | None = Field(
        description="dirty bytes the device really holds (kernel truth), as of the step's end (end_ms)"
    )
    stop_copy_length_bytes: int | None = Field(
        description="what VFIO_DEVICE_FEATURE_MIG_DATA_SIZE would report at the step's end (end_ms)"
    )
    sent_bytes: int | None = Field(description="device data bytes written into the stream so far")
    loaded_bytes: int | None = Field(
        description="device data bytes loaded into the destination device so far"
    )
    init_loaded_bytes: int | None = Field(
        description="initial bytes loaded at the destination so far"
    )
    init_data_sent: bool | None = Field(
        description="the source wrote INIT_DATA_SENT for this device"
    )
    init_data_loaded: bool | None = Field(
        description="the destination processed INIT_DATA_SENT for this device"
    )
    acked: bool | None = Field(
        default=None, description="2026 profile: this device's ack reached the source"
    )


class Step(BaseModel):
    """One pass of migration_iteration_run, or one phase of the switchover."""

    model_config = ConfigDict(extra="forbid")

    index: int
    t_ms: float = Field(description="time at the start of the step, ms since `migrate`")
    end_ms: float = Field(description="time at the end of the step")
    phase: str = Field(
        description="setup, iterate, idle, vm_stop, pre_switchover, ram_complete, device_complete, non_iterable, dest_load, vm_start, completed, failed, cancelled"
    )
    status: str = Field(description="source MigrationStatus at the end of the step")
    vm_running: bool | None
    dst_vm_running: bool | None
    ram_remaining_bytes: int | None = Field(
        description="pages in QEMU's migration bitmap x 4 KiB (query-migrate ram.remaining)"
    )
    ram_dirty_unsynced_bytes: int | None = Field(
        description="pages the guest dirtied since the last sync and not yet harvested by QEMU, as of the step's end (end_ms)"
    )
    dirty_sync_count: int | None
    bandwidth_bytes_per_s: float | None = Field(
        description="throughput measured over the last closed >=100 ms window"
    )
    threshold_bytes: float | None = Field(
        description="threshold_size = bandwidth x downtime-limit (or avail-switchover-bandwidth)"
    )
    pending_estimate_bytes: int | None
    pending_exact_bytes: int | None = Field(
        description="only when the exact query ran in this step"
    )
    expected_downtime_ms: float | None
    can_switchover: bool | None
    switchover_acked: bool | None
    transferred_bytes: int | None = Field(description="all bytes written into the stream")
    ram_transferred_bytes: int | None
    vfio_transferred_bytes: int | None
    loaded_bytes: int | None = Field(description="bytes the destination has loaded")
    in_flight_bytes: int | None = Field(
        description="written but not yet loaded (socket buffers, link, destination queue)"
    )
    pass_sent_bytes: int | None = Field(default=None, description="bytes written during this step")
    devices: list[DeviceStep] = Field(default_factory=list)
    gates: list[Gate] = Field(default_factory=list)
    decision: Decision
    provenance: Literal["simulated", "measured", "derived"] = "simulated"


class Event(BaseModel):
    """Something that happened at one instant, on one side."""

    model_config = ConfigDict(extra="forbid")

    t_ms: float
    step: int = Field(description="index of the step during which it happened")
    kind: str = Field(
        description="status, vm_stop, vm_start, init_data_sent, init_data_loaded, ack_sent, ack_received, device_state, bitmap_sync, window, open_return_path, ping, pong, shut_sent, shut_received, switchover_permitted, switchover_decided, error, reinit, ..."
    )
    side: Side
    device: str | None = None
    detail: str
    qemu_function: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class DeviceSummary(BaseModel):
    name: str
    preset: str | None = None
    precopy: bool | None = None
    initial_bytes: int | None = None
    init_data_sent_at_ms: float | None = None
    init_data_loaded_at_ms: float | None = None
    precopy_bytes: int | None = Field(default=None, description="device bytes sent before VM stop")
    stop_copy_bytes: int | None = Field(default=None, description="device bytes sent after VM stop")


class Summary(BaseModel):
    """The keys of `migscope simulate --json`; unknown values are None."""

    status: Literal["completed", "failed", "cancelled"]
    reason: str
    total_time_ms: float | None
    setup_time_ms: float | None
    downtime_ms: float | None = Field(
        description="as QEMU reports it (source stop -> SHUT received with return-path)"
    )
    guest_downtime_ms: float | None = Field(description="source VM stop -> destination VM running")
    downtime_limit_ms: float | None = None
    downtime_breakdown_ms: dict[str, float] = Field(
        default_factory=dict, description="component -> ms; sums to downtime_ms"
    )
    dirty_sync_count: int | None
    transferred_bytes: int | None
    vfio_transferred_bytes: int | None
    ack_received_at_ms: float | None
    switchover_permitted_at_ms: float | None = Field(
        description="from this time on the ack gate was open (can_switchover true)"
    )
    switchover_started_at_ms: float | None = Field(description="VM stop: start of downtime")
    passes: int | None
    devices: list[DeviceSummary] = Field(default_factory=list)
    actions_at_ms: list[float | None] = Field(
        default_factory=list,
        description="when each of the scenario's actions applied (its order; ms since `migrate`, "
        "None if the run ended first): where a step-keyed action (after_step) took effect",
    )


class Trace(BaseModel):
    format: str = TRACE_FORMAT
    format_version: int = TRACE_FORMAT_VERSION
    engine_version: str
    source: Literal["simulation", "import"] = "simulation"
    title: str
    qemu_profile: str
    scenario: dict[str, Any] = Field(description="the scenario as given")
    resolved: dict[str, Any] = Field(
        description="the scenario with preset values and defaults filled in"
    )
    profile: dict[str, Any] = Field(default_factory=dict)
    summary: Summary
    steps: list[Step]
    events: list[Event]
    notes: list[str] = Field(
        default_factory=list, description="simplifications and warnings that apply to this run"
    )
    import_info: dict[str, Any] | None = Field(
        default=None, description="imported runs: files, clock offset, skipped lines"
    )

    def to_json(self, *, allow_nan: bool = True) -> str:
        """The canonical text; allow_nan=False raises ValueError on a NaN or infinity (an
        uploaded trace's check: PostgreSQL's JSON cannot hold them)."""
        return json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), allow_nan=allow_nan
        )

    @classmethod
    def from_json(cls, text: str) -> Trace:
        return cls.model_validate_json(text)
