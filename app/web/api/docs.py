"""The interactive API documentation at /docs, from vendored Swagger UI (works offline)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from ..deps import UrlsDep
from ..urls import DOCS_PATH

SWAGGER_UI_DIR = "vendor/swagger-ui-5.35.0"

router = APIRouter()


@router.get(DOCS_PATH, include_in_schema=False)
def read_docs(urls: UrlsDep) -> HTMLResponse:
    """Swagger UI for the OpenAPI schema."""
    return get_swagger_ui_html(
        openapi_url=urls.openapi(),
        title="migscope API",
        swagger_js_url=urls.static(f"{SWAGGER_UI_DIR}/swagger-ui-bundle.js"),
        swagger_css_url=urls.static(f"{SWAGGER_UI_DIR}/swagger-ui.css"),
        swagger_favicon_url=urls.static(f"{SWAGGER_UI_DIR}/favicon-32x32.png"),
    )
