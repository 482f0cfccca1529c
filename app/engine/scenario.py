"""The scenario document: what the user asks the engine to simulate.

Validated by pydantic; `migscope schema` prints the JSON Schema. Every size, rate, count and
duration has a documented limit (see LIMITS and the README); errors name the field path.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from .presets import PRESETS
from .profiles import DEFAULT_PROFILE, PROFILES, ProfileName
from .units import UNIT_HELP, parse_bytes

MiB = 1024**2
GiB = 1024**3
TiB = 1024**4

# Documented limits (README "Limits"); the API and the CLI enforce the same ones.
LIMITS: dict[str, Any] = {
    "devices_per_run": 16,
    "max_time_ms": 3_600_000,
    "ram_bytes": (64 * MiB, 16 * TiB),
    "rate_bytes_per_s": (0, 1 * TiB),
    "link_bandwidth_bytes_per_s": (1 * MiB, 100 * 1000**3),
    "latency_ms": (0, 1000),
    "device_bytes": (0, 1 * TiB),
    "cost_ms": (0, 600_000),
    "downtime_limit_ms": (1, 2_000_000),
    "reinit_events_per_device": 32,
    "actions_per_run": 64,
    "title_chars": 200,
    "description_chars": 4000,
    "device_name_chars": 64,
    "vcpus": (1, 4096),
    "multifd_channels": (1, 64),
}


def _bytes_field(low: int, high: int, description: str) -> Any:
    return Field(ge=low, le=high, description=description)


def _bytes_schema(low: int, high: int, description: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": low, "maximum": high},
                {"type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*[A-Za-z]*\s*$"},
            ],
            "description": f"{description} ({UNIT_HELP}; {low}..{high} bytes)",
        }
    )


_RAM = (*LIMITS["ram_bytes"], "guest RAM size")
_RATE = (*LIMITS["rate_bytes_per_s"], "bytes per second")
_LINK = (*LIMITS["link_bandwidth_bytes_per_s"], "link bytes per second")
_DEV = (*LIMITS["device_bytes"], "device bytes")
_BUF = (64 * 1024, 1 * GiB, "bytes the source may have in flight before it blocks")

# Sizes and rates: an integer, or a string with a unit ("8 GiB", "10 Gbit"); stored as int.
RamBytes = Annotated[
    int,
    BeforeValidator(parse_bytes),
    _bytes_field(*_RAM),
    _bytes_schema(*_RAM),
    PlainSerializer(int),
]
Rate = Annotated[
    int,
    BeforeValidator(parse_bytes),
    _bytes_field(*_RATE),
    _bytes_schema(*_RATE),
    PlainSerializer(int),
]
LinkRate = Annotated[
    int,
    BeforeValidator(parse_bytes),
    _bytes_field(*_LINK),
    _bytes_schema(*_LINK),
    PlainSerializer(int),
]
DeviceBytes = Annotated[
    int,
    BeforeValidator(parse_bytes),
    _bytes_field(*_DEV),
    _bytes_schema(*_DEV),
    PlainSerializer(int),
]
BufferBytes = Annotated[
    int,
    BeforeValidator(parse_bytes),
    _bytes_field(*_BUF),
    _bytes_schema(*_BUF),
    PlainSerializer(int),
]
Ms = Annotated[float, Field(ge=LIMITS["cost_ms"][0], le=LIMITS["cost_ms"][1])]

Capability = Literal[
    "return-path", "switchover-ack", "events", "pause-before-switchover", "multifd"
]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _printable(value: str) -> str:
    """Text users type may hold anything printable (it is escaped when shown), but no
    control characters: a NUL byte, for one, cannot be stored in PostgreSQL."""
    match = _CONTROL.search(value)
    if match:
        raise ValueError(
            f"control character {match.group()!r} at position {match.start()} is not allowed"
        )
    return value


PlainText = Annotated[str, AfterValidator(_printable)]


class _Strict(BaseModel):
    # NaN and infinity pass a `le=` bound check silently: refuse them outright.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Guest(_Strict):
    ram_bytes: RamBytes = 8 * GiB
    dirty_rate_bytes_per_s: Rate = Field(
        default=64 * MiB, description="guest page writes per second x 4 KiB"
    )
    working_set_bytes: DeviceBytes = Field(
        default=1 * GiB, description="the RAM the guest keeps writing"
    )
    zero_page_fraction: float = Field(
        default=0.5, ge=0.0, le=1.0, description="RAM never written: sent as ~9-byte zero pages"
    )
    dirty_pattern: Literal["uniform", "sequential", "hot_cold"] = Field(
        default="uniform",
        description="uniform: random pages of the working set; sequential: one write per page, cycling through it "
        "(the real-QEMU fixtures' guest); hot_cold: hot_write_fraction of the writes go to a hot part of "
        "hot_set_fraction of the working set, the rest uniformly to the cold part",
    )
    hot_set_fraction: float = Field(
        default=0.1, gt=0.0, le=1.0, description="hot_cold: share of the working set that is hot"
    )
    hot_write_fraction: float = Field(
        default=0.9,
        ge=0.0,
        le=1.0,
        description="hot_cold: share of the writes that hit the hot part",
    )
    vcpus: int = Field(
        default=1,
        ge=LIMITS["vcpus"][0],
        le=LIMITS["vcpus"][1],
        description="vCPUs (VM stop cost grows with them)",
    )
    non_iterable_state_bytes: DeviceBytes = Field(
        default=256 * 1024, description="CPU and device state sent after the iterables"
    )
    setup_ms: Ms = Field(default=5.0, description="save_setup hooks (estimate)")
    vm_stop_ms: Ms = Field(
        default=20.0,
        description="fixed part of the VM stop at switchover (estimate); published totals: ~128 ms with two VFs "
        "(Oracle, Jul 2024), ~268 ms for 384 vCPUs (Red Hat QE, 2024)",
    )
    vm_stop_ms_per_vcpu: Ms = Field(
        default=0.65,
        description="VM stop cost per vCPU (derived: (268 ms - 20 ms) / 384 vCPUs, Red Hat QE 2024)",
    )
    vm_start_ms: Ms = Field(
        default=20.0, description="destination announce + vm_start (published ~20 ms)"
    )
    bitmap_sync_ms_per_gib: Ms = Field(
        default=0.25, description="cost of one dirty-bitmap sync per GiB of RAM (estimate)"
    )

    @model_validator(mode="after")
    def _fits(self) -> Guest:
        nonzero = self.ram_bytes * (1.0 - self.zero_page_fraction)
        if self.working_set_bytes > nonzero + 4096:
            raise ValueError(
                f"working_set_bytes ({self.working_set_bytes}) must fit in the non-zero part of RAM "
                f"(ram_bytes x (1 - zero_page_fraction) = {int(nonzero)})"
            )
        return self


class Link(_Strict):
    bandwidth_bytes_per_s: LinkRate = 1_250_000_000
    latency_ms: float = Field(default=0.1, ge=LIMITS["latency_ms"][0], le=LIMITS["latency_ms"][1])
    socket_buffer_bytes: BufferBytes = 4 * MiB


class Destination(_Strict):
    ram_load_bytes_per_s: LinkRate = Field(
        default=4 * GiB, description="destination RAM page load rate (estimate)"
    )


class Params(_Strict):
    downtime_limit_ms: float = Field(
        default=300, ge=LIMITS["downtime_limit_ms"][0], le=LIMITS["downtime_limit_ms"][1]
    )
    max_bandwidth_bytes_per_s: Rate = Field(default=128 * MiB, description="0 = no rate limit")
    avail_switchover_bandwidth_bytes_per_s: Rate = Field(
        default=0, description="0 = use the measured bandwidth (8.2+)"
    )
    pause_before_switchover_ms: Ms = Field(
        default=0.0, description="with pause-before-switchover: time until migrate-continue arrives"
    )
    multifd_channels: int = Field(
        default=2,
        ge=LIMITS["multifd_channels"][0],
        le=LIMITS["multifd_channels"][1],
        description="multifd-channels (QEMU default 2): with the multifd capability RAM pages and (10.0+) the "
        "devices' stop-copy state share these channels and the link",
    )


def _default_caps() -> list[Capability]:
    return ["return-path", "switchover-ack"]


class Caps(_Strict):
    source: list[Capability] = Field(default_factory=lambda: _default_caps())
    destination: list[Capability] = Field(default_factory=lambda: _default_caps())

    @field_validator("source", "destination")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("capabilities must not repeat")
        return value


class Action(_Strict):
    """Something the user does during the migration, as over QMP: at a time (`at_ms`, at the
    first pass whose start has reached it) or after a step (`after_step`, at the first pass
    after that step: a what-if branch, which replays its parent identically up to the step).
    Exactly one of the two is given; the rule is app/engine/branch.py's."""

    at_ms: float | None = Field(default=None, ge=0, le=LIMITS["max_time_ms"])
    after_step: int | None = Field(
        default=None,
        ge=0,
        le=10_000_000,
        description="apply at the first pass after this step (its index in the trace)",
    )
    kind: Literal["set_parameters", "pause_guest", "cancel"] = Field(
        description="set_parameters: migrate-set-parameters; pause_guest: QMP stop; cancel: migrate_cancel"
    )
    downtime_limit_ms: float | None = Field(
        default=None, ge=LIMITS["downtime_limit_ms"][0], le=LIMITS["downtime_limit_ms"][1]
    )
    max_bandwidth_bytes_per_s: Rate | None = None
    avail_switchover_bandwidth_bytes_per_s: Rate | None = None

    @model_validator(mode="after")
    def _fields_match_kind(self) -> Action:
        if (self.at_ms is None) == (self.after_step is None):
            raise ValueError("give exactly one of at_ms and after_step")
        given = [
            k
            for k in (
                "downtime_limit_ms",
                "max_bandwidth_bytes_per_s",
                "avail_switchover_bandwidth_bytes_per_s",
            )
            if getattr(self, k) is not None
        ]
        if self.kind == "set_parameters" and not given:
            raise ValueError(
                "set_parameters needs at least one of downtime_limit_ms, max_bandwidth_bytes_per_s, "
                "avail_switchover_bandwidth_bytes_per_s"
            )
        if self.kind != "set_parameters" and given:
            raise ValueError(f"{self.kind} takes no parameters (got {', '.join(given)})")
        return self


