"""Presenter sessions: a teacher moves a run's step, a class follows it (Server-Sent Events).

Every state lives in the `presentations` table. Followers wait on their process's broadcaster
(app.web.broadcast: one reader per process, woken by NOTIFY on PostgreSQL), so a follower
served by one worker sees a step set through another worker or host.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Body, Depends, Header, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from sqlmodel import Session

from app.store.models import PresentationPublic
from app.store.presentations import (
    create_presentation,
    end_presentation,
    get_presentation,
    move_presentation,
    presenter_key_matches,
)
from app.store.runs import get_run

from .. import urls as paths
from ..deps import BroadcasterDep, EngineDep, RunDep, SessionDep, UrlsDep
from ..urls import Urls, absolute
from .models import ERROR_RESPONSES, NON_JSON_ERROR_RESPONSES, ErrorResponse

router = APIRouter(tags=["presentations"], responses=ERROR_RESPONSES)

# A stream ends after this long and the browser's EventSource reconnects (with Last-Event-ID):
# no connection, test or server shutdown ever waits on an endless stream.
STREAM_SECONDS = 180.0
RECONNECT_MS = 1000
PRESENTER_KEY_HEADER = "X-Presenter-Key"


class PresentationCreate(BaseModel):
    """Where the class starts."""

    step: int = Field(default=0, ge=0, le=10_000_000, description="the step the class opens at")


class PresentationMove(BaseModel):
    """The presenter's new step."""

    step: int = Field(ge=0, le=10_000_000, description="0-based step index within the run")


class PresentationState(BaseModel):
    session_id: str
    run_id: str
    step: int = Field(description="the presenter's current step")
    step_count: int
    updated_at: datetime
    follow_url: str = Field(description="the page a class opens (follows the presenter live)")
    events_url: str = Field(description="Server-Sent Events: one event per step change, id = step")
    step_url: str = Field(
        description=f"POST {{step}} here with {PRESENTER_KEY_HEADER} to move the class"
    )
    run_url: str = Field(description="the run page at the presenter's step")


class PresentationCreated(PresentationState):
    presenter_key: str = Field(
        description=f"send as {PRESENTER_KEY_HEADER} to move the step; shown once"
    )
    presenter_url: str = Field(description="the run page in presenter mode")


def _state(request: Request, urls: Urls, p: PresentationPublic, step_count: int) -> dict[str, Any]:
    return {
        "session_id": p.session_id,
        "run_id": p.run_id,
        "step": p.step,
        "step_count": step_count,
        "updated_at": p.updated_at,
        "follow_url": absolute(request, urls.present(p.session_id)),
        "events_url": urls.api_presentation_events(p.session_id),
        "step_url": urls.api_presentation_step(p.session_id),
        "run_url": urls.run_at(p.run_id, step=p.step),
    }


def _step_error(step: int, step_count: int) -> RequestValidationError:
    last = max(step_count - 1, 0)
    return RequestValidationError(
        [
            {
                "loc": ["body", "step"],
                "msg": f"step {step} is outside the run (0 to {last})",
                "type": "value_error",
            }
        ]
    )


def _check_step(step: int, step_count: int) -> None:
    # A run without stored steps still opens at step 0 (its page shows "no step recorded").
    if step > max(step_count - 1, 0):
        raise _step_error(step, step_count)


def _read(engine: Engine, session_id: str) -> PresentationPublic | None:
    # A session of its own per read: a stream must not hold a connection (or a SQLite read
    # transaction) open for minutes.
    with Session(engine) as session:
        return get_presentation(session, session_id)


SessionIdPath = Annotated[str, Path(max_length=64, description="the presenter session's id")]


def presentation_or_404(session_id: SessionIdPath, engine: EngineDep) -> PresentationPublic:
    found = _read(engine, session_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no presenter session with id {session_id!r}")
    return found


PresentationDep = Annotated[PresentationPublic, Depends(presentation_or_404)]


def presenters_presentation(
    request: Request,
    presentation: PresentationDep,
    session: SessionDep,
    presenter_key: Annotated[str | None, Header(alias=PRESENTER_KEY_HEADER, max_length=200)] = None,
) -> PresentationPublic:
    """The presentation, for its presenter only: the key it was created with, or 403."""
    if not presenter_key_matches(session, presentation.session_id, presenter_key):
        action = "ending" if request.method == "DELETE" else "moving"
        raise HTTPException(
            status_code=403, detail=f"{action} a presentation needs its {PRESENTER_KEY_HEADER}"
        )
    return presentation


PresenterDep = Annotated[PresentationPublic, Depends(presenters_presentation)]
PRESENTER_ONLY: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorResponse, "description": f"missing or wrong {PRESENTER_KEY_HEADER}"}
}


def _step_count(session: Session, run_id: str) -> int:
    run = get_run(session, run_id)
    return run.step_count if run is not None else 0


