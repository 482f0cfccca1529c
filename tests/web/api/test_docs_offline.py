"""/docs works offline: Swagger UI comes from vendored, checksummed files."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from fastapi.testclient import TestClient

from app.settings import Settings
from app.web.app import create_app

SWAGGER = Path(__file__).resolve().parents[3] / "static" / "vendor" / "swagger-ui-5.35.0"


def test_swagger_files_match_their_checksums() -> None:
    lines = [
        line.split(maxsplit=1)
        for line in (SWAGGER / "SHA256SUMS").read_text().splitlines()
        if line.strip()
    ]
    assert {name for _, name in lines} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for digest, name in lines:
        assert hashlib.sha256((SWAGGER / name).read_bytes()).hexdigest() == digest, name


def test_docs_page_loads_nothing_from_the_network(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'docs.db'}"))
    with TestClient(app) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page.text)
        assert "/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js" in page.text
        assert (
            client.get("/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js").status_code == 200
        )
        assert client.get("/openapi.json").json()["info"]["title"] == "migscope"
    app.state.engine.dispose()
