"""The error page: a readable 404 for a page (its JSON twin says the same)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from .render import render


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
