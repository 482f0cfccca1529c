"""Real servers for the tests that need one: a free loopback port, and waiting on readiness.

Start-up takes seconds on an idle machine and much longer on a busy one, so tests wait until
the server answers `/api/limits`, with a bound only a hung server reaches.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path

SERVER_START_TIMEOUT_S = 120.0


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
