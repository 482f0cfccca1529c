"""Where the templates and static files are, and how static files are cached.

They live in the repository's top-level `templates/` and `static/` folders; a wheel carries
copies in `app/web/bundled/` (setup.py puts them there), which a non-editable install uses.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app.settings import REPO_ROOT

BUNDLED = Path(__file__).resolve().parent / "bundled"


def asset_dir(name: str) -> Path:
    """The repository's folder `name` when there is one, else the copy inside the package."""
    in_repository = REPO_ROOT / name
    return in_repository if in_repository.is_dir() else BUNDLED / name


TEMPLATES_DIR = asset_dir("templates")
STATIC_DIR = asset_dir("static")
# Vendored files carry their version in their name (plotly-cartesian-4.1.1.min.js): a new
# version is a new URL, so browsers may keep them for a year. Our own files revalidate.
VENDOR_CACHE_CONTROL = "public, max-age=31536000, immutable"
OWN_CACHE_CONTROL = "no-cache"


class CachedStatic(StaticFiles):
    """StaticFiles with Cache-Control: a year for vendor/, revalidation (ETag) for the rest."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            vendored = path.replace("\\", "/").startswith("vendor/")
            response.headers["Cache-Control"] = (
                VENDOR_CACHE_CONTROL if vendored else OWN_CACHE_CONTROL
            )
        return response
