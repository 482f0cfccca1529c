"""What every dashboard page shares: templates, the JSON twin, HTMX fragments, formatting."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from jinja2_fragments.fastapi import Jinja2Blocks
from sqlmodel import Session

from app.engine.units import format_bytes, format_ms, format_rate

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"

templates = Jinja2Blocks(directory=str(TEMPLATES_DIR))
templates.env.globals["fmt"] = {"bytes": format_bytes, "ms": format_ms, "rate": format_rate}


def _version() -> str:
    from app import __version__

    return str(__version__)


templates.env.globals["version"] = _version()


def urls_for(request: Request) -> Any:
    from app.web.urls import Urls

    return Urls(request.scope.get("root_path", ""))


def absolute(request: Request, path: str) -> str:
    """A full URL for sharing (scheme and host of this request)."""
    return f"{request.url.scheme}://{request.url.netloc}{path}"


def wants_json(request: Request, suffix: bool = False) -> bool:
    """A JSON twin is asked for with the `.json` suffix or `Accept: application/json`."""
    if suffix or request.url.path.endswith(".json"):
        return True
    accept = request.headers.get("accept", "")
    if "application/json" not in accept:
        return False
    html_at = accept.find("text/html")
    return html_at < 0 or accept.find("application/json") < html_at


def strip_json(value: str) -> tuple[str, bool]:
    return (value[:-5], True) if value.endswith(".json") else (value, False)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    twin: Any,
    fragments: Mapping[str, str] | None = None,
    json_suffix: bool = False,
    status_code: int = 200,
) -> Response:
    """The page, its JSON twin, or (for an HTMX request) the block its HX-Target names."""
    headers = {"Vary": "HX-Request, HX-Target, Accept"}
    if wants_json(request, json_suffix):
        return JSONResponse(twin, status_code=status_code, headers=headers)
    ctx = dict(context)
    ctx.setdefault("urls", urls_for(request))
    ctx.setdefault("json_url", None)
    if request.headers.get("hx-request") and fragments:
        block = fragments.get(request.headers.get("hx-target", ""))
        if block is not None:
            return templates.TemplateResponse(
                request, template, ctx, block_name=block, status_code=status_code, headers=headers
            )
    return templates.TemplateResponse(request, template, ctx, status_code=status_code, headers=headers)


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


@contextmanager
def db_session(request: Request) -> Iterator[Session]:
    """A session on the app's database (the engine the API side keeps on app.state)."""
    engine = request.app.state.engine
    with Session(engine) as session:
        yield session
