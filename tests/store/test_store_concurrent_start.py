"""Several processes starting at once on a fresh database all migrate it without errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.store.db import make_engine
from app.store.migrate import current_revision, head_revision

REPO = Path(__file__).resolve().parents[2]
STARTER = "from app.store.db import make_engine; from app.store.migrate import upgrade; import sys; upgrade(make_engine(sys.argv[1]))"


def test_simultaneous_start_ups_migrate_once(db_url: str) -> None:
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER, db_url], cwd=REPO, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    for starter in starters:
        _, err = starter.communicate(timeout=120)
        assert starter.returncode == 0, err
    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()
