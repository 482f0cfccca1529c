"""The schemathesis requests are the same in every run: the suite's derandomized Hypothesis
profile reaches schemathesis' strategies too, whatever the process's hash seed. Otherwise the
contract tests would send different requests each run, and a failure could come and go."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _digest_of_generated_requests(database: Path, hash_seed: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "tests.web.api.test_schemathesis_determinism", str(database)],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": hash_seed, "MIGSCOPE_HYPOTHESIS": "suite"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    count, digest = result.stdout.split()
    assert int(count) > 100  # every operation drew its requests
    return digest


def test_generated_requests_are_the_same_in_two_processes(tmp_path: Path) -> None:
    first = _digest_of_generated_requests(tmp_path / "a.db", "1")
    second = _digest_of_generated_requests(tmp_path / "b.db", "2")
    assert first == second


def _main(database: str) -> None:
    import tests.conftest  # noqa: F401  (loads the suite's Hypothesis profile)
    from app.settings import Settings
    from app.web.app import create_app
    from tests.web.api.test_schemathesis import _operations, draw_cases

    app = create_app(Settings(database_url=f"sqlite:///{database}"))
    drawn: list[str] = []
    for method, path in _operations():

        def record(case: object, method: str = method, path: str = path) -> None:
            parts = (
                method,
                path,
                *(getattr(case, k) for k in ("path_parameters", "query", "body", "headers")),
            )
            # Object addresses (schemathesis' NotSet marker) differ between processes.
            drawn.append(re.sub(r" at 0x[0-9a-f]+", "", repr(parts)))

        draw_cases(app, method, path, record)
    print(len(drawn), hashlib.sha256("\n".join(drawn).encode()).hexdigest())


if __name__ == "__main__":
    _main(sys.argv[1])
