"""One entry point for the CLI, the upload endpoint and the tests: files in, Trace out."""

from __future__ import annotations

from dataclasses import dataclass

from app.engine.trace import Trace

from .build import build_trace
from .errors import ImportFileError
from .infomigrate import parse_info_migrate
from .inputs import ImportInputs
from .limits import MAX_FILE_BYTES, MAX_TOTAL_BYTES
from .qmpevents import parse_qmp_events
from .querymigrate import parse_query_migrate
from .tracelog import parse_trace_log

# Roles, in the order the CLI options and the upload form fields use them.
ROLES = ("src_trace", "dst_trace", "query_migrate", "src_events", "dst_events", "info_migrate")


@dataclass(frozen=True)
class InputFile:
    name: str  # shown in messages: the path or the uploaded file name
    data: bytes


def decode(file: InputFile) -> str:
    if len(file.data) > MAX_FILE_BYTES:
        raise ImportFileError(
            file.name,
            None,
            f"a file of at most {MAX_FILE_BYTES} bytes ({MAX_FILE_BYTES // 2**20} MiB); it has {len(file.data)}",
        )
    # QEMU writes ASCII; anything else is kept visible (replacement characters) rather than fatal.
    return file.data.decode("utf-8", errors="replace")


def import_files(
    *,
    src_trace: InputFile | None = None,
    dst_trace: InputFile | None = None,
    query_migrate: InputFile | None = None,
    src_events: InputFile | None = None,
    dst_events: InputFile | None = None,
    info_migrate: InputFile | None = None,
    title: str | None = None,
    clock_offset_ms: float | None = None,
) -> Trace:
    """Parse and build; raises ImportFileError (file, line, expected) for any bad input."""
    given = [
        f
        for f in (src_trace, dst_trace, query_migrate, src_events, dst_events, info_migrate)
        if f is not None
    ]
    if not given:
        raise ImportFileError(
            "(no file)",
            None,
            "at least one file: a source trace log, query-migrate samples, QMP events or `info migrate` text",
        )
    total = sum(len(f.data) for f in given)
    if total > MAX_TOTAL_BYTES:
        raise ImportFileError(
            "(all files)", None, f"at most {MAX_TOTAL_BYTES // 2**20} MiB in all; got {total} bytes"
        )
    inputs = ImportInputs(
        src_trace=parse_trace_log(decode(src_trace), src_trace.name) if src_trace else None,
        dst_trace=parse_trace_log(decode(dst_trace), dst_trace.name) if dst_trace else None,
        query=parse_query_migrate(decode(query_migrate), query_migrate.name)
        if query_migrate
        else None,
        src_events=parse_qmp_events(decode(src_events), src_events.name) if src_events else None,
        dst_events=parse_qmp_events(decode(dst_events), dst_events.name) if dst_events else None,
        info=parse_info_migrate(decode(info_migrate), info_migrate.name) if info_migrate else None,
        title=title,
        clock_offset_us=None if clock_offset_ms is None else round(clock_offset_ms * 1000),
    )
    return build_trace(inputs)
