""" "Simulate this": a scenario for the engine derived from an imported run.

What the files tell (RAM size, zero-page share, dirty rate, max-bandwidth, downtime-limit,
capabilities, QEMU version, per-device pre-copy flag, initial and stop-copy sizes) is marked
`derived-from-log`; everything else comes from a device preset (`from-preset:<name>`) or the
engine's defaults (`default`). The result always validates as an engine Scenario: a derived
value outside the engine's limits is clamped and marked `derived-from-log (clamped)`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from app.engine.presets import PRESETS
from app.engine.scenario import LIMITS, Scenario
from app.engine.trace import Trace

MiB = 1024**2
GiB = 1024**3
DERIVED = "derived-from-log"


def _clamp(value: float, bounds: tuple[float, float]) -> tuple[float, bool]:
    low, high = bounds
    clamped = min(max(value, low), high)
    return clamped, clamped != value


def _ms(value: Any) -> float:
    return round(float(value), 3)


def _preset_for(device: dict[str, Any]) -> str:
    """The migratable preset with the same pre-copy flag and the nearest stop-copy size."""
    precopy = device.get("precopy", True)
    size = device.get("stop_copy_bytes", device.get("initial_bytes", 100 * MiB))
    best, best_distance = "mlx5-cx7-vf-100mib", float("inf")
    for name, preset in sorted(PRESETS.items()):
        values = preset.values()
        if values.get("migratable", True) is False or bool(values.get("precopy")) != bool(precopy):
            continue
        distance = abs(float(values.get("stop_copy_bytes", 0)) - float(size))
        if distance < best_distance:
            best, best_distance = name, distance
    return best


def _device_name(name: str, used: set[str]) -> str:
    clean = re.sub(r"[^A-Za-z0-9_.:-]", "_", name)[: LIMITS["device_name_chars"]] or "device"
    candidate, n = clean, 2
    while candidate in used:
        suffix = f"-{n}"
        candidate, n = clean[: LIMITS["device_name_chars"] - len(suffix)] + suffix, n + 1
    used.add(candidate)
    return candidate


def derive_scenario(trace: Trace) -> dict[str, Any]:
    """Return {"scenario": <valid Scenario dict>, "provenance": {field path: origin}}."""
    observed: dict[str, Any] = (trace.import_info or {}).get("observed", {})
    provenance: dict[str, str] = {}
    doc: dict[str, Any] = {
        "title": f"simulation of {trace.title}"[: LIMITS["title_chars"]],
        "description": "Derived from an imported QEMU migration; see provenance for what came from the logs.",
        "qemu_profile": trace.qemu_profile,
        "guest": {},
        "params": {},
        "caps": {},
        "devices": [],
    }
    provenance["qemu_profile"] = (
        DERIVED
        + " (version evidence: "
        + "; ".join((trace.import_info or {}).get("qemu_version", {}).get("evidence", []))
        + ")"
    )

    # What the logs showed -> where the scenario takes it, its type and the range the engine
    # accepts (a value outside it is clamped and marked so in the provenance).
    cost_ms = (0.0, float(LIMITS["cost_ms"][1]))
    fields: list[tuple[str, str, Callable[[Any], float], tuple[float, float]]] = [
        ("ram_total_bytes", "guest.ram_bytes", int, LIMITS["ram_bytes"]),
        ("zero_page_fraction", "guest.zero_page_fraction", float, (0.0, 0.99)),
        ("dirty_rate_bytes_per_s", "guest.dirty_rate_bytes_per_s", int, LIMITS["rate_bytes_per_s"]),
        *((key, f"guest.{key}", _ms, cost_ms) for key in ("vm_stop_ms", "vm_start_ms", "setup_ms")),
        (
            "max_bandwidth_bytes_per_s",
            "params.max_bandwidth_bytes_per_s",
            int,
            LIMITS["rate_bytes_per_s"],
        ),
        ("downtime_limit_ms", "params.downtime_limit_ms", float, LIMITS["downtime_limit_ms"]),
    ]
    for observed_key, path, convert, bounds in fields:
        if observed_key in observed:
            value, clamped = _clamp(convert(observed[observed_key]["value"]), bounds)
            section, _, key = path.partition(".")
            doc[section][key] = value
            provenance[path] = DERIVED + (" (clamped)" if clamped else "")
    if "caps" in observed:
        doc["caps"] = copy.deepcopy(observed["caps"]["value"])
        provenance["caps"] = DERIVED
    # The working set is not in any QEMU output: keep the default unless it cannot fit in the
    # non-zero part of the derived RAM, then use half of that part.
    ram = doc["guest"].get("ram_bytes", 8 * GiB)
    zero = doc["guest"].get("zero_page_fraction", 0.5)
    nonzero = int(ram * (1.0 - zero))
    if nonzero < 1 * GiB:
        doc["guest"]["working_set_bytes"] = max(4096, nonzero // 2)
        provenance["guest.working_set_bytes"] = "default (halved to fit the derived non-zero RAM)"
    used: set[str] = set()
    for name, device in sorted(observed.get("devices", {}).get("value", {}).items()):
        if len(doc["devices"]) >= LIMITS["devices_per_run"]:
            break
        preset = _preset_for(device)
        spec: dict[str, Any] = {"name": _device_name(name, used), "preset": preset}
        base = f"devices.{len(doc['devices'])}"
        provenance[f"{base}.preset"] = f"from-preset:{preset} (nearest stop-copy size)"
        for key in ("precopy", "initial_bytes", "stop_copy_bytes"):
            if key in device:
                value = device[key]
                if key != "precopy":
                    value, clamped = _clamp(int(value), LIMITS["device_bytes"])
                    value = int(value)
                    provenance[f"{base}.{key}"] = DERIVED + (" (clamped)" if clamped else "")
                else:
                    provenance[f"{base}.{key}"] = DERIVED
                spec[key] = value
            else:
                provenance[f"{base}.{key}"] = f"from-preset:{preset}"
        doc["devices"].append(spec)
    for key in ("guest", "params", "caps"):
        if not doc[key]:
            del doc[key]
    for path in (
        "guest.ram_bytes",
        "guest.dirty_rate_bytes_per_s",
        "params.max_bandwidth_bytes_per_s",
        "params.downtime_limit_ms",
        "caps",
        "link.bandwidth_bytes_per_s",
        "destination.ram_load_bytes_per_s",
    ):
        provenance.setdefault(path, "default")
    scenario = _validated(doc, provenance)
    return {"scenario": scenario, "provenance": dict(sorted(provenance.items()))}


def _validated(doc: dict[str, Any], provenance: dict[str, str]) -> dict[str, Any]:
    """Validate; drop derived values the engine refuses (marking them default) until it passes."""
    candidate = copy.deepcopy(doc)
    for _ in range(8):
        try:
            return Scenario.model_validate(candidate).model_dump(mode="json")
        except ValueError as error:
            text = str(error)
            dropped = False
            for path in sorted(provenance):
                section, _, key = path.partition(".")
                if (
                    key
                    and section in candidate
                    and isinstance(candidate[section], dict)
                    and key in candidate[section]
                    and path.split(".")[-1] in text
                ):
                    del candidate[section][key]
                    provenance[path] = "default (derived value refused by the engine)"
                    dropped = True
                    break
            if not dropped:
                break
    # Last resort: the engine's defaults with the derived profile.
    provenance["*"] = "default (the derived scenario did not validate)"
    return Scenario.model_validate(
        {"title": doc["title"], "qemu_profile": doc["qemu_profile"]}
    ).model_dump(mode="json")
