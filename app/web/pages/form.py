"""The scenario form's fields: names are the scenario's own dotted paths (`guest.ram_bytes`,
`devices.0.initial_bytes`), so the API's 422 `loc` points straight at the input to mark."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, get_args

from app.engine.presets import PRESETS
from app.engine.profiles import DEFAULT_PROFILE, PROFILES
from app.engine.scenario import DEVICE_DEFAULTS, LIMITS, Capability, Scenario

KiB, MiB, GiB, TiB = 1024, 1024**2, 1024**3, 1024**4


@dataclass(frozen=True)
class FieldSpec:
    path: str
    label: str
    kind: str  # bytes (a size or rate with a unit), number, text, textarea, select, tristate, cap
    unit: str = ""
    help: str = ""
    options: tuple[str, ...] = field(default_factory=tuple)


def human_bytes(value: Any) -> str:
    """An exact, editable form of a byte count: 8589934592 -> '8 GiB'; 1250000000 -> '1.25 GB'."""
    if not isinstance(value, int) or isinstance(value, bool):
        return "" if value is None else str(value)
    if value == 0:
        return "0"
    for unit, size in (("TiB", TiB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if value % size == 0:
            return f"{value // size} {unit}"
    for unit, size in (("GB", 1000**3), ("MB", 1000**2), ("KB", 1000)):
        if value >= size and (value * 100) % size == 0:
            return f"{value / size:g} {unit}"
    return str(value)


BYTES_HELP = "bytes, or with a unit: 8 GiB, 300 MB, 128 MiB"
RATE_HELP = "per second: 128 MiB, 10 Gbit, 1.25 GB"

SCENARIO_SECTIONS: list[tuple[str, list[FieldSpec]]] = [
    (
        "Run",
        [
            FieldSpec("title", "Title", "text", help=f"up to {LIMITS['title_chars']} characters"),
            FieldSpec("qemu_profile", "QEMU profile", "select", options=tuple(PROFILES)),
            FieldSpec(
                "max_time_ms",
                "Simulated time limit",
                "number",
                "ms",
                f"at most {LIMITS['max_time_ms']} ms",
            ),
            FieldSpec("seed", "Seed", "number", help="same seed, same trace"),
            FieldSpec(
                "description",
                "Description",
                "textarea",
                help=f"up to {LIMITS['description_chars']} characters",
            ),
        ],
    ),
    (
        "Guest",
        [
            FieldSpec("guest.ram_bytes", "RAM", "bytes", "bytes", BYTES_HELP),
            FieldSpec("guest.dirty_rate_bytes_per_s", "Dirty rate", "bytes", "bytes/s", RATE_HELP),
            FieldSpec(
                "guest.working_set_bytes",
                "Working set",
                "bytes",
                "bytes",
                "the RAM the guest keeps writing",
            ),
            FieldSpec(
                "guest.zero_page_fraction",
                "Zero-page fraction",
                "number",
                "0..1",
                "RAM never written",
            ),
            FieldSpec(
                "guest.dirty_pattern", "Dirty pattern", "select", options=("uniform", "sequential")
            ),
            FieldSpec(
                "guest.non_iterable_state_bytes",
                "Non-iterable state",
                "bytes",
                "bytes",
                "CPU and device state",
            ),
            FieldSpec("guest.setup_ms", "Setup", "number", "ms", "save_setup hooks (estimate)"),
            FieldSpec("guest.vm_stop_ms", "VM stop", "number", "ms", "vCPU stop (estimate)"),
            FieldSpec(
                "guest.vm_start_ms",
                "VM start",
                "number",
                "ms",
                "announce + vm_start (published ~20 ms)",
            ),
            FieldSpec(
                "guest.bitmap_sync_ms_per_gib", "Bitmap sync cost", "number", "ms/GiB", "(estimate)"
            ),
        ],
    ),
    (
        "Link and destination",
        [
            FieldSpec(
                "link.bandwidth_bytes_per_s", "Link bandwidth", "bytes", "bytes/s", RATE_HELP
            ),
            FieldSpec("link.latency_ms", "One-way latency", "number", "ms"),
            FieldSpec(
                "link.socket_buffer_bytes",
                "Socket buffer",
                "bytes",
                "bytes",
                "in flight before the source blocks",
            ),
            FieldSpec(
                "destination.ram_load_bytes_per_s",
                "Destination RAM load rate",
                "bytes",
                "bytes/s",
                "(estimate)",
            ),
        ],
    ),
    (
        "Migration parameters",
        [
            FieldSpec(
                "params.downtime_limit_ms",
                "downtime-limit",
                "number",
                "ms",
                "only builds the threshold; never enforced",
            ),
            FieldSpec(
                "params.max_bandwidth_bytes_per_s",
                "max-bandwidth",
                "bytes",
                "bytes/s",
                "0 = no rate limit",
            ),
            FieldSpec(
                "params.avail_switchover_bandwidth_bytes_per_s",
                "avail-switchover-bandwidth",
                "bytes",
                "bytes/s",
                "0 = measured (8.2+)",
            ),
            FieldSpec(
                "params.pause_before_switchover_ms",
                "Pause before switchover",
                "number",
                "ms",
                "with pause-before-switchover",
            ),
        ],
    ),
]
CAPABILITIES = tuple(get_args(Capability))  # the engine's list, so the form never lags behind it

DEVICE_FIELDS: list[FieldSpec] = [
    FieldSpec("migratable", "Migratable", "tristate"),
    FieldSpec("precopy", "PRE_COPY", "tristate", help="VFIO_MIGRATION_PRE_COPY"),
    FieldSpec("p2p", "P2P", "tristate", help="VFIO_MIGRATION_P2P"),
    FieldSpec("initial_bytes", "Initial bytes", "bytes", "bytes", BYTES_HELP),
    FieldSpec("dirty_rate_bytes_per_s", "Device dirty rate", "bytes", "bytes/s", RATE_HELP),
    FieldSpec("dirty_max_bytes", "Dirty bytes at most", "bytes", "bytes"),
    FieldSpec("stop_copy_bytes", "STOP_COPY state", "bytes", "bytes"),
    FieldSpec("read_bytes_per_s", "Source read rate", "bytes", "bytes/s"),
    FieldSpec(
        "dest_initial_load_ms",
        "Destination initial-bytes load",
        "number",
        "ms",
        "the cost switchover-ack moves out of downtime",
    ),
    FieldSpec("dest_load_bytes_per_s", "Destination load rate", "bytes", "bytes/s"),
    FieldSpec("dest_config_load_ms", "Destination config load", "number", "ms"),
    FieldSpec("precopy_enter_ms", "Enter PRE_COPY", "number", "ms"),
    FieldSpec("stop_copy_enter_ms", "Enter STOP_COPY", "number", "ms"),
    FieldSpec("resume_exit_ms", "Leave RESUMING", "number", "ms"),
    FieldSpec(
        "stop_copy_query_fails",
        "MIG_DATA_SIZE query fails",
        "tristate",
        help="QEMU then assumes 100 GiB",
    ),
]


def default_scenario() -> dict[str, Any]:
    doc = Scenario().model_dump(mode="json")
    doc["qemu_profile"] = doc.get("qemu_profile") or DEFAULT_PROFILE
    doc["devices"] = [{"name": "0000:3b:00.1", "preset": "mlx5-cx7-vf-300mb"}]
    doc["title"] = "ConnectX-7 VF, 8 GiB guest"
    return doc


def examples() -> dict[str, dict[str, Any]]:
    """Scenario examples from the engine (empty until they exist)."""
    try:
        from app.engine.examples import EXAMPLES
    except ImportError:
        return {}
    return dict(EXAMPLES)


def value_at(doc: dict[str, Any], path: str) -> Any:
    cur: Any = doc
    for part in path.split("."):
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
    return cur


def display_value(spec: FieldSpec, value: Any) -> str:
    if value is None:
        return ""
    if spec.kind == "bytes":
        return human_bytes(value)
    if spec.kind == "tristate":
        return "true" if value is True else "false" if value is False else ""
    return str(value)


def device_row(index: int, spec: dict[str, Any]) -> dict[str, Any]:
    """What `_device.html` needs: the row's values, and per field the preset value and its tag."""
    preset_name = spec.get("preset")
    preset = PRESETS.get(preset_name) if preset_name else None
    fields = []
    for f in DEVICE_FIELDS:
        tag: str
        tagged = preset.fields.get(f.path) if preset else None
        if tagged is not None:
            base_value, tag, source = tagged.value, tagged.tag, tagged.source
        else:
            base_value, tag, source = DEVICE_DEFAULTS.get(f.path), "default", "migscope default"
        fields.append(
            {
                "spec": f,
                "name": f"devices.{index}.{f.path}",
                "value": display_value(f, spec.get(f.path)),
                "placeholder": display_value(f, base_value),
                "tag": tag if (preset or f.path in DEVICE_DEFAULTS) else None,
                "source": source,
            }
        )
    return {
        "index": index,
        "name": spec.get("name", ""),
        "preset": preset_name,
        "preset_info": preset,
        "fields": fields,
    }


def presets_for_form() -> list[dict[str, str]]:
    return [{"name": p.name, "title": p.title} for p in PRESETS.values()]
