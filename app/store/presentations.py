"""Presenter sessions: create one for a run, read it, move its step, end it (revision 0003)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, cast

from sqlalchemy import CursorResult, delete, text, update
from sqlmodel import Session, col, select

from .models import Presentation, PresentationPublic, utc_now
from .writes import write_lock

NOTIFY_CHANNEL = "migscope_presentations"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_presentation(session: Session, run_id: str, step: int) -> tuple[PresentationPublic, str]:
    """A new session at `step`; returns it and the presenter key (shown once, stored hashed)."""
    key = secrets.token_urlsafe(32)
    row = Presentation(
        session_id=secrets.token_urlsafe(16),
        run_id=run_id,
        step=step,
        presenter_key_sha256=_digest(key),
    )
    with write_lock(session.get_bind()):
        session.add(row)
        session.commit()
    session.refresh(row)
    return PresentationPublic.model_validate(row), key


def _row(session: Session, session_id: str) -> Presentation | None:
    return session.get(Presentation, session_id)


def get_presentation(session: Session, session_id: str) -> PresentationPublic | None:
    row = _row(session, session_id)
    return PresentationPublic.model_validate(row) if row is not None else None


def get_presentations(session: Session, session_ids: list[str]) -> dict[str, PresentationPublic]:
    """The sessions among `session_ids` that exist, by id (one query for many followers)."""
    rows = session.exec(
        select(Presentation).where(col(Presentation.session_id).in_(session_ids))
    ).all()
    return {row.session_id: PresentationPublic.model_validate(row) for row in rows}


def presenter_key_matches(session: Session, session_id: str, key: str | None) -> bool:
    row = _row(session, session_id)
    if row is None or not key:
        return False
    return hmac.compare_digest(row.presenter_key_sha256, _digest(key))


def _announce(session: Session, session_id: str) -> None:
    """On PostgreSQL, NOTIFY_CHANNEL carries the session's id (delivered at commit) so every
    worker's broadcaster (app.web.broadcast) wakes that session's followers at once; on
    SQLite the broadcasters poll."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:channel, :session_id)"),
            {"channel": NOTIFY_CHANNEL, "session_id": session_id},
        )


def move_presentation(session: Session, session_id: str, step: int) -> PresentationPublic | None:
    """Set the presenter's step (one UPDATE: the last writer wins, as the presenter's last key).

    On PostgreSQL the change is announced on NOTIFY_CHANNEL (delivered at commit), so every
    worker's broadcaster (app.web.broadcast) wakes its followers at once."""
    bind = session.get_bind()
    with write_lock(bind):
        session.execute(
            update(Presentation)
            .where(col(Presentation.session_id) == session_id)
            .values(step=step, updated_at=utc_now())
        )
        _announce(session, session_id)
        session.commit()
    session.expire_all()
    return get_presentation(session, session_id)


def end_presentation(session: Session, session_id: str) -> bool:
    """The presenter stopped: delete the session (its followers' streams send `ended`).

    Deleted rather than flagged: a stream reconnecting later is refused (404), which the
    browser also reads as "the presenter stopped". False if there was no such session."""
    bind = session.get_bind()
    with write_lock(bind):
        result = cast(
            "CursorResult[Any]",
            session.execute(delete(Presentation).where(col(Presentation.session_id) == session_id)),
        )
        _announce(session, session_id)
        session.commit()
    session.expire_all()
    return bool(result.rowcount)
