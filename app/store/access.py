"""Who sees which run, and how long runs are kept: visibility, pinning, retention, leftovers.

- Visibility: `listed` runs are in the runs list; `unlisted` ones (imports by default) open
  only by their link (128 random bits).
- Retention: with `max_stored_bytes` set, the oldest unpinned runs are deleted until the
  runs' stored bytes fit again; a pinned run is never deleted.
- Leftovers: a writer killed between batches leaves an incomplete run nobody can see; they are
  deleted once older than INCOMPLETE_GRACE (a live writer is still adding batches before that).
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import Engine, delete, func, select, update
from sqlmodel import col

from .models import EventRow, Run, StepRow, utc_now
from .writes import write_lock

log = structlog.get_logger("migscope.store")

INCOMPLETE_GRACE = timedelta(hours=1)
# Runs deleted per transaction while pruning (keeps each write short).
PRUNE_BATCH = 20


def _delete_runs(engine: Engine, ids: list[str]) -> None:
    with write_lock(engine), engine.begin() as connection:
        for table in (EventRow, StepRow):
            connection.execute(delete(table).where(col(table.run_id).in_(ids)))
        connection.execute(delete(Run).where(col(Run.id).in_(ids)))


def delete_incomplete_runs(engine: Engine, grace: timedelta = INCOMPLETE_GRACE) -> int:
    """Delete runs whose writer never finished (older than `grace`); returns how many."""
    cutoff = utc_now() - grace
    with engine.connect() as connection:
        ids = list(
            connection.execute(
                select(col(Run.id)).where(
                    col(Run.complete).is_(False), col(Run.created_at) < cutoff
                )
            ).scalars()
        )
    if ids:
        _delete_runs(engine, ids)
        log.info("incomplete runs deleted", count=len(ids))
    return len(ids)


def stored_bytes_total(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(select(func.coalesce(func.sum(col(Run.stored_bytes)), 0))).scalar()
            or 0
        )


def prune(engine: Engine, max_stored_bytes: int) -> list[str]:
    """Delete the oldest unpinned runs until all runs fit `max_stored_bytes` (0: keep all)."""
    if max_stored_bytes <= 0:
        return []
    total = stored_bytes_total(engine)
    deleted: list[str] = []
    while total > max_stored_bytes:
        with engine.connect() as connection:
            oldest = connection.execute(
                select(col(Run.id), col(Run.stored_bytes))
                .where(col(Run.pinned).is_(False), col(Run.complete).is_(True))
                .order_by(col(Run.created_at), col(Run.id))
                .limit(PRUNE_BATCH)
            ).all()
        if not oldest:
            break  # only pinned runs are left: they stay
        batch: list[str] = []
        for run_id, size in oldest:
            if total <= max_stored_bytes:
                break
            batch.append(run_id)
            total -= int(size)
        _delete_runs(engine, batch)
        deleted += batch
    if deleted:
        log.info(
            "retention: oldest unpinned runs deleted",
            count=len(deleted),
            max_stored_bytes=max_stored_bytes,
        )
    return deleted


def set_pinned(engine: Engine, run_id: str, pinned: bool) -> bool:
    """Pin (retention keeps it) or unpin a run; False when there is no such run."""
    with write_lock(engine), engine.begin() as connection:
        changed = connection.execute(
            update(Run).where(col(Run.id) == run_id).values(pinned=pinned)
        ).rowcount
    return bool(changed)


def set_visibility(engine: Engine, run_id: str, visibility: str) -> bool:
    """List or unlist a run; False when there is no such run."""
    if visibility not in ("listed", "unlisted"):
        raise ValueError("visibility is listed or unlisted")
    with write_lock(engine), engine.begin() as connection:
        changed = connection.execute(
            update(Run).where(col(Run.id) == run_id).values(visibility=visibility)
        ).rowcount
    return bool(changed)
