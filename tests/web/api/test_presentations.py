"""Presenter sessions: create, move (only with the key), bounds, state, and the follow page.

In-process on SQLite and PostgreSQL; the event stream itself is tested against real uvicorn
processes in test_presentations_sse.py (an endless stream hangs an in-process client).
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.web.api.presentations import PRESENTER_KEY_HEADER

EXAMPLE = "mlx5-300mb-ack"  # one VFIO device, a few dozen steps


def new_run(client: TestClient) -> dict:
    response = client.post("/api/runs", json={"example": EXAMPLE})
    assert response.status_code == 201, response.text
    return response.json()


def new_presentation(client: TestClient, run_id: str, step: int | None = None) -> dict:
    body = None if step is None else {"step": step}
    response = client.post(f"/api/runs/{run_id}/presentations", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def move(client: TestClient, session_id: str, step: int, key: str | None) -> tuple[int, dict]:
    headers = {PRESENTER_KEY_HEADER: key} if key is not None else {}
    response = client.post(
        f"/api/presentations/{session_id}/step", json={"step": step}, headers=headers
    )
    return response.status_code, response.json()


def test_create_answers_session_key_and_links(api_client: TestClient) -> None:
    run = new_run(api_client)
    created = new_presentation(api_client, run["id"])
    session_id, key = created["session_id"], created["presenter_key"]
    assert len(session_id) == 22 and len(key) >= 32 and key != session_id
    assert created["step"] == 0 and created["run_id"] == run["id"]
    assert created["step_count"] == run["step_count"]
    assert created["follow_url"].endswith(f"/present/{session_id}")
    assert created["presenter_url"] == f"/runs/{run['id']}?step=0&present={session_id}"
    assert created["events_url"] == f"/api/presentations/{session_id}/events"
    # Every session is new: two presentations of one run never share an id or a key.
    other = new_presentation(api_client, run["id"], step=3)
    assert other["session_id"] != session_id and other["presenter_key"] != key
    assert other["step"] == 3


def test_the_key_is_not_stored_in_the_clear(api_client: TestClient, api_app: FastAPI) -> None:
    created = new_presentation(api_client, new_run(api_client)["id"])
    with api_app.state.engine.connect() as connection:
        stored = connection.execute(
            sa.text("SELECT presenter_key_sha256 FROM presentations")
        ).scalar_one()
    assert stored != created["presenter_key"]
    assert stored == hashlib.sha256(created["presenter_key"].encode()).hexdigest()


def test_only_the_presenter_key_moves_the_step(api_client: TestClient) -> None:
    created = new_presentation(api_client, new_run(api_client)["id"])
    session_id, key = created["session_id"], created["presenter_key"]

    status, body = move(api_client, session_id, 4, None)
    assert status == 403 and PRESENTER_KEY_HEADER in body["message"]
    status, _ = move(api_client, session_id, 4, "not-the-key")
    assert status == 403
    other = new_presentation(api_client, created["run_id"])
    status, _ = move(api_client, session_id, 4, other["presenter_key"])  # another session's key
    assert status == 403
    assert api_client.get(f"/api/presentations/{session_id}").json()["step"] == 0

    status, body = move(api_client, session_id, 4, key)
    assert status == 200 and body["step"] == 4
    state = api_client.get(f"/api/presentations/{session_id}").json()
    assert state["step"] == 4 and state["run_url"].endswith("?step=4")
    assert "presenter_key" not in state


def test_steps_outside_the_run_are_422(api_client: TestClient) -> None:
    run = new_run(api_client)
    last = run["step_count"] - 1
    created = new_presentation(api_client, run["id"])
    session_id, key = created["session_id"], created["presenter_key"]

    status, body = move(api_client, session_id, last + 1, key)
    assert status == 422 and body["detail"][0]["loc"] == ["body", "step"]
    status, body = move(api_client, session_id, -1, key)
    assert status == 422 and body["detail"][0]["loc"] == ["body", "step"]
    status, body = move(api_client, session_id, last, key)
    assert status == 200 and body["step"] == last
    response = api_client.post(f"/api/runs/{run['id']}/presentations", json={"step": last + 1})
    assert response.status_code == 422


def test_unknown_session_and_unknown_run_are_404(api_client: TestClient) -> None:
    assert api_client.post("/api/runs/no-such-run/presentations").status_code == 404
    assert api_client.get("/api/presentations/no-such-session").status_code == 404
    assert api_client.get("/api/presentations/no-such-session/events").status_code == 404
    status, _ = move(api_client, "no-such-session", 0, "any")
    assert status == 404


def test_only_the_presenter_key_ends_the_session(api_client: TestClient) -> None:
    run = new_run(api_client)
    created = new_presentation(api_client, run["id"], step=1)
    url = f"/api/presentations/{created['session_id']}"
    key = {PRESENTER_KEY_HEADER: created["presenter_key"]}
    assert api_client.delete(url).status_code == 403
    assert api_client.delete(url, headers={PRESENTER_KEY_HEADER: "wrong"}).status_code == 403
    # A cross-site page holding a key still cannot stop the class (SameOrigin).
    assert (
        api_client.delete(url, headers={**key, "Origin": "https://evil.example"}).status_code == 403
    )
    assert api_client.get(url).json()["step"] == 1  # refused attempts changed nothing
    # What static/js/present.js sends: DELETE with the header, same origin.
    ended = api_client.delete(url, headers={**key, "Sec-Fetch-Site": "same-origin"})
    assert ended.status_code == 200
    assert ended.json() == {
        "session_id": created["session_id"],
        "run_id": run["id"],
        "step": 1,
        "ended": True,
    }
    # Gone: reads, moves, a follower's reconnect and a second stop are all refused.
    assert api_client.get(url).status_code == 404
    assert api_client.get(url + "/events").status_code == 404
    assert move(api_client, created["session_id"], 0, created["presenter_key"])[0] == 404
    assert api_client.delete(url, headers=key).status_code == 404
    assert api_client.get(f"/api/runs/{run['id']}").status_code == 200  # the run stays


def test_run_page_offers_present_and_the_follow_page_follows(api_client: TestClient) -> None:
    run = new_run(api_client)
    page = api_client.get(f"/runs/{run['id']}").text
    assert 'id="present-start"' in page and "Present to a class" in page
    assert f'data-create-url="/api/runs/{run["id"]}/presentations"' in page

    created = new_presentation(api_client, run["id"], step=5)
    follow = api_client.get(f"/present/{created['session_id']}")
    assert follow.status_code == 200
    html = follow.text
    assert "following the presenter" in html and 'id="present-rejoin"' in html
    assert f'data-events-url="/api/presentations/{created["session_id"]}/events"' in html
    assert 'id="present-start"' not in html  # a follower does not present
    assert 'data-step="5"' in html  # opens at the presenter's step

    api_client.post(
        f"/api/presentations/{created['session_id']}/step",
        json={"step": 7},
        headers={PRESENTER_KEY_HEADER: created["presenter_key"]},
    )
    assert 'data-step="7"' in api_client.get(f"/present/{created['session_id']}").text
    assert api_client.get("/present/no-such-session").status_code == 404
