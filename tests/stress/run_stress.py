"""`make stress`: locust against a real `migscope serve` on loopback, on SQLite and PostgreSQL.

For each database: 50 creators of mixed runs and comparisons, 200 readers of pages and the API,
200 followers of a presenter session (and one presenter moving it) for --seconds (60). Then:
errors (any non-2xx, any exception), p50/p99 of page reads, the server's memory (web process
and worker processes) before and after, and whether every 201 can be read back.

    python -m tests.stress.run_stress --db sqlite --db postgres [--seconds 60]

PostgreSQL needs MIGSCOPE_TEST_POSTGRES_URL (an admin URL; `make stress` starts a throw-away
server as `make test` does). Loopback only; each run is bounded by --seconds plus set-up.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.security.live import ROOT, served_process

MIX = {"creators": 50, "readers": 200, "followers": 200}
PAGE_NAMES = ("page /runs/ID", "page /runs", "page /new")
MiB = 1024**2


def _cpu_s(pid: int) -> float:
    """CPU seconds the web process has used (user + system): what the load cost the server."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _rss(pid: int) -> dict[str, float]:
    web = psutil.Process(pid)
    children = web.children(recursive=True)
    total = web.memory_info().rss + sum(
        child.memory_info().rss for child in children if child.is_running()
    )
    return {
        "web_mib": round(web.memory_info().rss / MiB, 1),
        "total_mib": round(total / MiB, 1),
        "processes": 1 + len(children),
    }


def _database(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'stress.db'}"
    admin_url = os.environ.get("MIGSCOPE_TEST_POSTGRES_URL")
    if not admin_url:
        raise SystemExit(
            "stress on postgres needs MIGSCOPE_TEST_POSTGRES_URL (make stress starts a server)"
        )
    name = f"migscope_stress_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _stats(prefix: Path) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    with open(f"{prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            rows[row["Name"]] = row
    return rows


def run_one(
    kind: str, seconds: int, workdir: Path, mix: dict[str, int] | None = None
) -> dict[str, Any]:
    mix = mix or MIX
    users = sum(mix.values()) + 1  # and the presenter
    url = _database(kind, workdir)
    created_path = workdir / f"created-{kind}.txt"
    created_path.write_text("")
    settings = {"max_queued_jobs": "64", "max_concurrent_runs": "2"}
    with served_process(url, workdir / f"server-{kind}.log", **settings) as server:
        seed = httpx.post(
            f"{server.base}/api/runs", json={"example": "mlx5-300mb-ack"}, timeout=120
        ).json()
        session = httpx.post(
            f"{server.base}/api/runs/{seed['id']}/presentations", timeout=30
        ).json()
        for path in ("/runs", f"/runs/{seed['id']}", "/new"):  # warm the page caches and templates
            httpx.get(server.base + path, timeout=30)
        before = _rss(server.pid)
        cpu_before = _cpu_s(server.pid)
        prefix = workdir / f"locust-{kind}"
        env = {
            **os.environ,
            "MIGSCOPE_STRESS_CREATED": str(created_path),
            "MIGSCOPE_STRESS_RUN": seed["id"],
            "MIGSCOPE_STRESS_SESSION": session["session_id"],
            "MIGSCOPE_STRESS_KEY": session["presenter_key"],
            "MIGSCOPE_STRESS_STEPS": str(seed["step_count"]),
            **{f"MIGSCOPE_STRESS_{name.upper()}": str(count) for name, count in mix.items()},
        }
        started = time.monotonic()
        locust = subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(ROOT / "tests" / "stress" / "locustfile.py"),
                "--headless",
                "-u",
                str(users),
                "-r",
                "100",
                "-t",
                f"{seconds}s",
                "--stop-timeout",
                "30",
                "--host",
                server.base,
                "--csv",
                str(prefix),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=seconds + 300,
        )
        elapsed = time.monotonic() - started
        after = _rss(server.pid)
        web_cpu_s = _cpu_s(server.pid) - cpu_before
        time.sleep(2)  # let worker processes finish what the stop left running
        created = [line for line in created_path.read_text().split() if line]
        lost = []
        for run_id in created:
            response = httpx.get(f"{server.base}/api/runs/{run_id}", timeout=60)
            if response.status_code != 200:
                lost.append(run_id)
        log = (workdir / f"server-{kind}.log").read_text()
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        (ROOT / "test-artifacts" / f"stress-server-{kind}.log").write_text(log[-200_000:])
    if not Path(f"{prefix}_stats.csv").exists():
        raise SystemExit(
            f"locust wrote no statistics (exit {locust.returncode}):\n{locust.stdout[-2000:]}\n{locust.stderr[-3000:]}"
        )
    stats = _stats(prefix)
    total = stats.get("Aggregated", {})
    pages = {
        name: {
            "requests": int(stats[name]["Request Count"]),
            "p50_ms": float(stats[name]["50%"]),
            "p99_ms": float(stats[name]["99%"]),
        }
        for name in PAGE_NAMES
        if name in stats
    }
    creations = {
        name: {
            "requests": int(stats[name]["Request Count"]),
            "p50_ms": float(stats[name]["50%"]),
            "p99_ms": float(stats[name]["99%"]),
        }
        for name in ("POST /api/runs", "POST /api/compare")
        if name in stats
    }
    return {
        "database": kind,
        "seconds": round(elapsed, 1),
        "users": mix,
        "requests": int(total.get("Request Count", 0)),
        "errors": int(total.get("Failure Count", 0)),
        "pages": pages,
        "creations": creations,
        "follow_events": int(stats.get("follow (event)", {}).get("Request Count", 0)),
        "web_cpu_s": round(web_cpu_s, 1),
        "memory_before": before,
        "memory_after": after,
        "created_201": len(created),
        "lost": len(lost),
        "server_errors_in_log": log.count("unhandled error") + log.count("Traceback"),
        "locust_exit": locust.returncode,
        "locust_stderr_tail": locust.stderr[-1500:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--out", type=Path, default=ROOT / "test-artifacts" / "stress.json")
    parser.add_argument(
        "--fan-out",
        action="store_true",
        help="instead: 200 readers alone, then with 500 followers (what followers cost reads)",
    )
    args = parser.parse_args()
    results = []
    mixes = (
        [
            {"creators": 0, "readers": 200, "followers": 0},
            {"creators": 0, "readers": 200, "followers": 500},
        ]
        if args.fan_out
        else [MIX]
    )
    for kind in args.db or ["sqlite"]:
        for mix in mixes:
            with tempfile.TemporaryDirectory(prefix="migscope-stress-") as workdir:
                result = run_one(kind, args.seconds, Path(workdir), mix)
            results.append(result)
        print(
            json.dumps({k: v for k, v in result.items() if k != "locust_stderr_tail"}, indent=2),
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    failed = [r for r in results if r["errors"] or r["lost"] or r["server_errors_in_log"]]
    if failed:
        for result in failed:
            print(
                f"stress on {result['database']}: FAILED\n{result['locust_stderr_tail']}",
                file=sys.stderr,
            )
        sys.exit(1)


if __name__ == "__main__":
    main()
