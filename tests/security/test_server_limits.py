"""`migscope serve`'s connection limits on a real server: a connection that never completes its
request headers is closed after header_read_timeout_s, even while it trickles bytes; a normal
request on a kept-alive connection is unaffected."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.security.live import served

TIMEOUT_S = 1.0


def _closed_within(sock: socket.socket, seconds: float, trickle: bool) -> float | None:
    """Seconds until the server closed the connection, or None if it stayed open."""
    sock.settimeout(0.2)
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if trickle:
            try:
                sock.sendall(b"X")
            except OSError:
                return time.monotonic() - started
        try:
            if sock.recv(1024) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - started
    return None


def test_half_open_connections_are_closed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'limits.db'}"
    with served(url, tmp_path / "server.log", header_read_timeout_s=str(TIMEOUT_S)) as base:
        host, port = urlsplit(base).hostname, urlsplit(base).port
        assert host is not None and port is not None
        silent = socket.create_connection((host, port))
        slow = socket.create_connection((host, port))
        slow.sendall(b"GET /api/limits HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        closed_silent = _closed_within(silent, 10, trickle=False)
        closed_slow = _closed_within(slow, 10, trickle=True)
        assert closed_silent is not None and closed_silent < 5, closed_silent
        assert closed_slow is not None and closed_slow < 5, closed_slow
        # A real client is served, and may send its next request on the kept-alive connection.
        client = socket.create_connection((host, port))
        client.settimeout(10)
        for _ in range(2):
            client.sendall(b"GET /api/limits HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = b""
            while b"\r\n\r\n" not in answer:
                answer += client.recv(65536)
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head[:100]
            length = int(
                next(
                    line.split(b":")[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
            )
            while len(body) < length:
                body += client.recv(65536)
            time.sleep(TIMEOUT_S / 2)
        for sock in (silent, slow, client):
            sock.close()
