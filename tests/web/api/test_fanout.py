"""Presenter fan-out: followers wait on their process's one broadcaster, so 200 followers of a
class cost one database read per round, not one per follower, and all see a move."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session

from app.store.presentations import create_presentation, get_presentation, move_presentation
from app.web.broadcast import StepBroadcaster
from tests.own_thread import in_own_thread

FOLLOWERS = 200


def test_two_hundred_followers_cost_one_read_per_round(api_client: TestClient) -> None:
    engine = api_client.app.state.engine  # type: ignore[attr-defined]
    run_id = api_client.post("/api/runs", json={"example": "mlx5-300mb-ack"}).json()["id"]
    with Session(engine) as session:
        state, _key = create_presentation(session, run_id, 0)
    reads: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM presentations" in statement:
            reads.append(statement)

    async def scenario() -> tuple[list[int | None], int]:
        broadcaster = StepBroadcaster(engine)
        followers = [
            asyncio.create_task(broadcaster.wait_change(state.session_id, state, 30.0))
            for _ in range(FOLLOWERS)
        ]
        await asyncio.sleep(0.6)  # every follower is waiting; rounds run with nothing new
        with Session(engine) as session:
            move_presentation(session, state.session_id, 7)
        broadcaster.poke()
        seen = await asyncio.gather(*followers)
        broadcaster.close()
        return [s.step if s is not None else None for s in seen], broadcaster.rounds

    steps, rounds = in_own_thread(lambda: asyncio.run(scenario()))
    event.remove(engine, "before_cursor_execute", _count)
    assert steps == [7] * FOLLOWERS
    # The move's own UPDATE and re-read are 2 statements; the rest are the broadcaster's
    # rounds: a handful in 0.6 s, each ONE query for all 200 followers.
    assert rounds <= 8
    assert len(reads) <= rounds + 2, (len(reads), rounds)
    with Session(engine) as session:
        assert get_presentation(session, state.session_id).step == 7  # type: ignore[union-attr]


def test_a_deleted_session_ends_its_followers(api_client: TestClient) -> None:
    engine = api_client.app.state.engine  # type: ignore[attr-defined]
    run_id = api_client.post("/api/runs", json={"example": "mlx5-300mb-ack"}).json()["id"]
    with Session(engine) as session:
        state, _key = create_presentation(session, run_id, 0)

    async def scenario() -> object:
        broadcaster = StepBroadcaster(engine)
        follower = asyncio.create_task(broadcaster.wait_change(state.session_id, state, 30.0))
        await asyncio.sleep(0.3)
        from app.store.access import _delete_runs

        _delete_runs(engine, [run_id])
        broadcaster.poke()
        result = await follower
        broadcaster.close()
        return result

    assert in_own_thread(lambda: asyncio.run(scenario())) is None
