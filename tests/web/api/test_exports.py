"""Exports: CSV of steps, the whole trace as JSON, and Chrome/Perfetto Trace Event JSON."""

from __future__ import annotations

import csv
import io
import itertools
from collections import defaultdict

from fastapi.testclient import TestClient

from app.engine.trace import Trace
from app.web.api.perfetto import to_trace_events
from tests.store.factories import make_trace

EXAMPLE = "two-mlx5-vfs"


def _run(client: TestClient) -> dict:
    response = client.post("/api/runs", json={"example": EXAMPLE})
    assert response.status_code == 201, response.text
    return response.json()


def test_json_export_is_the_whole_trace_and_reimports(api_client: TestClient) -> None:
    run = _run(api_client)
    response = api_client.get(run["urls"]["export_json"])
    assert response.headers["content-type"].startswith("application/json")
    assert f"migscope-{run['id']}.json" in response.headers["content-disposition"]
    trace = Trace.from_json(response.text)
    assert trace.to_json() == response.text  # deterministic bytes: re-export is identical
    assert len(trace.steps) == run["step_count"]
    assert trace.summary.model_dump(mode="json") == run["summary"]
    assert trace.scenario["title"] == run["title"]


def test_csv_export_has_a_row_per_step_and_device_columns(api_client: TestClient) -> None:
    run = _run(api_client)
    response = api_client.get(run["urls"]["export_csv"])
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == run["step_count"]
    assert [int(r["index"]) for r in rows] == list(range(run["step_count"]))
    devices = [d["name"] for d in run["summary"]["devices"]]
    assert len(devices) == 2
    for device in devices:
        assert f"{device}.init_est_bytes" in rows[0]
    assert rows[-1]["phase"] and rows[-1]["decision_code"]


REQUIRED = {"name", "ph", "pid", "tid", "ts"}
PHASES = {"M", "X", "C", "i"}


def validate_trace_events(document: dict) -> dict[str, list[dict]]:
    """Trace Event format checks: keys per phase type, and monotonic timestamps per track."""
    assert isinstance(document["traceEvents"], list)
    assert document["displayTimeUnit"] in ("ms", "ns")
    tracks: dict[tuple, list[float]] = defaultdict(list)
    by_phase: dict[str, list[dict]] = defaultdict(list)
    for event in document["traceEvents"]:
        assert set(event) >= REQUIRED, event
        assert event["ph"] in PHASES, event
        assert isinstance(event["pid"], int) and isinstance(event["tid"], int)
        assert isinstance(event["ts"], int | float) and event["ts"] >= 0
        by_phase[event["ph"]].append(event)
        if event["ph"] == "X":
            assert isinstance(event["dur"], int | float) and event["dur"] >= 0
            tracks[("thread", event["pid"], event["tid"])].append(event["ts"])
        elif event["ph"] == "C":
            assert event["args"] and all(isinstance(v, int | float) for v in event["args"].values())
            tracks[("counter", event["pid"], event["name"])].append(event["ts"])
        elif event["ph"] == "i":
            assert event["s"] in ("g", "p", "t")
            tracks[("thread", event["pid"], event["tid"])].append(event["ts"])
        elif event["ph"] == "M":
            assert event["name"] in (
                "process_name",
                "thread_name",
                "process_sort_index",
                "thread_sort_index",
            )
    for track, stamps in tracks.items():
        assert stamps == sorted(stamps), f"timestamps go backwards on {track}"
    # Complete slices on one thread nest properly: here, they follow one another.
    slices: dict[tuple, list[dict]] = defaultdict(list)
    for event in by_phase["X"]:
        slices[(event["pid"], event["tid"])].append(event)
    for track, items in slices.items():
        for current, following in itertools.pairwise(items):
            assert current["ts"] + current["dur"] <= following["ts"] + 1e-6, (
                f"overlapping slices on {track}"
            )
    return by_phase


def test_perfetto_slices_never_overlap_even_for_overlapping_steps() -> None:
    trace = make_trace(n_steps=6)
    # An imported trace may report a step starting before the previous one ended.
    steps = [step.model_copy(update={"end_ms": step.end_ms + 50.0}) for step in trace.steps]
    document = to_trace_events(trace.model_copy(update={"steps": steps}), "overlap")
    by_phase = validate_trace_events(document)
    assert [s["name"] for s in by_phase["X"]] == ["setup", "iterate", "completed"]


def test_perfetto_export_is_valid_trace_event_json(api_client: TestClient) -> None:
    run = _run(api_client)
    response = api_client.get(run["urls"]["export_perfetto"])
    assert response.headers["content-type"].startswith("application/json")
    by_phase = validate_trace_events(response.json())
    trace = Trace.from_json(api_client.get(run["urls"]["export_json"]).text)
    # Slices: the phases in order, covering the run.
    slices = by_phase["X"]
    phases = [s["name"] for s in slices]
    expected = [
        step.phase
        for i, step in enumerate(trace.steps)
        if i == 0 or trace.steps[i - 1].phase != step.phase
    ]
    assert phases == expected
    assert slices[0]["ts"] == trace.steps[0].t_ms * 1000
    # Counters per device for initial and dirty bytes, plus RAM remaining and threshold.
    counters = {c["name"] for c in by_phase["C"]}
    assert {"RAM remaining bytes", "threshold bytes"} <= counters
    for device in trace.summary.devices:
        assert {f"{device.name} initial bytes", f"{device.name} dirty bytes"} <= counters
    # Instants for INIT_DATA_SENT, ACK and the VM stop and start.
    names = [i["name"] for i in by_phase["i"]]
    assert any(n.startswith("INIT_DATA_SENT ") for n in names)
    assert any(n.startswith("ACK") for n in names)
    assert "VM stop" in names and "VM start" in names
    vm_start = next(i for i in by_phase["i"] if i["name"] == "VM start")
    assert vm_start["pid"] == 2  # the destination starts the VM


def test_exports_are_compressed_and_cacheable(api_client: TestClient) -> None:
    run = _run(api_client)
    response = api_client.get(run["urls"]["export_json"], headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["cache-control"].startswith("public")
    assert Trace.from_json(response.text)  # httpx decompresses transparently
    detail = api_client.get(run["urls"]["api"])
    assert detail.headers["cache-control"].startswith("public")
    missing = api_client.get("/api/runs/nope")
    assert "cache-control" not in missing.headers
    listing = api_client.get("/api/runs")
    assert "cache-control" not in listing.headers  # the list grows: never cached
