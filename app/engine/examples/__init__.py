"""Example scenarios shipped with migscope (one JSON file each, also usable by name in
`POST /api/runs {"example": NAME}` and `migscope simulate --example NAME`)."""

from __future__ import annotations

import json
from copy import deepcopy
from pathlib import Path
from typing import Any

_DIR = Path(__file__).parent


def _load_all() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(_DIR.glob("*.json"))}


EXAMPLES: dict[str, dict[str, Any]] = _load_all()


def load_example(name: str) -> dict[str, Any]:
    """A fresh copy of the named example; KeyError lists the known names."""
    if name not in EXAMPLES:
        raise KeyError(f"unknown example {name!r}; known: {', '.join(EXAMPLES)}")
    return deepcopy(EXAMPLES[name])


def example_path(name: str) -> Path:
    return _DIR / f"{name}.json"
