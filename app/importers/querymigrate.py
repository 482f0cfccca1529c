"""`query-migrate` samples polled over QMP, one JSON object per line.

Accepted shape of each line (docs/importer.md):

    {"timestamp": {"seconds": S, "microseconds": US}, "return": <query-migrate reply>}
    {"timestamp": {"seconds": S, "microseconds": US}, <reply fields: "status", "ram", ...>}

`timestamp` may also be a number of seconds since the epoch (float). It is the time the
reply was received, on the clock of the host that polled (assumed to be the source host).
Lines that are QMP events, the greeting, command echoes or error replies are skipped and
counted. Known reply fields with a wrong type are reported with the line number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._jsonlines import int_or_none, json_lines, number_or_none, timestamp_us
from .errors import ImportFileError


@dataclass(frozen=True)
class QuerySample:
    line: int
    t_us: int
    status: str
    setup_time_ms: float | None
    total_time_ms: float | None
    expected_downtime_ms: float | None
    downtime_ms: float | None
    ram_transferred_bytes: int | None
    ram_remaining_bytes: int | None
    ram_total_bytes: int | None
    dirty_sync_count: int | None
    mbps: float | None
    dirty_pages_rate: int | None
    precopy_bytes: int | None
    downtime_bytes: int | None
    vfio_transferred_bytes: int | None
    duplicate_pages: int | None
    normal_pages: int | None
    page_size_bytes: int | None
    error_desc: str | None


@dataclass
class QueryMigrateSeries:
    file: str
    samples: list[QuerySample] = field(default_factory=list)
    skipped_lines: int = 0

    def final(self) -> QuerySample | None:
        return self.samples[-1] if self.samples else None

    def last_with(self, attribute: str) -> QuerySample | None:
        for sample in reversed(self.samples):
            if getattr(sample, attribute) is not None:
                return sample
        return None

    def info(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "samples": len(self.samples),
            "skipped_lines": self.skipped_lines,
        }


def parse_query_migrate(text: str, file: str) -> QueryMigrateSeries:
    series = QueryMigrateSeries(file=file)
    for line_no, obj, line in json_lines(text, file):
        if obj is None or "event" in obj or "QMP" in obj or "error" in obj or "execute" in obj:
            series.skipped_lines += 1
            continue
        reply = obj.get("return", obj)
        if not isinstance(reply, dict):
            raise ImportFileError(
                file, line_no, 'a query-migrate reply object under "return"', line
            )
        if "status" not in reply:
            # e.g. {"return": {}} replies to other commands in a transcript.
            series.skipped_lines += 1
            continue
        if "timestamp" not in obj:
            raise ImportFileError(
                file, line_no, 'a "timestamp" next to the query-migrate reply', line
            )
        t_us = timestamp_us(obj["timestamp"], file, line_no, line)
        status = reply["status"]
        if not isinstance(status, str) or not status or len(status) > 40:
            raise ImportFileError(file, line_no, '"status" as a MigrationStatus string', line)
        ram = reply.get("ram", {})
        if not isinstance(ram, dict):
            raise ImportFileError(file, line_no, '"ram" as an object', line)
        vfio = reply.get("vfio", {})
        if not isinstance(vfio, dict):
            raise ImportFileError(file, line_no, '"vfio" as an object', line)
        error_desc = reply.get("error-desc")
        series.samples.append(
            QuerySample(
                line=line_no,
                t_us=t_us,
                status=status,
                setup_time_ms=number_or_none(reply, "setup-time", file, line_no, line, ""),
                total_time_ms=number_or_none(reply, "total-time", file, line_no, line, ""),
                expected_downtime_ms=number_or_none(
                    reply, "expected-downtime", file, line_no, line, ""
                ),
                downtime_ms=number_or_none(reply, "downtime", file, line_no, line, ""),
                ram_transferred_bytes=int_or_none(ram, "transferred", file, line_no, line, "ram."),
                ram_remaining_bytes=int_or_none(ram, "remaining", file, line_no, line, "ram."),
                ram_total_bytes=int_or_none(ram, "total", file, line_no, line, "ram."),
                dirty_sync_count=int_or_none(ram, "dirty-sync-count", file, line_no, line, "ram."),
                mbps=number_or_none(ram, "mbps", file, line_no, line, "ram."),
                dirty_pages_rate=int_or_none(ram, "dirty-pages-rate", file, line_no, line, "ram."),
                precopy_bytes=int_or_none(ram, "precopy-bytes", file, line_no, line, "ram."),
                downtime_bytes=int_or_none(ram, "downtime-bytes", file, line_no, line, "ram."),
                vfio_transferred_bytes=int_or_none(
                    vfio, "transferred", file, line_no, line, "vfio."
                ),
                duplicate_pages=int_or_none(ram, "duplicate", file, line_no, line, "ram."),
                normal_pages=int_or_none(ram, "normal", file, line_no, line, "ram."),
                page_size_bytes=int_or_none(ram, "page-size", file, line_no, line, "ram."),
                error_desc=error_desc if isinstance(error_desc, str) else None,
            )
        )
    series.samples.sort(key=lambda s: (s.t_us, s.line))
    return series
