"""Error pages: a readable page for a browser, the same message as JSON for everyone else."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from .render import render, wants_json

TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Not allowed",
    413: "Too large",
    422: "Not understood",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Busy",
}


def not_found(request: Request, what: str, json_suffix: bool = False) -> Response:
    message = f"{what} was not found"
    return render(
        request,
        "error.html",
        {"title": "Not found", "message": message, "status": 404},
        twin={"detail": {"message": message}},
        json_suffix=json_suffix,
        status_code=404,
    )


def wants_page(request: Request) -> bool:
    """A browser asking for a page (not the API, not a JSON twin, not an htmx fragment)."""
    path = request.url.path
    if path.startswith(("/api/", "/static/", "/openapi")) or request.headers.get("hx-request"):
        return False
    return "text/html" in request.headers.get("accept", "") and not wants_json(request)


def error_page(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response | None:
    """The error page for a browser's page request, or None (the caller answers JSON)."""
    if not wants_page(request):
        return None
    response = render(
        request,
        "error.html",
        {"title": TITLES.get(status, f"Error {status}"), "message": message, "status": status},
        twin={"detail": message, "message": message},
        status_code=status,
    )
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response
