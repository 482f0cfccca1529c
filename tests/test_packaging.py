"""A non-editable install serves every page: the wheel carries templates/ and static/.

The wheel is built from a copy of the sources (no build/ left in the work tree), without build
isolation (setuptools and wheel are test dependencies: nothing is downloaded), then unpacked
and imported in a fresh process from a folder with no repository beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("app", "templates", "static", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md")
PAGES = ("/", "/new", "/runs", "/about", "/compare", "/docs", "/api/limits", "/static/app.css")

SERVE_PAGES = """
import json, sys
from fastapi.testclient import TestClient
import app
from app.settings import Settings
from app.web.app import create_app
from app.web.assets import STATIC_DIR, TEMPLATES_DIR
client = TestClient(create_app(Settings(database_url=sys.argv[1])))
print(json.dumps({
    "app": app.__file__, "templates": str(TEMPLATES_DIR), "static": str(STATIC_DIR),
    "status": {path: client.get(path).status_code for path in sys.argv[2:]},
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(
                path, source / name, ignore=shutil.ignore_patterns("__pycache__", "bundled")
            )
        else:
            shutil.copy(path, source / name)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(source),
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(dist),
        ],
        check=True,
        timeout=300,
    )
    [built] = dist.glob("migscope-*.whl")
    return built


def _files(folder: str) -> set[str]:
    base = ROOT / folder
    return {
        p.relative_to(base).as_posix()
        for p in base.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_the_wheel_carries_every_template_and_static_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("templates", "static"):
        expected = _files(folder)
        assert expected, folder
        prefix = f"app/web/bundled/{folder}/"
        carried = {name.removeprefix(prefix) for name in names if name.startswith(prefix)}
        assert carried == expected, f"{folder}: missing {sorted(expected - carried)[:5]}"
    assert "app/web/app.py" in names and "app/store/migrations/env.py" in names


def test_an_unpacked_wheel_serves_every_page(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "run"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    database = f"sqlite:///{tmp_path / 'migscope.db'}"
    result = subprocess.run(
        [sys.executable, "-c", SERVE_PAGES, database, *PAGES],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    # The installed copy was used, with its bundled folders (no repository beside it).
    assert served["app"].startswith(str(site)), served
    assert served["templates"] == str(site / "app" / "web" / "bundled" / "templates")
    assert served["static"] == str(site / "app" / "web" / "bundled" / "static")
    assert served["status"] == dict.fromkeys(PAGES, 200)