@router.post(
    paths.API_RUN_PRESENTATIONS_PATH,
    status_code=201,
    response_model=PresentationCreated,
)
def create_run_presentation(
    request: Request,
    run: RunDep,
    session: SessionDep,
    urls: UrlsDep,
    body: Annotated[PresentationCreate | None, Body()] = None,
) -> PresentationCreated:
    """Start presenting a run to a class: a follow link for the class, a key for the presenter."""
    step = (body or PresentationCreate()).step
    _check_step(step, run.step_count)
    created, key = create_presentation(session, run.id, step)
    state = _state(request, urls, created, run.step_count)
    return PresentationCreated.model_validate(
        {
            **state,
            "presenter_key": key,
            "presenter_url": urls.presenter(run.id, created.session_id, step),
        }
    )


@router.get(paths.API_PRESENTATION_PATH, response_model=PresentationState)
def read_presentation(
    request: Request, presentation: PresentationDep, session: SessionDep, urls: UrlsDep
) -> PresentationState:
    """The presenter's current step (what a class would see now)."""
    step_count = _step_count(session, presentation.run_id)
    return PresentationState.model_validate(_state(request, urls, presentation, step_count))


@router.post(
    paths.API_PRESENTATION_STEP_PATH, response_model=PresentationState, responses=PRESENTER_ONLY
)
def move_presentation_step(
    request: Request,
    presentation: PresenterDep,
    body: PresentationMove,
    session: SessionDep,
    urls: UrlsDep,
    broadcaster: BroadcasterDep,
) -> PresentationState:
    """Move the class to a step (only the presenter, who holds the key)."""
    step_count = _step_count(session, presentation.run_id)
    _check_step(body.step, step_count)
    moved = move_presentation(session, presentation.session_id, body.step)
    broadcaster.poke()
    if moved is None:  # deleted with its run meanwhile
        raise HTTPException(
            status_code=404, detail=f"no presenter session with id {presentation.session_id!r}"
        )
    return PresentationState.model_validate(_state(request, urls, moved, step_count))


class PresentationEnded(BaseModel):
    session_id: str
    run_id: str
    step: int = Field(description="the presenter's last step (where the class was left)")
    ended: bool = Field(default=True, description="always true: the session no longer exists")


@router.delete(
    paths.API_PRESENTATION_PATH, response_model=PresentationEnded, responses=PRESENTER_ONLY
)
def end_presentation_session(
    presentation: PresenterDep, session: SessionDep, broadcaster: BroadcasterDep
) -> PresentationEnded:
    """Stop presenting (only the presenter): the session is deleted and every follower's stream
    sends `event: ended` and closes; a reconnect is refused (404)."""
    end_presentation(session, presentation.session_id)
    broadcaster.poke()
    return PresentationEnded(
        session_id=presentation.session_id, run_id=presentation.run_id, step=presentation.step
    )


def _last_event_id(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@router.get(
    paths.API_PRESENTATION_EVENTS_PATH,
    response_class=EventSourceResponse,
    # Errors are JSON even here (the route's class would document them as event streams).
    responses={
        **NON_JSON_ERROR_RESPONSES,
        200: {
            "content": {
                "text/event-stream": {
                    "schema": {
                        "type": "string",
                        "description": 'events "id: STEP" and "data: {step, run_id, updated_at}"; '
                        '"event: ended" when the presenter stops; ": ping" comments',
                    }
                }
            }
        },
    },
)
async def read_presentation_events(
    presentation: PresentationDep,
    broadcaster: BroadcasterDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=32)] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Server-Sent Events: the presenter's step whenever it changes (id = step; data = state).

    The first event is the current step unless `Last-Event-ID` already names it. A stream ends
    after a few minutes and EventSource reconnects by itself; when the presenter stops (the
    session is gone) it sends `event: ended` and closes.
    """
    sent = _last_event_id(last_event_id)
    current: PresentationPublic | None = presentation
    deadline = anyio.current_time() + STREAM_SECONDS
    first = True
    while current is not None:
        if current.step != sent:
            sent = current.step
            yield ServerSentEvent(
                id=str(current.step),
                data={
                    "step": current.step,
                    "run_id": current.run_id,
                    "updated_at": current.updated_at,
                },
                retry=RECONNECT_MS if first else None,
            )
            first = False
        remaining = deadline - anyio.current_time()
        if remaining <= 0:
            return
        # One reader per process wakes every follower of a session (app.web.broadcast): a class
        # of hundreds costs one query per round, not one per follower.
        current = await broadcaster.wait_change(
            presentation.session_id, current, min(remaining, 15.0)
        )
    # The presenter stopped (or the run was deleted): tell the class, then close.
    yield ServerSentEvent(event="ended", data={"session_id": presentation.session_id})
