"""Fuzzing every parser (bounded): no exception escapes except the documented ImportFileError."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.importers import ImportFileError, InputFile, import_files
from app.importers.infomigrate import parse_info_migrate
from app.importers.qmpevents import parse_qmp_events
from app.importers.querymigrate import parse_query_migrate
from app.importers.tracelog import KNOWN_EVENTS, parse_trace_log

from .helpers import CONSTRUCTED, REAL


def _examples(default: int) -> int:
    """FUZZ_EXAMPLES=3000 for a longer local run; the suite stays bounded by default."""
    return int(os.environ.get("FUZZ_EXAMPLES", default))


FUZZ = settings(
    max_examples=_examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _sample_lines(*paths: Any, limit: int = 400) -> list[str]:
    lines: list[str] = []
    for path in paths:
        lines.extend(path.read_text().splitlines()[:limit])
    return lines


TRACE_LINES = _sample_lines(
    REAL / "q100-w64-r2048-bw128-dt300-1.src.trace.log",
    REAL / "q100-w64-r2048-bw128-dt300-1.dst.trace.log",
    CONSTRUCTED / "vfio100-dec-two-devices.src.trace.log",
    CONSTRUCTED / "vfio81-hex-one-device.dst.trace.log",
    CONSTRUCTED / "vfio100-init-data-sent-not-used.dst.trace.log",
)
JSON_LINES = _sample_lines(
    REAL / "q100-w64-r2048-bw128-dt300-1.query-migrate.jsonl",
    REAL / "q100-w64-r2048-bw128-dt300-1.src.events.jsonl",
    REAL / "q100-w64-r2048-bw128-dt300-1.dst.events.jsonl",
)
JSON_LINES += [
    '{"timestamp": {"seconds": 1795639524, "microseconds": 138600}, "event": "VFIO_MIGRATION", "data": {"device-id": "vf0", "qom-path": "/m/vf0", "device-state": "pre-copy"}}',
    '{"timestamp": {"seconds": 1795639525, "microseconds": 138900}, "event": "VFIO_MIGRATION", "data": {"device-id": "vf0", "qom-path": "/m/vf0", "device-state": "stop-copy"}}',
]
HMP_LINES = [
    *_sample_lines(CONSTRUCTED / "vfio100-dec-two-devices.info-migrate.txt"),
    "Status: \t\tcompleted",
    "Time (ms): \t\ttotal=1018, setup=1, down=17",
    "  Transfers: \t\ttransferred=143 MiB, remain=0 B",
    "    Channels: \t\tprecopy=129 MiB, multifd=0 B, postcopy=0 B, vfio=1.5 MiB",
    "  Others: \t\tdirty_syncs=3",
]


@st.composite
def mutated(draw: st.DrawFn, source: list[str]) -> str:
    line = draw(st.sampled_from(source))
    action = draw(st.sampled_from(["keep", "truncate", "replace", "insert", "swap_numbers"]))
    if action == "keep" or not line:
        return line
    index = draw(st.integers(0, len(line)))
    if action == "truncate":
        return line[:index]
    if action == "replace":
        return line[:index] + draw(st.text(max_size=3)) + line[index + 1 :]
    if action == "insert":
        return line[:index] + draw(st.text(max_size=8)) + line[index:]
    return "".join(
        str(draw(st.integers(-(2**70), 2**70))) if ch.isdigit() else ch for ch in line[:200]
    )


def documents(source: list[str], extra: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    line = st.one_of(st.sampled_from(source), mutated(source), extra, st.text(max_size=40))
    return st.lists(line, max_size=30).map("\n".join)


def reordered(source: list[str]) -> st.SearchStrategy[str]:
    """Only real, well-formed lines, in any order and any subset: reaches the trace builder
    with events out of order, missing or repeated (SHUT before setup, two acks, ...)."""
    return st.lists(st.sampled_from(source), min_size=1, max_size=60).map("\n".join)


KNOWN_WITH_JUNK = st.builds(
    lambda pid, sec, name, args: f"{pid}@{sec}.000001:{name} {args}",
    st.integers(0, 99999),
    st.integers(0, 2**40),
    st.sampled_from(sorted(KNOWN_EVENTS)),
    st.text(max_size=30),
)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "timestamp",
                    "return",
                    "event",
                    "data",
                    "status",
                    "ram",
                    "vfio",
                    "seconds",
                    "microseconds",
                    "pass",
                    "device-id",
                    "device-state",
                    "transferred",
                    "downtime",
                    "total-time",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=10,
).map(json.dumps)


def _only_import_errors(parse: Callable[[str, str], Any], text: str) -> None:
    try:
        parse(text, "fuzz.txt")
    except ImportFileError as error:
        assert error.file == "fuzz.txt"
        assert error.line is None or error.line >= 1
        assert error.expected


@FUZZ
@given(documents(TRACE_LINES, KNOWN_WITH_JUNK))
def test_fuzz_trace_log(text: str) -> None:
    _only_import_errors(parse_trace_log, text)


@FUZZ
@given(documents(JSON_LINES, JSONISH))
def test_fuzz_query_migrate(text: str) -> None:
    _only_import_errors(parse_query_migrate, text)


@FUZZ
@given(documents(JSON_LINES, JSONISH))
def test_fuzz_qmp_events(text: str) -> None:
    _only_import_errors(parse_qmp_events, text)


@FUZZ
@given(documents(HMP_LINES, st.text(max_size=60)))
def test_fuzz_info_migrate(text: str) -> None:
    _only_import_errors(parse_info_migrate, text)


@settings(max_examples=_examples(80), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(documents(TRACE_LINES, KNOWN_WITH_JUNK), reordered(TRACE_LINES)),
    st.one_of(documents(TRACE_LINES, KNOWN_WITH_JUNK), reordered(TRACE_LINES)),
    st.one_of(documents(JSON_LINES, JSONISH), reordered(JSON_LINES)),
)
def test_fuzz_whole_import(src: str, dst: str, query: str) -> None:
    """Parsing, alignment, building and scenario derivation together."""
    try:
        trace = import_files(
            src_trace=InputFile("src.log", src.encode()),
            dst_trace=InputFile("dst.log", dst.encode()),
            query_migrate=InputFile("q.jsonl", query.encode()),
        )
    except ImportFileError:
        return
    assert trace.source == "import"
    trace.to_json()


@settings(max_examples=_examples(80), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(documents(JSON_LINES, JSONISH), reordered(JSON_LINES)),
    st.one_of(documents(JSON_LINES, JSONISH), reordered(JSON_LINES)),
    documents(HMP_LINES, st.text(max_size=60)),
    st.booleans(),
)
def test_fuzz_import_without_trace_logs(query: str, events: str, hmp: str, with_hmp: bool) -> None:
    """query-migrate, QMP events and `info migrate` alone take the other step builders."""
    try:
        trace = import_files(
            query_migrate=InputFile("q.jsonl", query.encode()),
            src_events=InputFile("e.jsonl", events.encode()),
            info_migrate=InputFile("i.txt", hmp.encode()) if with_hmp else None,
        )
    except ImportFileError:
        return
    assert trace.steps
    trace.to_json()
