"""HMP `info migrate` text (the final summary a user copies from the monitor).

Two layouts are read:
- QEMU up to 10.0: `Migration status: completed`, `total time: 1018 ms`, `downtime: 17 ms`,
  `setup: 1 ms`, `transferred ram: 146135 kbytes`, `total ram: ... kbytes`,
  `dirty sync count: 3`, `vfio device transferred: 1024 kbytes`, ...
- QEMU 10.1+: `Status: completed`, `Time (ms): total=1018, setup=1, down=17`,
  `Transfers: transferred=143 MiB, remain=0 B`, `Channels: precopy=..., vfio=1.5 MiB`,
  `Others: dirty_syncs=3`, ...
Sizes in kbytes are exact to 1 KiB (QEMU shifts right by 10); the 10.1+ sizes are rounded to
three significant digits by QEMU, so they are marked approximate. When the text holds several
`info migrate` outputs, the last one counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import ImportFileError

_UNITS = {
    "B": 1,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
    "PiB": 1024**5,
    "EiB": 1024**6,
}
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?) ?(B|KiB|MiB|GiB|TiB|PiB|EiB)$")


@dataclass
class InfoMigrate:
    file: str
    layout: str | None = None  # "classic" (<= 10.0) or "10.1"
    status: str | None = None
    error_desc: str | None = None
    total_time_ms: float | None = None
    setup_time_ms: float | None = None
    downtime_ms: float | None = None
    expected_downtime_ms: float | None = None
    transferred_bytes: int | None = None
    remaining_bytes: int | None = None
    total_ram_bytes: int | None = None
    dirty_sync_count: int | None = None
    vfio_transferred_bytes: int | None = None
    mbps: float | None = None
    approximate: list[str] = field(default_factory=list)  # fields QEMU printed rounded
    skipped_lines: int = 0
    lines_used: int = 0

    def info(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "layout": self.layout,
            "lines_used": self.lines_used,
            "skipped_lines": self.skipped_lines,
            "approximate_fields": list(self.approximate),
        }


def _kbytes(value: str) -> int | None:
    match = re.fullmatch(r"([0-9]{1,20}) kbytes", value)
    return None if match is None else int(match.group(1)) * 1024


def _ms(value: str) -> float | None:
    match = re.fullmatch(r"([0-9]{1,20}) (?:ms|milliseconds)", value)
    return None if match is None else float(match.group(1))


def _size(value: str) -> int | None:
    match = _SIZE.fullmatch(value.strip())
    if match is None:
        return None
    try:
        return round(float(match.group(1)) * _UNITS[match.group(2)])
    except (OverflowError, ValueError):
        return None


def _pairs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(","):
        if "=" in part:
            key, _, value = part.partition("=")
            out[key.strip()] = value.strip()
    return out


_CLASSIC: dict[str, tuple[str, Any, str]] = {
    # key -> (attribute, converter, expected shape)
    "total time": ("total_time_ms", _ms, "<n> ms"),
    "downtime": ("downtime_ms", _ms, "<n> ms"),
    "expected downtime": ("expected_downtime_ms", _ms, "<n> ms"),
    "setup": ("setup_time_ms", _ms, "<n> ms"),
    "transferred ram": ("transferred_bytes", _kbytes, "<n> kbytes"),
    "remaining ram": ("remaining_bytes", _kbytes, "<n> kbytes"),
    "total ram": ("total_ram_bytes", _kbytes, "<n> kbytes"),
    "dirty sync count": (
        "dirty_sync_count",
        lambda v: int(v) if re.fullmatch(r"[0-9]{1,20}", v) else None,
        "<n>",
    ),
    "vfio device transferred": ("vfio_transferred_bytes", _kbytes, "<n> kbytes"),
    "throughput": (
        "mbps",
        lambda v: (
            float(m.group(1)) if (m := re.fullmatch(r"([0-9]+(?:\.[0-9]+)?) mbps", v)) else None
        ),
        "<x> mbps",
    ),
}


def parse_info_migrate(text: str, file: str) -> InfoMigrate:
    blocks: list[InfoMigrate] = []
    current: InfoMigrate | None = None
    skipped = 0
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep:
            skipped += 1
            continue
        if key in ("Migration status", "Status"):
            current = InfoMigrate(
                file=file, layout="classic" if key == "Migration status" else "10.1"
            )
            blocks.append(current)
            status, _, rest = value.partition(" ")
            if not re.fullmatch(r"[a-z-]{1,40}", status):
                raise ImportFileError(file, line_no, f"`{key}: <MigrationStatus>`", line)
            current.status = status
            if rest.startswith("(") and rest.endswith(")"):
                current.error_desc = rest[1:-1]
            current.lines_used += 1
            continue
        if current is None:
            skipped += 1
            continue
        if current.layout == "classic" and key in _CLASSIC:
            attribute, convert, shape = _CLASSIC[key]
            converted = convert(value)
            if converted is None:
                raise ImportFileError(file, line_no, f"`{key}: {shape}`", line)
            setattr(current, attribute, converted)
            current.lines_used += 1
        elif current.layout == "10.1" and key in (
            "Time (ms)",
            "Transfers",
            "Channels",
            "Sizes",
            "Others",
            "Throughput (Mbps)",
        ):
            _read_new_layout(current, key, value, file, line_no, line)
            current.lines_used += 1
        else:
            skipped += 1
    if not blocks:
        raise ImportFileError(
            file, None, "HMP `info migrate` output with a `Migration status:` (or `Status:`) line"
        )
    final = blocks[-1]
    final.skipped_lines = skipped
    return final


def _read_new_layout(
    info: InfoMigrate, key: str, value: str, file: str, line_no: int, line: str
) -> None:
    if key == "Throughput (Mbps)":
        try:
            info.mbps = float(value)
        except ValueError:
            raise ImportFileError(file, line_no, "`Throughput (Mbps): <x>`", line) from None
        return
    pairs = _pairs(value)
    if not pairs:
        raise ImportFileError(file, line_no, f"`{key}: name=value, ...`", line)
    if key == "Time (ms)":
        for name, attribute in (
            ("total", "total_time_ms"),
            ("setup", "setup_time_ms"),
            ("down", "downtime_ms"),
            ("exp_down", "expected_downtime_ms"),
        ):
            if name in pairs:
                if not re.fullmatch(r"[0-9]{1,20}", pairs[name]):
                    raise ImportFileError(file, line_no, f"`Time (ms): ... {name}=<n>`", line)
                setattr(info, attribute, float(pairs[name]))
        return
    if key == "Others":
        if "dirty_syncs" in pairs:
            if not re.fullmatch(r"[0-9]{1,20}", pairs["dirty_syncs"]):
                raise ImportFileError(file, line_no, "`Others: dirty_syncs=<n>, ...`", line)
            info.dirty_sync_count = int(pairs["dirty_syncs"])
        return
    wanted = {
        "Transfers": (("transferred", "transferred_bytes"), ("remain", "remaining_bytes")),
        "Channels": (("vfio", "vfio_transferred_bytes"),),
        "Sizes": (("total", "total_ram_bytes"),),
    }[key]
    for name, attribute in wanted:
        if name in pairs:
            size = _size(pairs[name])
            if size is None:
                raise ImportFileError(
                    file, line_no, f"`{key}: ... {name}=<size, e.g. 143 MiB>`", line
                )
            setattr(info, attribute, size)
            if attribute not in info.approximate:
                info.approximate.append(attribute)
