"""FastAPI dependencies: settings, engine, a session per request, URLs, a run or 404."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, Response
from sqlalchemy import Engine
from sqlmodel import Session

from app.settings import Settings
from app.store.models import Run
from app.store.runs import get_run

from .broadcast import StepBroadcaster
from .urls import Urls


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


def get_broadcaster(request: Request) -> StepBroadcaster:
    broadcaster: StepBroadcaster = request.app.state.broadcaster
    return broadcaster


def get_urls(request: Request) -> Urls:
    return Urls(request.scope.get("root_path", ""))


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
UrlsDep = Annotated[Urls, Depends(get_urls)]
BroadcasterDep = Annotated[StepBroadcaster, Depends(get_broadcaster)]


def run_or_404(
    run_id: Annotated[str, Path(description="the run's id (22 URL-safe characters)")],
    session: SessionDep,
) -> Run:
    run = get_run(session, run_id)
    if run is None:
        raise HTTPException(status_code=404, detail=f"no run with id {run_id!r}")
    return run


RunDep = Annotated[Run, Depends(run_or_404)]

# A stored run never changes, so what is read from it may be cached (a day: the JSON around
# the stored data can still change between app versions).
STORED_RUN_CACHE_CONTROL = "public, max-age=86400"


def cache_stored_run(response: Response) -> None:
    """Mark a successful answer about stored runs as cacheable (errors are built fresh)."""
    response.headers["Cache-Control"] = STORED_RUN_CACHE_CONTROL


CacheStoredRun = Depends(cache_stored_run)
