"""Real servers for the tests that need one: a free loopback port, and waiting on readiness.

Start-up takes seconds on an idle machine and much longer on a busy one, so tests wait until
the server answers `/api/limits`, with a bound only a hung server reaches. `serving` is the one
place that starts, waits for and stops such a server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SERVER_START_TIMEOUT_S = 120.0
SERVER_STOP_TIMEOUT_S = 20.0
ROOT = Path(__file__).resolve().parents[1]
# The app as a browser test serves it (uvicorn's own command line, the app factory).
UVICORN = [sys.executable, "-m", "uvicorn", "app.web.app:create_app", "--factory"]
UVICORN += ["--host", "127.0.0.1"]
# `migscope serve` (loopback by default), as a deployment starts it.
MIGSCOPE_SERVE = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1"]


@dataclass(frozen=True)
class Server:
    base: str
    pid: int


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(
    process: subprocess.Popen[bytes],
    base: str,
    log_path: Path | None = None,
    timeout_s: float = SERVER_START_TIMEOUT_S,
) -> None:
    """Return once `base` answers; kill the server and raise (with its log's tail) if it exits
    or stays silent past `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(base + "/api/limits", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        exited = process.poll() is not None
        if exited or time.monotonic() > deadline:
            process.kill()
            log = log_path.read_text()[-3000:] if log_path is not None else ""
            why = f"exited with {process.returncode}" if exited else f"silent {timeout_s:.0f} s"
            raise AssertionError(f"server on {base} {why}; log: {log}")
        time.sleep(0.2)


def _signal(process: subprocess.Popen[bytes], group: bool, signum: int) -> None:
    # A group is signalled even when its leader has exited: its workers may not have.
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)


def _stop(process: subprocess.Popen[bytes], group: bool) -> None:
    """SIGTERM (to the whole process group for a server with workers), then SIGKILL if it
    has not exited within SERVER_STOP_TIMEOUT_S."""
    _signal(process, group, signal.SIGTERM)
    try:
        process.wait(timeout=SERVER_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _signal(process, group, signal.SIGKILL)
        process.wait(timeout=SERVER_STOP_TIMEOUT_S)


@contextmanager
def serving(
    command: list[str],
    database_url: str,
    log_path: Path,
    env: dict[str, str] | None = None,
    group: bool = False,
) -> Iterator[Server]:
    """`command --port PORT` on a free loopback port and `database_url`, once it answers; stopped
    afterwards. `group`: in a process group of its own, so its worker processes stop with it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": database_url, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=group,
        )
    try:
        wait_ready(process, base, log_path)
        yield Server(base, process.pid)
    finally:
        _stop(process, group)