class Reinit(_Strict):
    at_ms: Ms
    initial_bytes: DeviceBytes
    dest_load_ms: Ms | None = Field(
        default=None,
        description="destination cost of loading the re-initialised state (default: dest_initial_load_ms scaled "
        "by initial_bytes)",
    )


class DeviceSpec(_Strict):
    """A VFIO device: a preset name, any field overriding it; or every field given."""

    name: PlainText = Field(min_length=1, max_length=LIMITS["device_name_chars"])
    preset: str | None = None
    migratable: bool | None = None
    precopy: bool | None = Field(
        default=None, description="device advertises VFIO_MIGRATION_PRE_COPY"
    )
    p2p: bool | None = Field(default=None, description="device advertises VFIO_MIGRATION_P2P")
    initial_bytes: DeviceBytes | None = None
    dirty_rate_bytes_per_s: Rate | None = None
    dirty_max_bytes: DeviceBytes | None = None
    stop_copy_bytes: DeviceBytes | None = Field(
        default=None,
        description="bytes the final (STOP_COPY) image holds: what is read and sent after VM stop",
    )
    reported_stop_copy_bytes: DeviceBytes | None = Field(
        default=None,
        description="what VFIO_DEVICE_FEATURE_MIG_DATA_SIZE reports (stop_copy_length; QEMU's exact pending uses "
        "it); null: stop_copy_bytes plus the unread pre-copy data",
    )
    stop_copy_query_fails: bool | None = Field(
        default=None, description="VFIO_DEVICE_FEATURE_MIG_DATA_SIZE fails: QEMU assumes 100 GiB"
    )
    read_bytes_per_s: LinkRate | None = Field(
        default=None, description="source reading device data from the data fd"
    )
    dest_initial_load_ms: Ms | None = Field(
        default=None, description="destination cost of loading all initial bytes"
    )
    dest_load_bytes_per_s: LinkRate | None = Field(
        default=None, description="destination load rate for the other device data"
    )
    dest_load_granularity: Literal["image", "byte"] | None = Field(
        default=None,
        description="image: the driver buffers written bytes and loads an image once it is complete, so the write "
        "that completes it pays the whole load (mlx5vf_resume_write); byte: every byte pays its share",
    )
    dest_write_bytes_per_s: LinkRate | None = Field(
        default=None,
        description="destination: copying a written chunk into the driver's buffer (before the load)",
    )
    setup_saves_initial_image: bool | None = Field(
        default=None,
        description="entering PRE_COPY saves the first image and vfio_save_setup waits for it (mlx5), at read_bytes_per_s",
    )
    dest_config_load_ms: Ms | None = None
    precopy_enter_ms: Ms | None = None
    stop_copy_enter_ms: Ms | None = None
    resume_exit_ms: Ms | None = None
    reinit: list[Reinit] | None = Field(default=None, max_length=LIMITS["reinit_events_per_device"])

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str | None) -> str | None:
        if value is not None and value not in PRESETS:
            raise ValueError(f"unknown preset {value!r}; known: {', '.join(sorted(PRESETS))}")
        return value


