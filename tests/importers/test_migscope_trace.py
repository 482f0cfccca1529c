"""Reading a migscope trace file back (app/importers/migscope_trace.py): engine traces from the
real engine, edited copies, and the places the errors name."""

from __future__ import annotations

import json
from functools import cache

import pytest

from app.engine.examples import load_example
from app.engine.scenario import Scenario
from app.engine.simulation import simulate
from app.engine.trace import Trace
from app.importers.migscope_trace import (
    MAX_ERRORS,
    TraceFileError,
    every_pass_of,
    read_trace,
)

ACK = "mlx5-300mb-ack"


@cache
def engine_trace(example: str, collapse: bool) -> Trace:
    return simulate(Scenario.model_validate(load_example(example)), collapse=collapse)


def problem_of(data: bytes) -> TraceFileError:
    with pytest.raises(TraceFileError) as caught:
        read_trace("t.json", data)
    return caught.value


def test_an_engine_trace_reads_back_as_itself() -> None:
    trace = engine_trace(ACK, collapse=True)
    text = trace.to_json()
    upload = read_trace("t.json", text.encode())
    assert upload.canonical is True and upload.trace == trace
    assert upload.trace.to_json() == text


@pytest.mark.parametrize(
    ("collapse", "steps", "pass_steps", "every_pass"),
    [(True, 57, 49, False), (False, 247, 239, True)],
)
def test_every_pass_is_true_only_when_no_step_stands_for_more_than_one_pass(
    collapse: bool, steps: int, pass_steps: int, every_pass: bool
) -> None:
    trace = engine_trace(ACK, collapse=collapse)
    assert trace.summary.passes == 239 and len(trace.steps) == steps
    assert sum(1 for step in trace.steps if step.phase == "iterate") == pass_steps
    assert every_pass_of(trace) is every_pass
    assert read_trace("t.json", trace.to_json().encode()).every_pass is every_pass
    # Unknown passes (an import without them): not known to be one step per pass.
    unknown = trace.model_copy(
        update={"summary": trace.summary.model_copy(update={"passes": None})}
    )
    assert every_pass_of(unknown) is False


def test_json_errors_name_the_line_and_column() -> None:
    document = json.loads(engine_trace(ACK, collapse=True).to_json())
    pretty = json.dumps(document, indent=1, sort_keys=True).splitlines()
    # Line 6 is `    "previous": "none",`: without its comma, line 7 is where JSON breaks.
    assert pretty[5] == '    "previous": "none",'
    pretty[5] = pretty[5].rstrip(",")
    error = problem_of("\n".join(pretty).encode())
    [problem] = error.problems
    assert (problem.line, problem.column, problem.kind) == (7, 5, "json_invalid")
    assert error.message().startswith("t.json: line 7 column 5: not valid JSON: expected")
    bad_utf8 = problem_of(b'{"title":\n  "caf\xe9"}')
    assert (bad_utf8.problems[0].line, bad_utf8.problems[0].column) == (2, 7)


def test_an_escaped_backslash_before_u0000_is_not_a_nul() -> None:
    trace = engine_trace(ACK, collapse=True)
    titled = trace.model_copy(update={"title": "C:\\u0000\\dir"})
    upload = read_trace("t.json", titled.to_json().encode())
    assert upload.trace.title == "C:\\u0000\\dir" and upload.canonical is True
    nul = trace.model_copy(update={"title": "a\x00"})
    assert problem_of(nul.to_json().encode()).problems[0].loc == ["title"]


def test_many_model_errors_are_listed_up_to_a_limit_and_counted() -> None:
    document = json.loads(engine_trace(ACK, collapse=True).to_json())
    for step in document["steps"][:30]:
        step["status"] = 7
    error = problem_of(json.dumps(document).encode())
    assert len(error.problems) == MAX_ERRORS == 20 and error.more == 10
    assert [problem.loc for problem in error.problems[:2]] == [
        ["steps", 0, "status"],
        ["steps", 1, "status"],
    ]
    assert (
        error.message()
        == "t.json: steps[0].status: Input should be a valid string (and 29 more problems)"
    )


def test_another_format_or_version_is_said_first() -> None:
    document = json.loads(engine_trace(ACK, collapse=True).to_json())
    document["format"] = "chrome-trace"
    assert problem_of(json.dumps(document).encode()).problems[0].kind == "not_a_trace"
    # Without the two fields, the model's defaults apply (format 1): read, but not canonical.
    del document["format"]
    upload = read_trace("t.json", json.dumps(document).encode())
    assert upload.trace.format_version == 1 and upload.canonical is False
    document.update(format="migscope-trace", format_version=0)
    error = problem_of(json.dumps(document).encode())
    assert error.problems[0].loc == ["format_version"]
    assert error.message().startswith("t.json: format_version: trace schema version 0 ")
