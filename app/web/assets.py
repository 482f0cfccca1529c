"""Where the templates and static files are.

They live in the repository's top-level `templates/` and `static/` folders; a wheel carries
copies in `app/web/bundled/` (setup.py puts them there), which a non-editable install uses.
"""

from __future__ import annotations

from pathlib import Path

from app.settings import REPO_ROOT

BUNDLED = Path(__file__).resolve().parent / "bundled"


def asset_dir(name: str) -> Path:
    """The repository's folder `name` when there is one, else the copy inside the package."""
    in_repository = REPO_ROOT / name
    return in_repository if in_repository.is_dir() else BUNDLED / name


TEMPLATES_DIR = asset_dir("templates")
STATIC_DIR = asset_dir("static")
