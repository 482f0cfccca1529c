"""Paths and loaders for the importer tests (real QEMU fixtures and constructed VFIO logs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.engine.trace import Trace
from app.importers import InputFile, import_files

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REAL = FIXTURES / "qemu"
CONSTRUCTED = FIXTURES / "constructed"
REAL_RUNS = (
    "q100-w64-r2048-bw128-dt300-1",
    "q100-w64-r12288-bw32-dt100-1",
    "q100-w256-r2048-bw32-dt300-1",
    "q100-w256-r12288-bw128-dt100-1",
)


def import_info(trace: Trace) -> dict[str, Any]:
    """An imported trace's import_info (every import has one)."""
    assert trace.import_info is not None
    return trace.import_info


def input_file(path: Path) -> InputFile | None:
    return InputFile(path.name, path.read_bytes()) if path.exists() else None


def import_real(run: str, *, dst: bool = True, query: bool = True, events: bool = True) -> Trace:
    base = REAL / run
    return import_files(
        src_trace=input_file(Path(f"{base}.src.trace.log")),
        dst_trace=input_file(Path(f"{base}.dst.trace.log")) if dst else None,
        query_migrate=input_file(Path(f"{base}.query-migrate.jsonl")) if query else None,
        src_events=input_file(Path(f"{base}.src.events.jsonl")) if events else None,
        dst_events=input_file(Path(f"{base}.dst.events.jsonl")) if events and dst else None,
    )


def import_constructed(name: str, **kwargs: Any) -> Trace:
    base = CONSTRUCTED / name
    return import_files(
        src_trace=input_file(Path(f"{base}.src.trace.log")),
        dst_trace=input_file(Path(f"{base}.dst.trace.log")),
        query_migrate=input_file(Path(f"{base}.query-migrate.jsonl")),
        info_migrate=input_file(Path(f"{base}.info-migrate.txt")),
        **kwargs,
    )


def facts() -> dict[str, Any]:
    return json.loads((CONSTRUCTED / "facts.json").read_text())


def epoch_us(line: str) -> int:
    """The `pid@seconds.micros:` timestamp of a trace line, in microseconds."""
    stamp = line.split("@", 1)[1].split(":", 1)[0]
    seconds, micros = stamp.split(".")
    return int(seconds) * 1_000_000 + int(micros)


def first_line(path: Path, needle: str) -> str:
    return next(line for line in path.read_text().splitlines() if needle in line)


def count_lines(path: Path, needle: str) -> int:
    return sum(1 for line in path.read_text().splitlines() if needle in line)


def last_json(path: Path, key: str) -> dict[str, Any]:
    """The last query-migrate reply that carries `key`."""
    replies = [json.loads(line)["return"] for line in path.read_text().splitlines() if line.strip()]
    return [r for r in replies if key in r or key in r.get("ram", {})][-1]
