"""Where the templates and static files are (the top-level `templates/` and `static/` folders)."""

from __future__ import annotations

from app.settings import REPO_ROOT

TEMPLATES_DIR = REPO_ROOT / "templates"
STATIC_DIR = REPO_ROOT / "static"
