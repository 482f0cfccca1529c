"""Downtime components: one plain-language name, lane, colour and pattern each, for every page
(run page, compare page, tables). The internal name stays visible on hover.

The order is the order the engine (and the importer) accounts the downtime in: serial source
phases, then what flows and loads, then VM start and SHUT; the timeline lays the segments out
in this order, so each one starts where the previous ended.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Component:
    key: str
    label: str
    lane: str  # "source", "stream" or "destination"
    colour: str
    pattern: str  # Plotly bar pattern shape ("" = solid)


_LIST = [
    Component("vm_stop", "VM stop (devices enter stop-copy)", "source", "#000000", ""),
    Component("pre_switchover_pause", "paused before switchover", "source", "#777777", "."),
    Component("ram_final_sync", "last dirty-bitmap sync", "source", "#009E73", "/"),
    Component("source_ram_send", "sending the last RAM", "source", "#009E73", "x"),
    Component("source_device_read", "reading device stop-copy data", "source", "#E69F00", "/"),
    Component("source_non_iterable", "CPU and device config (source)", "source", "#56B4E9", "-"),
    Component("transfer", "bytes crossing the link", "stream", "#56B4E9", "."),
    Component("dest_load_ram", "loading RAM", "destination", "#009E73", ""),
    Component(
        "dest_load_initial_bytes",
        "loading initial bytes (what the ack avoids)",
        "destination",
        "#D55E00",
        "",
    ),
    Component("dest_load_device_data", "loading device data", "destination", "#0072B2", ""),
    Component("dest_load_device_config", "loading device config", "destination", "#CC79A7", "/"),
    Component("dest_load_cpu_state", "loading CPU state", "destination", "#F0E442", "x"),
    Component("dest_load_tail", "finishing the load", "destination", "#0072B2", "/"),
    Component(
        "destination_and_shut", "destination load, VM start and SHUT", "destination", "#777777", "/"
    ),
    Component("dest_vm_start", "starting the VM", "destination", "#000000", "."),
    Component("return_path_shut", "SHUT back to the source", "stream", "#CC79A7", "."),
]
COMPONENTS: dict[str, Component] = {c.key: c for c in _LIST}
LANES = ("source", "stream", "destination")
LANE_TITLES = {"source": "source", "stream": "stream / return path", "destination": "destination"}


def component(key: str) -> Component:
    """A known component, or a grey one named after its key (a future engine may add some)."""
    return COMPONENTS.get(key) or Component(key, key.replace("_", " "), "source", "#999999", "+")


def ordered(keys: list[str]) -> list[str]:
    """Known components in accounting order, then unknown ones as they came."""
    known = [c.key for c in _LIST if c.key in keys]
    return known + [k for k in keys if k not in COMPONENTS]
