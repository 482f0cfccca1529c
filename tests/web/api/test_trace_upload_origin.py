"""Where a run was made (Run.origin, Alembic 0008_run_origin) and what that means for
re-simulating it: the real app, engine, importer and store on SQLite and PostgreSQL (`db_url`).

An uploaded export.json keeps the other server's `source` and `engine_version` (so it
re-exports byte for byte); only `origin` says it was uploaded. A branch of a run made by
another engine version is still made, and says its steps 0..N may differ from the parent's.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from app import __version__
from app.web.urls import Urls

URLS = Urls()
ACK = "mlx5-300mb-ack"  # 57 stored steps; step 5 is a pre-copy pass
ELSEWHERE = "0.0.9-elsewhere"  # an engine version this server does not run
ACTION = {"kind": "set_parameters", "downtime_limit_ms": 2000}


def upload(client: TestClient, data: bytes, name: str = "run.json") -> dict[str, Any]:
    response = client.post(
        URLS.api_imports(),
        files={"migscope_trace": (name, data, "application/json")},
        data={"visibility": "listed"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def simulated(client: TestClient) -> tuple[str, bytes]:
    created = client.post(URLS.api_runs(), json={"example": ACK})
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    return run_id, client.get(URLS.export_json(run_id)).content


def with_engine_version(export: bytes, version: str) -> bytes:
    """The export as another server (another engine version) would have written it."""
    document = json.loads(export)
    assert document["engine_version"] == __version__  # made here
    document["engine_version"] = version
    return json.dumps(document).encode()


def branch(client: TestClient, run_id: str) -> dict[str, Any]:
    response = client.post(URLS.api_run_branch(run_id), json={"at_step": 5, "action": ACTION})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def listed_item(client: TestClient, run_id: str) -> dict[str, Any]:
    items = client.get(URLS.api_runs(per_page=100)).json()["items"]
    [item] = [item for item in items if item["id"] == run_id]
    return dict(item)


def test_an_uploaded_run_says_so_and_still_re_exports_byte_for_byte(
    api_client: TestClient,
) -> None:
    here_id, original = simulated(api_client)
    shared = upload(api_client, original, name="bug-4711 run.json")
    assert api_client.get(URLS.export_json(shared["id"])).content == original

    made, came = (api_client.get(URLS.api_run(i)).json() for i in (here_id, shared["id"]))
    assert (made["origin"], made["uploaded_file_name"]) == ("here", None)
    assert (came["origin"], came["uploaded_file_name"]) == ("uploaded", "bug-4711 run.json")
    assert came["source"] == "simulation" and came["engine_version"] == __version__
    assert (
        listed_item(api_client, here_id)["origin"],
        listed_item(api_client, shared["id"])["origin"],
    ) == ("here", "uploaded")

    page = api_client.get(URLS.run(shared["id"])).text
    line = f"uploaded migscope trace (engine {__version__}), not simulated on this server"
    assert line in page and 'id="run-origin"' in page
    assert 'id="run-origin"' not in api_client.get(URLS.run(here_id)).text
    twin = api_client.get(URLS.run_at(shared["id"], step=0, json=True)).json()["run"]
    assert twin["origin"] == "uploaded" and twin["origin_line"] == line
    assert twin["uploaded_file_name"] == "bug-4711 run.json"

    # Same engine version: branching the upload is as branching the original.
    made_branch = branch(api_client, shared["id"])
    assert made_branch["warning"] is None
    assert 'id="branch-engine-warning"' not in page and 'id="resimulation-note"' not in page


def test_a_run_made_by_another_engine_version_is_branched_with_a_warning(
    api_client: TestClient,
) -> None:
    here_id, original = simulated(api_client)
    edited = upload(api_client, with_engine_version(original, ELSEWHERE))
    run = api_client.get(URLS.api_run(edited["id"])).json()
    assert run["engine_version"] == ELSEWHERE and run["origin"] == "uploaded"
    # Stored as read: the export carries the edited version.
    assert (
        json.loads(api_client.get(URLS.export_json(edited["id"])).content)["engine_version"]
        == ELSEWHERE
    )

    page = api_client.get(URLS.run(edited["id"])).text
    assert f"uploaded migscope trace (engine {ELSEWHERE}), not simulated on this server" in page
    assert 'id="branch-engine-warning"' in page and 'id="resimulation-note"' in page
    assert "Up to there the branch replays this run" not in page

    warned = branch(api_client, edited["id"])
    warning = warned["warning"]
    assert isinstance(warning, str)
    assert f"engine {ELSEWHERE}" in warning and f"engine {__version__}" in warning
    assert "steps 0..N may differ" in warning
    # ... and what the store shows: this server's engine replays the trace's steps 0..5.
    assert warning.endswith("its steps 0..5 were compared with the parent's and are equal")
    # Still made, by this server's engine; its description does not promise an exact replay.
    child = api_client.get(URLS.api_run(warned["id"])).json()
    assert child["engine_version"] == __version__ and child["origin"] == "here"
    assert "replays the original exactly" not in child["description"]
    assert f"made by engine {ELSEWHERE}" in child["description"]
    compare = api_client.get(URLS.compare_page(edited["id"], warned["id"], json=True)).json()
    note = f"A was made by engine {ELSEWHERE}, B by engine {__version__}: some of their"
    assert compare["engine_note"].startswith(note)
    api_compare = api_client.get(URLS.api_compare(edited["id"], warned["id"])).json()
    assert api_compare["engine_note"].startswith(note)
    assert 'id="engine-note"' in api_client.get(URLS.compare_page(edited["id"], warned["id"])).text
    # The runs list marks it, with the engine that made it.
    runs_page = api_client.get(URLS.runs()).text
    assert f'simulated elsewhere, by engine {ELSEWHERE}">uploaded</span>' in runs_page

    # A run made here: no warning anywhere, and the promise of an exact replay stays.
    plain = branch(api_client, here_id)
    assert plain["warning"] is None
    plain_page = api_client.get(URLS.run(here_id)).text
    assert 'id="branch-engine-warning"' not in plain_page
    assert 'id="resimulation-note"' not in plain_page
    assert "Up to there the branch replays this run" in plain_page
    plain_child = api_client.get(URLS.api_run(plain["id"])).json()
    assert "Up to that step it replays the original exactly." in plain_child["description"]
    again = api_client.get(URLS.compare_page(here_id, plain["id"], json=True)).json()
    assert again["engine_note"] is None
    assert api_client.get(URLS.api_compare(here_id, plain["id"])).json()["engine_note"] is None
    runs = api_client.get(URLS.runs(json=True)).json()["runs"]
    origins = {run["id"]: run["origin"] for run in runs}
    assert (
        origins[here_id] == origins[plain["id"]] == "here" and origins[edited["id"]] == "uploaded"
    )


def test_a_branch_whose_steps_differ_from_the_parent_says_so_at_equal_versions(
    api_client: TestClient,
) -> None:
    """The version is the package's and is not bumped with every model change: the stored
    steps are compared, so a parent made by another build (here: an edited step 3 under this
    server's version) is caught even when the versions agree."""
    _, original = simulated(api_client)
    document = json.loads(original)
    document["steps"][3]["pass_sent_bytes"] += 4096
    edited = upload(api_client, json.dumps(document).encode())
    warning = branch(api_client, edited["id"])["warning"]
    assert warning == (
        f"run {edited['id']} and this branch both say engine {__version__}, yet its step 3 "
        "differs from the parent's (steps 0..5 were compared): the parent was made by another "
        "build of the engine, or is an edited trace"
    )
    # A step after the branch point may differ: nothing is said.
    document = json.loads(original)
    document["steps"][6]["pass_sent_bytes"] += 4096
    later = upload(api_client, json.dumps(document).encode())
    assert branch(api_client, later["id"])["warning"] is None
