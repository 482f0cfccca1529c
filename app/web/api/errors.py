"""JSON errors for every failure: 404, 413, 422 with field paths, and a 500 that hides details.

No stack trace, SQL or exception text ever reaches a client; the server log has them under an
error id that the client sees.
"""

from __future__ import annotations

import json
import secrets
import traceback
from typing import Any

import structlog
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..pages.errors import error_page
from ..validation import validation_items

log = structlog.get_logger("migscope.web")


def validation_response(items: list[dict[str, Any]]) -> JSONResponse:
    def where(loc: list[str | int]) -> str:
        path = loc[1:] if loc and loc[0] in ("body", "query", "path") else loc
        return ".".join(str(p) for p in path) or (str(loc[0]) if loc else "request")

    shown = "; ".join(f"{where(item['loc'])}: {item['msg']}" for item in items[:5])
    more = f" (and {len(items) - 5} more)" if len(items) > 5 else ""
    return JSONResponse(status_code=422, content={"detail": items, "message": shown + more})


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"detail": message, "message": message}, headers=headers
    )


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    # Items built by validation_items are already clean; FastAPI's own need cleaning.
    response = validation_response(validation_items(errors))
    page = error_page(
        request, 422, json.loads(bytes(response.body))["message"]
    )  # a browser gets a page
    return page or response


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404 and message == "Not Found":
        message = "no such page or API endpoint"
    headers = dict(exc.headers or {})
    page = error_page(request, exc.status_code, message, headers)  # a browser gets a page
    return page or error_response(exc.status_code, message, headers)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    error_id = secrets.token_hex(6)
    # A plain formatted traceback: structlog's default rich renderer would dump every local
    # (request bodies, trace data) and take seconds on a large failure.
    log.error(
        "unhandled error",
        error_id=error_id,
        path=request.url.path,
        exception="".join(traceback.format_exception(exc, limit=-12)),
    )
    return error_response(
        500, f"internal error; the server log has the details under id {error_id}"
    )


async def _on_busy(request: Request, exc: Exception) -> JSONResponse:
    """Too much work queued, or the database's write lock stayed taken: come back later (the
    request did nothing), never a 500."""
    from ..workers import RETRY_AFTER_S

    retry = getattr(exc, "retry_after_s", RETRY_AFTER_S)
    log.warning("busy", path=request.url.path, reason=str(exc))
    message = (
        str(exc)
        if not isinstance(exc, OperationalError | PoolTimeout)
        else "the database is busy; try again shortly"
    )
    return error_response(503, message, headers={"Retry-After": str(retry)})


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OperationalError)
    if "locked" in str(exc.orig).lower() or "busy" in str(exc.orig).lower():
        return await _on_busy(request, exc)
    return await _on_unexpected(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    from app.store.writes import StoreBusy

    from ..workers import PoolBusy

    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(PoolBusy, _on_busy)
    app.add_exception_handler(StoreBusy, _on_busy)
    app.add_exception_handler(OperationalError, _on_database_error)
    # No database connection free within the pool's timeout: busy, not broken.
    app.add_exception_handler(PoolTimeout, _on_busy)
    app.add_exception_handler(Exception, _on_unexpected)


class BodySizeLimit:
    """413 for bodies above the limit: by Content-Length up front, or while a chunked body streams.

    JSON bodies get `max_bytes`; file uploads (multipart/form-data) get `max_upload_bytes`,
    and the importer checks each file against its own, smaller limits.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        upload = headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data")
        limit = self.max_upload_bytes if upload else self.max_bytes
        too_large = f"request body too large: at most {limit} bytes are accepted"
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await error_response(400, "invalid Content-Length header")(scope, receive, send)
                return
            if length > limit:
                await error_response(413, too_large)(scope, receive, send)
                return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # fastapi.HTTPException passes through FastAPI's body reading untouched.
                    raise HTTPException(status_code=413, detail=too_large)
            return message

        await self.app(scope, counting_receive, send)