DEVICE_DEFAULTS: dict[str, Any] = {
    "migratable": True,
    "p2p": True,
    "dirty_rate_bytes_per_s": 0,
    "dirty_max_bytes": 0,
    "stop_copy_query_fails": False,
    "read_bytes_per_s": 600 * MiB,
    "dest_initial_load_ms": 0.0,
    "dest_load_bytes_per_s": 1 * GiB,
    "dest_config_load_ms": 5.0,
    "dest_load_granularity": "image",
    "dest_write_bytes_per_s": 8 * GiB,
    "setup_saves_initial_image": False,
    "reported_stop_copy_bytes": None,
    "precopy_enter_ms": 1.0,
    "stop_copy_enter_ms": 5.0,
    "resume_exit_ms": 5.0,
    "reinit": [],
}
REQUIRED_WITHOUT_PRESET = ("precopy", "initial_bytes", "stop_copy_bytes")


class ResolvedDevice(_Strict):
    """A device with every field filled in (preset values, then overrides, then defaults)."""

    name: str
    preset: str | None
    migratable: bool
    precopy: bool
    p2p: bool
    initial_bytes: int
    dirty_rate_bytes_per_s: int
    dirty_max_bytes: int
    stop_copy_bytes: int
    reported_stop_copy_bytes: int | None
    stop_copy_query_fails: bool
    read_bytes_per_s: int
    dest_initial_load_ms: float
    dest_load_bytes_per_s: int
    dest_config_load_ms: float
    dest_load_granularity: Literal["image", "byte"]
    dest_write_bytes_per_s: int
    setup_saves_initial_image: bool
    precopy_enter_ms: float
    stop_copy_enter_ms: float
    resume_exit_ms: float
    reinit: list[Reinit]
    sources: dict[str, str] = Field(
        default_factory=dict, description="field -> published/derived/estimate/user/default"
    )


