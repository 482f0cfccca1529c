"""The layer contracts in pyproject.toml ([tool.importlinter]) catch a wrong import.

`make check` runs `lint-imports` on the real tree; here a copy of `app/` gets one forbidden
import and the same command must fail, naming the contract and the import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_copy(tmp_path: Path, module: str, wrong_import: str) -> subprocess.CompletedProcess[str]:
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "app" / module
    target.write_text(target.read_text() + f"\n{wrong_import}\n")
    # The copy comes first on the path, so `app` is the broken copy, not the installed tree.
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("module", "wrong_import", "contract"),
    [
        ("engine/units.py", "import app.store.runs", "The engine is pure"),
        ("engine/units.py", "import sqlalchemy", "The engine is pure"),
        ("store/models.py", "import app.web.urls", "Layers: web above importers above store"),
        ("importers/errors.py", "import app.web.urls", "Layers: web above importers above store"),
        ("web/pages/errors.py", "import app.web.api.models", "Pages never import the JSON API"),
    ],
)
def test_a_wrong_import_breaks_its_contract(
    tmp_path: Path, module: str, wrong_import: str, contract: str
) -> None:
    result = _lint_copy(tmp_path, module, wrong_import)
    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout
    importer = "app." + module.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> {wrong_import.removeprefix('import ')}" in broken, result.stdout
