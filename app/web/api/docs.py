"""The interactive API documentation at /docs, from vendored Swagger UI (works offline).

The page has no inline script (the Content-Security-Policy allows scripts from this site
only): Swagger UI is started by /docs/init.js, served here too.
"""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from ..deps import UrlsDep
from ..urls import DOCS_PATH

SWAGGER_UI_DIR = "vendor/swagger-ui-5.35.0"
DOCS_INIT_PATH = f"{DOCS_PATH}/init.js"

router = APIRouter()


@router.get(DOCS_PATH, include_in_schema=False)
def read_docs(urls: UrlsDep) -> HTMLResponse:
    """Swagger UI for the OpenAPI schema."""
    css = urls.static(f"{SWAGGER_UI_DIR}/swagger-ui.css")
    icon = urls.static(f"{SWAGGER_UI_DIR}/favicon-32x32.png")
    bundle = urls.static(f"{SWAGGER_UI_DIR}/swagger-ui-bundle.js")
    init = f"{urls.prefix}{DOCS_INIT_PATH}"
    return HTMLResponse(f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>migscope API</title>
<link type="text/css" rel="stylesheet" href="{css}">
<link rel="shortcut icon" href="{icon}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{bundle}"></script>
<script src="{init}"></script>
</body>
</html>
""")


@router.get(DOCS_INIT_PATH, include_in_schema=False)
def read_docs_init(urls: UrlsDep) -> Response:
    """Starts Swagger UI on the OpenAPI schema (what FastAPI's page does inline)."""
    script = f"""window.ui = SwaggerUIBundle({{
  url: {json.dumps(urls.openapi())},
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]
}});
"""
    return Response(script, media_type="text/javascript", headers={"Cache-Control": "no-cache"})