class Scenario(_Strict):
    title: PlainText = Field(default="untitled migration", max_length=LIMITS["title_chars"])
    description: PlainText = Field(default="", max_length=LIMITS["description_chars"])
    qemu_profile: ProfileName = DEFAULT_PROFILE
    guest: Guest = Field(default_factory=Guest)
    link: Link = Field(default_factory=Link)
    destination: Destination = Field(default_factory=Destination)
    params: Params = Field(default_factory=Params)
    caps: Caps = Field(default_factory=Caps)
    devices: list[DeviceSpec] = Field(default_factory=list, max_length=LIMITS["devices_per_run"])
    seed: int = Field(default=1, ge=0, le=2**32 - 1)
    max_time_ms: float = Field(default=600_000, gt=0, le=LIMITS["max_time_ms"])
    actions: list[Action] = Field(
        default_factory=list,
        max_length=LIMITS["actions_per_run"],
        description="user actions during the migration, applied at the first pass at or after at_ms, "
        "or after step after_step",
    )

    @field_validator("devices")
    @classmethod
    def _devices_complete(cls, devices: list[DeviceSpec]) -> list[DeviceSpec]:
        seen: set[str] = set()
        for index, device in enumerate(devices):
            if device.name in seen:
                raise ValueError(
                    f"devices.{index}.name: {device.name!r} is used twice; names must be unique"
                )
            seen.add(device.name)
            if device.preset is None:
                missing = [key for key in REQUIRED_WITHOUT_PRESET if getattr(device, key) is None]
                if missing:
                    raise ValueError(
                        f"devices.{index} ({device.name}): without a preset give {', '.join(missing)}"
                    )
        return devices

    @model_validator(mode="after")
    def _profile_rules(self) -> Scenario:
        profile = PROFILES[self.qemu_profile]
        for index, action in enumerate(self.actions):
            if (
                action.avail_switchover_bandwidth_bytes_per_s
                and not profile.avail_switchover_bandwidth
            ):
                raise ValueError(
                    f"actions.{index}.avail_switchover_bandwidth_bytes_per_s: exists from QEMU 8.2"
                )
        if (
            self.params.avail_switchover_bandwidth_bytes_per_s
            and not profile.avail_switchover_bandwidth
        ):
            raise ValueError(
                "params.avail_switchover_bandwidth_bytes_per_s: avail-switchover-bandwidth exists from QEMU 8.2; "
                f"profile {self.qemu_profile} does not have it"
            )
        return self

    def resolved_devices(self) -> list[ResolvedDevice]:
        return [resolve_device(spec) for spec in self.devices]


def resolve_device(spec: DeviceSpec) -> ResolvedDevice:
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, default in DEVICE_DEFAULTS.items():
        values[key] = default
        sources[key] = "default"
    if spec.preset is not None:
        for key, tagged in PRESETS[spec.preset].fields.items():
            values[key] = tagged.value
            sources[key] = tagged.tag
    for key, value in spec.model_dump(exclude={"name", "preset"}, exclude_none=True).items():
        values[key] = value
        sources[key] = "user"
    values.setdefault("initial_bytes", 0)
    values.setdefault("stop_copy_bytes", 0)
    values.setdefault("precopy", False)
    if not values["precopy"]:
        values["initial_bytes"] = 0
    values["reinit"] = [Reinit.model_validate(r) for r in values["reinit"]]
    return ResolvedDevice(name=spec.name, preset=spec.preset, sources=sources, **values)


def scenario_json_schema() -> dict[str, Any]:
    return Scenario.model_json_schema()
