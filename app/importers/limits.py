"""Documented limits for imported files (docs/importer.md); the CLI and the API enforce the same."""

from __future__ import annotations

MiB = 1024**2

MAX_FILE_BYTES = 20 * MiB  # per uploaded or imported file
MAX_TOTAL_BYTES = 64 * MiB  # all files of one import together
# A migscope trace (export.json) uploaded alone: as large as a whole import, which is also the
# default stored-bytes budget per run (MIGSCOPE_MAX_RUN_STORED_BYTES, 64 MiB); the smaller of
# the two applies. An every-pass run near that budget exports to tens of MiB (the every-pass
# `stop-copy-query-fails`, 17,425 steps: 31 MB), more than MAX_FILE_BYTES.
MAX_TRACE_FILE_BYTES = MAX_TOTAL_BYTES
MAX_LINE_CHARS = 65_536  # a longer line is not a QEMU line: skipped and counted
MAX_STEPS = (
    20_000  # passes beyond this are merged (consecutive passes per step) so long runs still render
)


def trace_file_limit_bytes(max_run_stored_bytes: int) -> int:
    """The largest migscope trace this server takes: MAX_TRACE_FILE_BYTES, and at most the
    stored-bytes budget per run (the API, the import form and the CLI all use this)."""
    return min(MAX_TRACE_FILE_BYTES, max_run_stored_bytes)
