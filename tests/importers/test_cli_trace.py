"""`migscope import RUN.json`: a migscope trace stored back through the CLI, on a real SQLite
store; the stored run re-exports to the same bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from app.cli import cli
from app.store.db import make_engine
from app.store.runs import get_run, load_trace

from .test_cli_and_derive import _run_count
from .test_migscope_trace import ACK, engine_trace


@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'migscope.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def _stored(url: str, run_id: str) -> tuple[str, str, bool, str, str, str | None]:
    """The stored run's re-export, visibility, every_pass, source, origin and file name."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            run = get_run(session, run_id)
            trace = load_trace(session, run_id)
            assert run is not None and trace is not None
            return (
                trace.to_json(),
                run.visibility,
                run.every_pass,
                run.source,
                run.origin,
                run.uploaded_file_name,
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize(("collapse", "every_pass"), [(True, False), (False, True)])
def test_an_export_is_stored_back_byte_for_byte(
    sqlite_url: str, tmp_path: Path, collapse: bool, every_pass: bool
) -> None:
    text = engine_trace(ACK, collapse=collapse).to_json()
    path = tmp_path / "run.json"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", str(path), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["trace"] == {
        "format": "migscope-trace",
        "format_version": 1,
        "engine_version": json.loads(text)["engine_version"],
        "source": "simulation",
        "canonical": True,
        "every_pass": every_pass,
    }
    assert body["summary"]["passes"] == 239
    again, visibility, stored_every_pass, source, origin, file_name = _stored(
        sqlite_url, body["id"]
    )
    assert again == text and len(again) == len(text)
    assert (visibility, stored_every_pass, source) == ("unlisted", every_pass, "simulation")
    # Stored as the web upload stores it: not made on this server.
    assert (origin, file_name) == ("uploaded", "run.json")


def test_text_output_names_the_trace_and_ends_with_the_url(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps(json.loads(engine_trace(ACK, collapse=True).to_json()), indent=1))
    result = CliRunner().invoke(cli, ["import", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-2].startswith("  migscope trace    format 1, engine ")
    assert lines[-2].endswith("source simulation (edited: not the export's exact bytes)")
    assert lines[-1].startswith("http://127.0.0.1:8000/runs/")


def test_a_bad_trace_exits_2_naming_the_place_and_stores_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "migscope-trace",\n "steps": [1,]}')
    result = CliRunner().invoke(cli, ["import", str(bad)])
    assert result.exit_code == 2
    assert f"migscope import: {bad}: line 2 column 14: not valid JSON" in result.output
    assert "query-migrate samples and QMP events go in --query-migrate" in result.output
    good = tmp_path / "run.json"
    good.write_text(engine_trace(ACK, collapse=True).to_json())
    titled = CliRunner().invoke(cli, ["import", str(good), "--title", "mine"])
    assert titled.exit_code == 2 and "leave out --title" in titled.output
    assert _run_count(sqlite_url) == 0
