"""The app factory: `create_app(settings)` builds a FastAPI app on the settings' database.

The app keeps no state between requests that the database does not hold (the engine pool
only), so several uvicorn workers or hosts can serve one PostgreSQL database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from app.settings import Settings
from app.store.access import delete_incomplete_runs
from app.store.db import make_engine
from app.store.migrate import upgrade

from .api import branch, compare, docs, exports, imports, meta, presentations, runs, series, sweeps
from .api.errors import BodySizeLimit, install_error_handlers
from .api.models import ERROR_RESPONSES
from .api.request_id import RequestId
from .assets import STATIC_DIR, CachedStatic
from .broadcast import StepBroadcaster
from .pages import about, evidence, new, present, run, sweep
from .pages import compare as compare_page
from .pages import runs as runs_page
from .security import (
    Access,
    CreationRateLimit,
    RejectControlCharacters,
    SameOrigin,
    SecurityHeaders,
    TrustedHosts,
    auth_enabled,
)
from .sweep_pool import SweepPool
from .urls import STATIC_PATH
from .workers import get_pool


def api_routers() -> list[APIRouter]:
    """JSON API routers (all under /api, in the OpenAPI schema)."""
    return [
        runs.router,
        series.router,
        exports.router,
        compare.router,
        branch.router,
        meta.router,
        presentations.router,
        imports.router,
        sweeps.router,
    ]


def page_routers() -> list[APIRouter]:
    """HTML pages (each with a JSON twin) and the offline API documentation."""
    return [
        new.router,
        runs_page.router,
        compare_page.router,
        run.router,
        present.router,
        about.router,
        evidence.router,
        sweep.router,
        docs.router,
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    if settings.migrate_on_start:
        # Start-up brings any older database to the current schema (no separate set-up step).
        upgrade(engine)

    # Sweeps run in worker processes fed by threads of their own, never the request pool.
    sweep_pool = SweepPool(engine, settings)

    # Runs a killed writer left half-written are invisible; drop them once surely abandoned.
    if settings.migrate_on_start:
        delete_incomplete_runs(engine)
    # One reader of presenter steps per process, however many followers (app.web.broadcast).
    broadcaster = StepBroadcaster(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        sweep_pool.open()  # resumes unfinished sweeps
        yield
        broadcaster.close()
        sweep_pool.close()
        # Not left to interpreter exit: stopped workers must not outlive the server.
        get_pool(settings).shutdown(wait=True)
        engine.dispose()

    app = FastAPI(
        title="migscope",
        summary="QEMU live migration with VFIO devices and switchover-ack, step by step",
        description="Stored runs are immutable; every answer is JSON. Limits: GET /api/limits.",
        version=_version(),
        lifespan=lifespan,
        # Every route can answer these (the handlers and the body limit are app-wide).
        responses=ERROR_RESPONSES,
        # /docs is served below from vendored Swagger UI files (FastAPI's default loads them
        # from a CDN, which does not work offline); ReDoc has no offline build here.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sweeps = sweep_pool
    app.state.broadcaster = broadcaster
    install_error_handlers(app)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_request_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    # Exports of long runs are tens of MB of JSON or CSV; they compress ~10x. Streams stay
    # unbuffered (the progress stream is NDJSON, live steps may be SSE).
    app.add_middleware(
        GZipMiddleware,
        minimum_size=1024,
        compresslevel=6,
        exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/x-ndjson"),
    )
    # Web hygiene (app.web.security), innermost first: creations per client, same-origin
    # state changes, the login, control characters, trusted Host names, then the headers
    # every answer carries (including the refusals above).
    if settings.creation_rate_per_minute > 0:
        app.add_middleware(CreationRateLimit, per_minute=settings.creation_rate_per_minute)
    app.add_middleware(SameOrigin, public_base_url=settings.public_base_url)
    if auth_enabled(settings.auth):
        app.add_middleware(Access, auth=settings.auth)
    app.add_middleware(RejectControlCharacters)
    app.add_middleware(
        TrustedHosts, hosts=settings.trusted_hosts, public_base_url=settings.public_base_url
    )
    app.add_middleware(SecurityHeaders)
    # Added last, so outermost: even a 413 or a 500 carries the request id.
    app.add_middleware(RequestId)
    for router in api_routers() + page_routers():
        app.include_router(router)
    if STATIC_DIR.is_dir():
        app.mount(STATIC_PATH, CachedStatic(directory=STATIC_DIR), name="static")
    return app


def _version() -> str:
    from app import __version__

    return str(__version__)
