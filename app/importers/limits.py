"""Documented limits for imported files (docs/importer.md); the CLI and the API enforce the same."""

from __future__ import annotations

MiB = 1024**2

MAX_FILE_BYTES = 20 * MiB  # per uploaded or imported file
MAX_TOTAL_BYTES = 64 * MiB  # all files of one import together
MAX_LINE_CHARS = 65_536  # a longer line is not a QEMU line: skipped and counted
MAX_STEPS = (
    20_000  # passes beyond this are merged (consecutive passes per step) so long runs still render
)
