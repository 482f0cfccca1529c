"""`/present/{session_id}`: the run page in follow mode, for a class watching a presenter.

The page is the run page itself (pages_run renders it) at the presenter's current step;
templates/_present.html adds the follow banner, static/present.js follows the event stream.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.store.presentations import get_presentation
from app.web.pages_common import absolute, db_session, not_found, urls_for
from app.web.pages_run import read_run_page
from app.web.urls import PRESENT_PAGE_PATH

router = APIRouter(include_in_schema=False)


@router.get(PRESENT_PAGE_PATH)
def read_present_page(request: Request, session_id: str) -> Response:
    """Follow a presenter: the run at the presenter's step, moving when the presenter moves."""
    with db_session(request) as session:
        presentation = get_presentation(session, session_id)
    if presentation is None:
        return not_found(request, f"presenter session {session_id}")
    urls = urls_for(request)
    # The run page's template reads this to render the follow banner instead of the
    # "Present to a class" button (request.state is per request: nothing outlives it).
    request.state.presentation = {
        "session_id": presentation.session_id,
        "step": presentation.step,
        "events_url": urls.api_presentation_events(presentation.session_id),
        "state_url": urls.api_presentation(presentation.session_id),
        "follow_url": absolute(request, urls.present(presentation.session_id)),
    }
    return read_run_page(request, presentation.run_id, step=presentation.step)
