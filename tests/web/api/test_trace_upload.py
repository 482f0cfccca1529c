"""A migscope trace (a run's export.json) uploaded back through POST /api/imports, field
`migscope_trace`: the real app, engine, importer and store, on SQLite and PostgreSQL (`db_url`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from app.store.models import EventRow, Run, StepRow
from app.web.urls import Urls
from tests.importers.helpers import CONSTRUCTED

URLS = Urls()
FIELD = "migscope_trace"
# Collapsed: 57 steps, 49 of them passes standing for 239 pre-copy passes.
ACK = "mlx5-300mb-ack"
# With every_pass: 221 steps, 213 of them one pre-copy pass each.
MULTIFD = "multifd-4-vfs"


def simulated_export(client: TestClient, example: str, every_pass: bool = False) -> bytes:
    created = client.post(URLS.api_runs(), json={"example": example, "every_pass": every_pass})
    assert created.status_code == 201, created.text
    return client.get(URLS.export_json(created.json()["id"])).content


def upload(client: TestClient, data: bytes, name: str = "run.json", **form: str) -> Any:
    return client.post(
        URLS.api_imports(), files={FIELD: (name, data, "application/json")}, data=form
    )


def stored_rows(app: FastAPI) -> tuple[int, int, int]:
    """Runs, steps and events in the database (complete or not): what a failed upload must
    leave as it was."""
    with Session(app.state.engine) as session:
        return tuple(  # type: ignore[return-value]
            session.exec(select(func.count()).select_from(table)).one()
            for table in (Run, StepRow, EventRow)
        )


def test_an_unmodified_export_comes_back_byte_for_byte(
    api_client: TestClient, api_app: FastAPI
) -> None:
    original = simulated_export(api_client, ACK)
    before = stored_rows(api_app)
    response = upload(api_client, original)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["trace"] == {
        "format": "migscope-trace",
        "format_version": 1,
        "engine_version": json.loads(original)["engine_version"],
        "source": "simulation",
        "canonical": True,
    }
    assert body["step_count"] == 57 and body["every_pass"] is False
    assert body["simulate_this_url"] is None  # a simulation has its scenario
    assert response.headers["location"] == URLS.api_run(body["id"])
    # One more run, with exactly the trace's steps and events.
    document = json.loads(original)
    steps, events = len(document["steps"]), len(document["events"])
    assert stored_rows(api_app) == (before[0] + 1, before[1] + steps, before[2] + events)
    again = api_client.get(URLS.export_json(body["id"])).content
    assert again == original and len(again) == len(original)
    run = api_client.get(URLS.api_run(body["id"])).json()
    assert run["source"] == "simulation" and run["summary"] == document["summary"]
    assert run["every_pass"] is False
    assert run["passes_shown"] == "alike passes collapsed: 49 steps stand for 239 pre-copy passes"
    # Unlisted, as every import: only its link opens it.
    listed = api_client.get(URLS.api_runs(per_page=100)).json()["items"]
    assert body["id"] not in {item["id"] for item in listed}


def test_an_every_pass_export_is_stored_with_every_pass(api_client: TestClient) -> None:
    original = simulated_export(api_client, MULTIFD, every_pass=True)
    response = upload(api_client, original, visibility="listed")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["step_count"] == 221 and body["every_pass"] is True
    assert api_client.get(URLS.export_json(body["id"])).content == original
    run = api_client.get(URLS.api_run(body["id"])).json()
    assert run["every_pass"] is True and run["summary"]["passes"] == 213
    assert run["passes_shown"] == "every pass: one step per pre-copy pass"
    listed = api_client.get(URLS.api_runs(per_page=100)).json()["items"]
    assert body["id"] in {item["id"] for item in listed}  # asked for listed


def test_an_imported_qemu_run_comes_back_as_an_import(api_client: TestClient) -> None:
    base = CONSTRUCTED / "vfio100-dec-two-devices"
    files = {
        field: (f"{base.name}{suffix}", base.with_name(f"{base.name}{suffix}").read_bytes())
        for field, suffix in (("src_trace", ".src.trace.log"), ("dst_trace", ".dst.trace.log"))
    }
    first = api_client.post(URLS.api_imports(), files=files).json()
    original = api_client.get(URLS.export_json(first["id"])).content
    response = upload(api_client, original)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["trace"]["source"] == "import" and body["trace"]["canonical"] is True
    # The same answer as the first import, from the trace's own import_info.
    assert body["clock"] == first["clock"] and body["clock"]["offset_ms"] == 2500.0
    assert body["notes"] == first["notes"] and body["summary"] == first["summary"]
    assert body["simulate_this_url"] == URLS.api_simulate_this(body["id"])
    assert api_client.get(URLS.export_json(body["id"])).content == original
    run = api_client.get(URLS.api_run(body["id"])).json()
    assert run["source"] == "import" and run["import_info"] == json.loads(original)["import_info"]
    assert api_client.post(body["simulate_this_url"]).status_code == 201


def test_an_edited_trace_is_stored_as_read_and_says_it_is_not_the_export(
    api_client: TestClient,
) -> None:
    original = simulated_export(api_client, ACK)
    pretty = json.dumps(json.loads(original), indent=2).encode()
    body = upload(api_client, pretty).json()
    assert body["trace"]["canonical"] is False
    # The stored run is the trace: its export is the canonical bytes again.
    assert api_client.get(URLS.export_json(body["id"])).content == original
    # A byte-order mark (some editors add one) is read past.
    with_bom = upload(api_client, b"\xef\xbb\xbf" + original).json()
    assert with_bom["trace"]["canonical"] is False
    assert api_client.get(URLS.export_json(with_bom["id"])).content == original


def _error(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert all(item["loc"] == ["body", FIELD] for item in body["detail"])
    return body


def test_bad_traces_are_422s_naming_the_place_and_store_nothing(
    api_client: TestClient, api_app: FastAPI
) -> None:
    original = simulated_export(api_client, ACK)
    document = json.loads(original)
    before = stored_rows(api_app)

    body = _error(upload(api_client, b'{"format": "migscope-trace",\n  "steps": [1,]\n}', "x.json"))
    [item] = body["detail"]
    assert (item["line"], item["column"], item["type"]) == (2, 15, "json_invalid")
    assert body["message"].startswith("migscope_trace: x.json: line 2 column 15: not valid JSON")

    item = _error(upload(api_client, b"\xff\xfe{}"))["detail"][0]
    assert (item["line"], item["column"], item["type"]) == (1, 1, "encoding")

    # A Perfetto export is JSON, but not a trace.
    perfetto = api_client.get(
        URLS.export_perfetto(api_client.get(URLS.api_runs()).json()["items"][0]["id"])
    )
    item = _error(upload(api_client, perfetto.content))["detail"][0]
    assert item["trace_loc"] == ["format"] and item["type"] == "not_a_trace"
    item = _error(upload(api_client, b"[1, 2]"))["detail"][0]
    assert item["type"] == "not_a_trace" and "expected a JSON object" in item["msg"]

    # Another trace schema version: said as such, whatever else differs.
    newer = {**document, "format_version": 2, "steps": "elsewhere"}
    item = _error(upload(api_client, json.dumps(newer).encode()))["detail"][0]
    assert item["trace_loc"] == ["format_version"] and item["type"] == "format_version"
    assert "trace schema version 2" in item["msg"] and "reads version 1" in item["msg"]

    # The wrong shape: the pydantic location inside the trace, every problem listed.
    broken = json.loads(original)
    del broken["steps"][3]["decision"]
    broken["events"][5]["side"] = "nowhere"
    body = _error(upload(api_client, json.dumps(broken).encode(), "bug-report.json"))
    assert [item["trace_loc"] for item in body["detail"]] == [
        ["steps", 3, "decision"],
        ["events", 5, "side"],
    ]
    assert body["detail"][0]["msg"] == "bug-report.json: steps[3].decision: Field required"
    assert body["message"].endswith("(and 1 more problem)")

    # Values the model reads but the store cannot keep, or the pages could not show.
    cases: list[tuple[Callable[[dict[str, Any]], None], list[Any], str]] = [
        (
            lambda d: d["steps"][2].update(end_ms=float("nan")),
            ["steps", 2, "end_ms"],
            "finite_number",
        ),
        (
            lambda d: d["events"][0]["data"].update(x=float("inf")),
            ["events", 0, "data", "x"],
            "finite_number",
        ),
        (lambda d: d.update(title="a\x00b"), ["title"], "nul_character"),
        # Perfetto's microseconds of 1e308 ms would overflow: typed figures stay within 2**53.
        (lambda d: d["steps"][3].update(t_ms=1e308), ["steps", 3, "t_ms"], "number_range"),
        (
            lambda d: d["summary"].update(transferred_bytes=2**53 + 1),
            ["summary", "transferred_bytes"],
            "number_range",
        ),
        (lambda d: d.update(title="t" * 201), ["title"], "string_too_long"),
        (lambda d: d["steps"][7].update(index=8), ["steps", 7, "index"], "step_index"),
        (
            lambda d: d["events"][-1].update(step=57),
            ["events", len(document["events"]) - 1, "step"],
            "event_step",
        ),
        (lambda d: d.update(steps=[], events=[]), ["steps"], "too_short"),
    ]
    for change, loc, kind in cases:
        edited = json.loads(original)
        change(edited)
        item = _error(upload(api_client, json.dumps(edited).encode()))["detail"][0]
        assert (item["trace_loc"], item["type"]) == (loc, kind), item

    assert stored_rows(api_app) == before


def test_a_trace_goes_alone(api_client: TestClient, api_app: FastAPI) -> None:
    original = simulated_export(api_client, ACK)
    before = stored_rows(api_app)
    titled = api_client.post(
        URLS.api_imports(), files={FIELD: ("run.json", original)}, data={"title": "mine"}
    )
    assert titled.status_code == 422 and titled.json()["detail"][0]["loc"] == ["body", "title"]
    assert "uploaded alone" in titled.json()["message"]
    log = (CONSTRUCTED / "vfio100-dec-two-devices.src.trace.log").read_bytes()
    mixed = api_client.post(
        URLS.api_imports(), files={FIELD: ("run.json", original), "src_trace": ("src.log", log)}
    )
    assert mixed.status_code == 422 and mixed.json()["detail"][0]["loc"] == ["body", "src_trace"]
    assert stored_rows(api_app) == before


def test_a_trace_over_the_stored_bytes_budget_is_a_413(
    app_with: Callable[..., FastAPI],
) -> None:
    with TestClient(app_with()) as client:
        original = simulated_export(client, ACK)
    # About 132 KiB (the engine's figures set the exact size): twice the budget below.
    assert 2 * 64 * 1024 < len(original) < 3 * 64 * 1024
    small = app_with(max_run_stored_bytes=64 * 1024)
    before = stored_rows(small)
    with TestClient(small) as client:
        response = upload(client, original)
        assert response.status_code == 413, response.text
        [item] = response.json()["detail"]
        assert item["loc"] == ["body", FIELD] and item["type"] == "too_large"
        assert "larger than 65,536 bytes" in item["msg"]
        # Just under the budget, the size is not what stops it.
        assert upload(client, b" " * (64 * 1024)).status_code == 422
    assert stored_rows(small) == before


def test_a_trace_over_the_step_limit_is_a_422(app_with: Callable[..., FastAPI]) -> None:
    with TestClient(app_with()) as client:
        original = simulated_export(client, ACK)
    with TestClient(app_with(max_steps_per_run=50)) as client:
        item = _error(upload(client, original))["detail"][0]
        assert item["trace_loc"] == ["steps"] and item["type"] == "too_many_steps"
        assert "57 steps" in item["msg"] and "at most 50" in item["msg"]
