"""`/present/{session_id}`: the run page in follow mode, for a class watching a presenter.

The page is the run page itself (pages/run.py renders it) at the presenter's current step;
templates/_present.html adds the follow banner, static/present.js follows the event stream.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.store.presentations import get_presentation

from ..deps import SessionDep, UrlsDep
from ..urls import PRESENT_PAGE_PATH, absolute
from .errors import not_found
from .run import run_page

router = APIRouter(include_in_schema=False)


@router.get(PRESENT_PAGE_PATH)
def read_present_page(
    request: Request, session: SessionDep, urls: UrlsDep, session_id: str
) -> Response:
    """Follow a presenter: the run at the presenter's step, moving when the presenter moves."""
    presentation = get_presentation(session, session_id)
    if presentation is None:
        return not_found(request, f"presenter session {session_id}")
    following = {
        "session_id": presentation.session_id,
        "step": presentation.step,
        "events_url": urls.api_presentation_events(presentation.session_id),
        "state_url": urls.api_presentation(presentation.session_id),
        "follow_url": absolute(request, urls.present(presentation.session_id)),
    }
    return run_page(
        request, session, urls, presentation.run_id, presentation.step, presentation=following
    )
