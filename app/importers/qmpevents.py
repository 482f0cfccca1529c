"""QMP event logs: one event per line as QMP delivers it, with QEMU's own timestamp.

    {"timestamp": {"seconds": S, "microseconds": US}, "event": "MIGRATION", "data": {"status": "active"}}

Events used: MIGRATION {status}, MIGRATION_PASS {pass}, VFIO_MIGRATION {device-id, qom-path,
device-state} (QEMU 9.1+, vfio-pci migration-events=on), STOP, RESUME. Other events, command
replies and the greeting are skipped and counted; a used event with a wrong `data` shape is
reported with its line number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._jsonlines import json_lines, timestamp_us
from .errors import ImportFileError

USED_EVENTS = ("MIGRATION", "MIGRATION_PASS", "VFIO_MIGRATION", "STOP", "RESUME")


@dataclass(frozen=True)
class QmpEvent:
    line: int
    t_us: int
    name: str
    data: dict[str, Any]


@dataclass
class QmpEventLog:
    file: str
    events: list[QmpEvent] = field(default_factory=list)
    skipped_lines: int = 0
    ignored_events: dict[str, int] = field(default_factory=dict)

    def named(self, name: str) -> list[QmpEvent]:
        return [e for e in self.events if e.name == name]

    def info(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "events_used": len(self.events),
            "skipped_lines": self.skipped_lines,
            "ignored_events": dict(sorted(self.ignored_events.items())),
        }


def parse_qmp_events(text: str, file: str) -> QmpEventLog:
    log = QmpEventLog(file=file)
    for line_no, obj, line in json_lines(text, file):
        if obj is None or not isinstance(obj.get("event"), str):
            log.skipped_lines += 1
            continue
        name = obj["event"]
        if name not in USED_EVENTS:
            log.ignored_events[name[:64]] = log.ignored_events.get(name[:64], 0) + 1
            continue
        if "timestamp" not in obj:
            raise ImportFileError(file, line_no, f'a "timestamp" on the {name} event', line)
        t_us = timestamp_us(obj["timestamp"], file, line_no, line)
        data = obj.get("data", {})
        if not isinstance(data, dict):
            raise ImportFileError(file, line_no, f'"data" of {name} as an object', line)
        if name == "MIGRATION" and not (isinstance(data.get("status"), str) and data["status"]):
            raise ImportFileError(
                file, line_no, 'MIGRATION with "data": {"status": <MigrationStatus>}', line
            )
        if name == "MIGRATION_PASS" and not (
            isinstance(data.get("pass"), int)
            and not isinstance(data["pass"], bool)
            and data["pass"] >= 0
        ):
            raise ImportFileError(
                file, line_no, 'MIGRATION_PASS with "data": {"pass": <non-negative int>}', line
            )
        if name == "VFIO_MIGRATION" and not (
            isinstance(data.get("device-id"), str) and isinstance(data.get("device-state"), str)
        ):
            raise ImportFileError(
                file,
                line_no,
                'VFIO_MIGRATION with "data": {"device-id": <str>, "device-state": <str>}',
                line,
            )
        log.events.append(QmpEvent(line=line_no, t_us=t_us, name=name, data=dict(data)))
    log.events.sort(key=lambda e: (e.t_us, e.line))
    return log
