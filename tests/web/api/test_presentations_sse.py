"""The presenter event stream against REAL uvicorn processes (an endless stream would hang an
in-process client): two servers on one database, as two workers or hosts would be. The
presenter moves through one, the class listens on the other."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.web.api.presentations import PRESENTER_KEY_HEADER
from tests.live_server import UVICORN, serving

EXAMPLE = "mlx5-300mb-ack"
# Each read waits at most this long: a broken stream fails the test instead of hanging it.
READ_TIMEOUT = httpx.Timeout(20.0)


@pytest.fixture(scope="module")
def two_servers(
    module_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """Two uvicorn processes on one fresh database (the first one migrates it), shared by this
    module's tests: each test makes its own run and presentation."""
    logs = tmp_path_factory.mktemp("sse-servers")
    with (
        serving(UVICORN, module_db_url, logs / "uvicorn-a.log") as a,
        serving(UVICORN, module_db_url, logs / "uvicorn-b.log") as b,
    ):
        yield a.base, b.base


def events(response: httpx.Response) -> Iterator[dict[str, str]]:
    """Parse a text/event-stream into {id, data, ...} dicts; comments (pings) are skipped."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if fields:
                yield fields
            fields = {}
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


def present(teacher: httpx.Client, step: int) -> dict[str, Any]:
    """A new run, presented from `step`: the presentation as created (key, URLs)."""
    run = teacher.post("/api/runs", json={"example": EXAMPLE})
    assert run.status_code == 201, run.text
    created = teacher.post(f"/api/runs/{run.json()['id']}/presentations", json={"step": step})
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_followers_on_another_worker_see_the_presenter_move(two_servers: tuple[str, str]) -> None:
    presenter_server, class_server = two_servers
    with httpx.Client(base_url=presenter_server, timeout=READ_TIMEOUT) as teacher:
        created = present(teacher, step=2)
        key = {PRESENTER_KEY_HEADER: created["presenter_key"]}
        stream_url = class_server + created["events_url"]

        def move(step: int, headers: dict[str, str] = key) -> int:
            """The presenter sets a step; the answer's status."""
            return teacher.post(
                created["step_url"], json={"step": step}, headers=headers
            ).status_code

        with httpx.Client(timeout=READ_TIMEOUT) as student:
            with student.stream("GET", stream_url) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                assert "content-encoding" not in response.headers  # never gzip-buffered
                received = events(response)
                first = next(received)
                assert first["id"] == "2" and '"step":2' in first["data"].replace(" ", "")
                assert int(first["retry"]) > 0  # the browser reconnects when a stream ends

                for step in (3, 7):
                    assert move(step) == 200
                    assert next(received)["id"] == str(step)
                # Only changes are sent: setting 7 again sends nothing, so the next event is 1.
                assert move(7) == 200
                assert move(1) == 200
                assert next(received)["id"] == "1"

            # A wrong key moves nothing: a reconnect at the last id waits for a real change.
            assert move(9, headers={PRESENTER_KEY_HEADER: "x"}) == 403
            with student.stream("GET", stream_url, headers={"Last-Event-ID": "1"}) as response:
                received = events(response)
                # Last-Event-ID names the current step: nothing is re-sent until the presenter moves.
                assert move(5) == 200
                assert next(received)["id"] == "5"

            # A reconnect with an older id gets the current step at once.
            with student.stream("GET", stream_url, headers={"Last-Event-ID": "0"}) as response:
                assert next(events(response))["id"] == "5"


def test_followers_get_ended_when_the_presenter_stops(two_servers: tuple[str, str]) -> None:
    presenter_server, class_server = two_servers
    with httpx.Client(base_url=presenter_server, timeout=READ_TIMEOUT) as teacher:
        created = present(teacher, step=3)
        stream_url = class_server + created["events_url"]
        session_url = f"/api/presentations/{created['session_id']}"
        with httpx.Client(timeout=READ_TIMEOUT) as student:
            with student.stream("GET", stream_url) as response:
                received = events(response)
                assert next(received)["id"] == "3"
                assert (
                    teacher.delete(
                        session_url, headers={PRESENTER_KEY_HEADER: created["presenter_key"]}
                    ).status_code
                    == 200
                )
                ended = next(received)
                assert ended["event"] == "ended"
                assert created["session_id"] in ended["data"]
                # ...and the server closes the stream (no endless wait for the browser).
                assert list(received) == []
            # A reconnect is refused: the browser reads that as "the presenter stopped" too.
            assert student.get(stream_url).status_code == 404
