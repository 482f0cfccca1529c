"""A migscope trace file (`GET /api/runs/{id}/export.json`, `Trace.to_json()`) read back.

Engineers attach the exported trace of a run to a bug report; a colleague loads it into their
own migscope (`POST /api/imports` field `migscope_trace`) and gets the same run. The file is
validated with the engine's `Trace` model, then checked for what the store and the pages rely
on and the model alone does not promise (step indexes 0..n-1, events inside the run, finite
numbers, no NUL character, which PostgreSQL text cannot hold). An unmodified export comes back
as the same trace: its `to_json()` is the uploaded bytes.

Every problem is a `TraceFileError` naming the place: a line and column for a JSON syntax
error, the path inside the trace (`["steps", 3, "decision", "code"]`) for the rest.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from app.engine.trace import TRACE_FORMAT, TRACE_FORMAT_VERSION, Trace, pass_step_count

# A run's title is at most 200 characters wherever the app makes one (scenario titles, the
# import form, branch titles): a longer one comes from an edited file.
MAX_TITLE_CHARS = 200
# Model errors listed in one answer (the rest are counted).
MAX_ERRORS = 20

_JSON_AT = re.compile(r"at line (\d+) column (\d+)")
# "\u0000" in JSON text, not "\\u0000" (an escaped backslash followed by "u0000").
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
# The typed figures of a trace (times in ms, bytes, rates, counts) are at most 2**53 either
# way: exact in a JSON double, and far above any real migration (9 PB, 285,000 years in ms),
# while the pages' arithmetic on larger ones (ms to us for Perfetto) could overflow.
MAX_MAGNITUDE = 2**53
# A number token in canonical JSON that may pass MAX_MAGNITUDE (16 digits or more, or a float
# written with an exponent of 16 or more): only then are the values walked.
_LARGE_NUMBER = re.compile(r"\d{16,}|\de\+(?:1[6-9]|[2-9]\d|\d{3})")
# Fields of any JSON value, where numbers only need to be finite.
_FREE_FORM = frozenset({"scenario", "resolved", "profile", "import_info", "data"})

Loc = list[str | int]


@dataclass
class TraceProblem:
    """One thing wrong with the file: where (`loc` inside the trace, or `line`/`column` of the
    JSON text) and what."""

    message: str
    kind: str
    loc: Loc = field(default_factory=list)
    line: int | None = None
    column: int | None = None

    def where(self) -> str:
        if self.line is not None:
            return f"line {self.line} column {self.column}"
        return dotted(self.loc)

    def text(self, file: str) -> str:
        """`file: where: message` (no `where` for the file as a whole)."""
        where = self.where()
        return f"{file}: {where}: {self.message}" if where else f"{file}: {self.message}"


class TraceFileError(ValueError):
    """A migscope trace file that cannot be stored; `problems` lists what is wrong (at least
    one), `file` is the uploaded file's name."""

    def __init__(self, file: str, problems: list[TraceProblem], more: int = 0) -> None:
        self.file = file
        self.problems = problems
        self.more = more  # further model errors not listed
        super().__init__(self.message())

    def message(self) -> str:
        text = self.problems[0].text(self.file)
        others = len(self.problems) - 1 + self.more
        if others:
            text += f" (and {others} more {'problem' if others == 1 else 'problems'})"
        return text


def dotted(loc: Loc) -> str:
    """`["steps", 3, "decision"]` as `steps[3].decision`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True)
class TraceUpload:
    """A validated trace and what the upload says about it."""

    trace: Trace
    # The file is exactly `trace.to_json()`: the stored run re-exports to the same bytes.
    canonical: bool
    # True when no step stands for more than one pre-copy pass (the summary's `passes` is
    # known and at most the number of pass steps): the run's `every_pass`.
    every_pass: bool


def read_trace(file: str, data: bytes) -> TraceUpload:
    """The trace in `data` (a migscope `export.json`), or TraceFileError."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, column = _line_column(data, error.start)
        raise TraceFileError(
            file,
            [
                TraceProblem(
                    "not UTF-8 text (a migscope trace is JSON)", "encoding", [], line, column
                )
            ],
        ) from None
    if text.startswith("\ufeff"):  # an editor's byte-order mark; JSON itself has none
        text = text[1:]
    try:
        trace = Trace.model_validate_json(text)
    except ValidationError as error:
        raise _model_error(file, text, error) from None
    _check_format(file, trace.format, trace.format_version)
    canonical_text = _check_values(file, trace)
    _check_shape(file, trace)
    # Compared with the bytes as uploaded (a byte-order mark makes the file differ).
    return TraceUpload(trace, canonical_text.encode("utf-8") == data, every_pass_of(trace))


def every_pass_of(trace: Trace) -> bool:
    """Whether every step of the trace stands for at most one pre-copy pass: the passes the
    summary counts fit in its pass steps (as app/web/passes.py words it)."""
    passes = trace.summary.passes
    if passes is None:
        return False
    return passes <= pass_step_count(trace.steps)


