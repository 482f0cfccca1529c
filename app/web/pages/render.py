"""What every dashboard page shares: templates, the JSON twin, HTMX fragments, formatting."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from jinja2_fragments.fastapi import Jinja2Blocks

from app.engine.units import format_bytes, format_ms, format_rate

from ..assets import TEMPLATES_DIR
from ..deps import get_urls

templates = Jinja2Blocks(directory=str(TEMPLATES_DIR))
templates.env.globals["fmt"] = {"bytes": format_bytes, "ms": format_ms, "rate": format_rate}


def _version() -> str:
    from app import __version__

    return str(__version__)


templates.env.globals["version"] = _version()


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
    ctx.setdefault("urls", get_urls(request))
    ctx.setdefault("json_url", None)
    if request.headers.get("hx-request") and fragments:
        block = fragments.get(request.headers.get("hx-target", ""))
        if block is not None:
            return templates.TemplateResponse(
                request, template, ctx, block_name=block, status_code=status_code, headers=headers
            )
    return templates.TemplateResponse(
        request, template, ctx, status_code=status_code, headers=headers
    )
