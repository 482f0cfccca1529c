"""Packaging hook: the wheel carries the top-level templates/ and static/ folders.

The project keeps them at the top level (the layout fixes it); a non-editable install has no
repository beside it, so build_py copies both into the package as app/web/bundled/. At run
time app/web/assets.py uses the repository's folders when they are there (a checkout or an
editable install) and the bundled copies otherwise. Everything else is in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
ASSET_FOLDERS = ("templates", "static")


class BuildPyWithAssets(build_py):
    def run(self) -> None:
        super().run()
        for name in ASSET_FOLDERS:
            self.copy_tree(
                str(ROOT / name), str(Path(self.build_lib) / "app" / "web" / "bundled" / name)
            )


setup(cmdclass={"build_py": BuildPyWithAssets})