def _line_column(data: bytes, offset: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, offset - line_start + 1


def _check_format(file: str, format_name: object, version: object) -> None:
    if format_name != TRACE_FORMAT:
        raise TraceFileError(
            file,
            [
                TraceProblem(
                    f'expected "{TRACE_FORMAT}" (a migscope trace export: GET '
                    f"/api/runs/ID/export.json); found {_short(format_name)}",
                    "not_a_trace",
                    ["format"],
                )
            ],
        )
    if version != TRACE_FORMAT_VERSION:
        raise TraceFileError(
            file,
            [
                TraceProblem(
                    f"trace schema version {_short(version)} is not readable here: this migscope "
                    f"reads version {TRACE_FORMAT_VERSION} (export the run again from a migscope "
                    "that writes it)",
                    "format_version",
                    ["format_version"],
                )
            ],
        )


def _short(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _model_error(file: str, text: str, error: ValidationError) -> TraceFileError:
    errors = error.errors(include_url=False, include_input=False)
    if errors and errors[0]["type"] == "json_invalid":
        message = str(errors[0]["msg"])
        found = _JSON_AT.search(message)
        line, column = (int(found[1]), int(found[2])) if found else (None, None)
        message = _JSON_AT.sub("", message).replace("Invalid JSON: ", "").strip()
        return TraceFileError(
            file, [TraceProblem(f"not valid JSON: {message}", "json_invalid", [], line, column)]
        )
    # A file that is JSON but not a trace, or a trace of another schema version, is said so
    # (rather than as a list of missing fields).
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return TraceFileError(
            file,
            [
                TraceProblem(
                    "expected a JSON object (a migscope trace export: GET /api/runs/ID/export.json)",
                    "not_a_trace",
                )
            ],
        )
    _check_format(file, document.get("format"), document.get("format_version", 1))
    problems = [
        TraceProblem(str(item["msg"]), str(item["type"]), list(item["loc"]))
        for item in errors[:MAX_ERRORS]
    ]
    return TraceFileError(file, problems, max(0, len(errors) - MAX_ERRORS))


def _check_values(file: str, trace: Trace) -> str:
    """The trace's canonical text (`to_json()`), after checking that PostgreSQL can store every
    value: numbers finite (the JSON parser reads NaN and 1e999) and no NUL character."""
    try:
        text = trace.to_json(allow_nan=False)
    except ValueError:
        text = ""
    if not text or _NUL_ESCAPE.search(text):
        for loc, message, kind in _unstorable(trace.model_dump(mode="json"), []):
            raise TraceFileError(file, [TraceProblem(message, kind, loc)])
    # In the free-form fields the JSON dump writes NaN and infinities as null: look at the
    # values as read, so they are refused like those of typed fields.
    for base, value in _free_form(trace):
        for loc, message, kind in _unstorable(value, base):
            raise TraceFileError(file, [TraceProblem(message, kind, loc)])
    if _LARGE_NUMBER.search(text):
        for loc, number in _typed_numbers(trace.model_dump(mode="json"), []):
            if abs(number) > MAX_MAGNITUDE:
                raise TraceFileError(
                    file,
                    [
                        TraceProblem(
                            f"{number:g} is out of range (at most 2**53 = {MAX_MAGNITUDE:,} "
                            "either way)",
                            "number_range",
                            loc,
                        )
                    ],
                )
    return text


def _typed_numbers(value: Any, loc: Loc) -> Iterator[tuple[Loc, int | float]]:
    """The numbers of the trace's typed fields (not those inside free-form fields)."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _FREE_FORM or len(loc) > 2:
                yield from _typed_numbers(item, [*loc, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _typed_numbers(item, [*loc, index])


def _free_form(trace: Trace) -> Iterator[tuple[Loc, Any]]:
    """The trace's fields of any JSON value (`dict[str, Any]`)."""
    yield ["scenario"], trace.scenario
    yield ["resolved"], trace.resolved
    yield ["profile"], trace.profile
    yield ["import_info"], trace.import_info
    for position, event in enumerate(trace.events):
        if event.data:
            yield ["events", position, "data"], event.data


def _unstorable(value: Any, loc: Loc) -> Iterator[tuple[Loc, str, str]]:
    if isinstance(value, float) and not math.isfinite(value):
        yield (
            loc,
            f"{value} is not a number the store can keep (finite numbers only)",
            "finite_number",
        )
    elif isinstance(value, str) and "\x00" in value:
        yield loc, "contains a NUL character (\\u0000)", "nul_character"
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                yield [*loc, key], "a key contains a NUL character (\\u0000)", "nul_character"
            yield from _unstorable(item, [*loc, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unstorable(item, [*loc, index])


def _check_shape(file: str, trace: Trace) -> None:
    """What a stored run needs beyond the model: steps numbered 0..n-1 in order (their key),
    events inside the run's steps, a title as long as the app ever makes one."""
    problems: list[TraceProblem] = []
    if len(trace.title) > MAX_TITLE_CHARS:
        problems.append(
            TraceProblem(
                f"at most {MAX_TITLE_CHARS} characters (found {len(trace.title)})",
                "string_too_long",
                ["title"],
            )
        )
    if not trace.steps:
        problems.append(TraceProblem("a run has at least one step", "too_short", ["steps"]))
    for position, step in enumerate(trace.steps):
        if step.index != position:
            problems.append(
                TraceProblem(
                    f"step {position} has index {step.index}: steps are numbered 0, 1, 2, ... "
                    "in order",
                    "step_index",
                    ["steps", position, "index"],
                )
            )
            break
    for position, event in enumerate(trace.events):
        if not 0 <= event.step < len(trace.steps):
            problems.append(
                TraceProblem(
                    f"event of step {event.step}; the run has steps 0 to {len(trace.steps) - 1}",
                    "event_step",
                    ["events", position, "step"],
                )
            )
            break
    if problems:
        raise TraceFileError(file, problems)
