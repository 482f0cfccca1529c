"""The vendored browser libraries are the files their checksums name, and pages use them."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "static" / "vendor"
TEMPLATES = ROOT / "templates"


def _sums() -> dict[str, str]:
    sums = {}
    for line in (VENDOR / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.strip().lstrip("*")] = digest
    return sums


def test_every_vendored_file_matches_its_checksum() -> None:
    sums = _sums()
    assert sums, "SHA256SUMS is empty"
    for name, digest in sums.items():
        data = (VENDOR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, f"{name} does not match SHA256SUMS"


def test_every_vendored_script_is_listed_and_versioned() -> None:
    sums = _sums()
    for path in VENDOR.glob("*.js"):
        assert path.name in sums, f"{path.name} is missing from SHA256SUMS"
        assert re.search(r"-\d+\.\d+\.\d+", path.name), f"{path.name} has no version in its name"


def test_htmx_is_a_2x_release() -> None:
    names = [p.name for p in VENDOR.glob("htmx-*.js")]
    assert names and all(n.startswith("htmx-2.") for n in names)
    text = (VENDOR / names[0]).read_text()
    assert "htmx" in text


def test_plotly_bundle_version_matches_its_name() -> None:
    (path,) = VENDOR.glob("plotly-*.min.js")
    version = re.search(r"-(\d+\.\d+\.\d+)\.min\.js$", path.name).group(1)  # type: ignore[union-attr]
    assert f"v{version}" in path.read_text()[:400]


def test_no_template_or_script_loads_from_a_cdn() -> None:
    pattern = re.compile(r"""(src|href)\s*=\s*["']?(https?:)?//""", re.IGNORECASE)
    for path in [*TEMPLATES.rglob("*.html"), *(ROOT / "static").glob("*.js")]:
        if path.exists():
            assert not pattern.search(path.read_text()), f"{path} loads something from the network"


def test_base_template_uses_the_vendored_files() -> None:
    base = (TEMPLATES / "base.html").read_text()
    for name in _sums():
        if name.endswith(".js"):
            assert name in base, f"base.html does not load {name}"
