"""Exports streamed from the database: the same bytes as the in-memory exports, and a run far
larger than memory would like is exported in bounded memory (measured in a subprocess)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from app.store.runs import load_trace, save_trace
from app.web.api.export_stream import write_csv, write_json, write_perfetto
from app.web.api.exports import steps_csv
from app.web.api.perfetto import to_trace_events
from tests.store.factories import make_trace

ROOT = Path(__file__).resolve().parents[3]
MiB = 1024**2


def _streamed(writer: object, engine: Engine, run_id: str) -> str:
    out = io.StringIO()
    writer(engine, run_id, out)  # type: ignore[operator]
    return out.getvalue()


def _rendered_perfetto(content: object) -> str:
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    )


def test_streamed_exports_equal_the_in_memory_ones(
    api_client: TestClient, db_engine: Engine
) -> None:
    engine = api_client.app.state.engine  # type: ignore[attr-defined]
    made = api_client.post("/api/runs", json={"example": "two-mlx5-vfs"}).json()
    factory_id = save_trace(engine, make_trace(n_steps=1200))
    for run_id in (made["id"], factory_id):
        with Session(engine) as session:
            trace = load_trace(session, run_id)
        assert trace is not None
        assert _streamed(write_json, engine, run_id) == trace.to_json()
        assert _streamed(write_csv, engine, run_id) == steps_csv(trace.steps)
        assert _streamed(write_perfetto, engine, run_id) == _rendered_perfetto(
            to_trace_events(trace, run_id)
        )
        # And through the API, byte for byte.
        assert api_client.get(f"/api/runs/{run_id}/export.json").text == trace.to_json()
        assert api_client.get(f"/api/runs/{run_id}/export.csv").text == steps_csv(trace.steps)


def test_an_oversized_run_exports_in_bounded_memory(db_url: str, db_engine: Engine) -> None:
    # 16 devices and 6,000 steps: ~50 MB of trace JSON, several times that as Python objects.
    devices = tuple(f"0000:3b:00.{n}" for n in range(16))
    run_id = save_trace(db_engine, make_trace(n_steps=6000, devices=devices))
    small_id = save_trace(db_engine, make_trace(n_steps=50, devices=devices))
    in_memory = 0
    # The in-memory figure is the same whatever the export's kind: measured once, with json.
    for kind in ("json", "csv", "perfetto"):
        out = Path(f"/tmp/migscope-export-test-{run_id}.{kind}")
        compare = ["in-memory"] if kind == "json" else []
        try:
            child = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tests.web.api.export_memory_child",
                    db_url,
                    run_id,
                    small_id,
                    kind,
                    str(out),
                    *compare,
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=600,
                check=True,
            )
        finally:
            out.unlink(missing_ok=True)
        streamed, size, measured, _json_size = (int(part) for part in child.stdout.split()[-4:])
        in_memory = measured or in_memory
        assert in_memory > 0
        assert size > 8 * MiB, (kind, size)
        report = (
            f"{kind}: streaming grew the peak RSS by {streamed / MiB:.1f} MiB for a {size / MiB:.1f} MiB "
            f"export; building the JSON in memory grew it by {in_memory / MiB:.1f} MiB"
        )
        print(report)
        # Only one keyset batch (BATCH_ROWS steps, ~3 MB of JSON here with 16 devices, a few
        # times that once parsed) is ever held: a fixed bound whatever the run's length, and a
        # small fraction of what loading the whole trace costs.
        assert streamed < 48 * MiB, report
        assert streamed * 4 < in_memory, report
