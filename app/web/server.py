"""uvicorn's HTTP protocol with a header read timeout.

uvicorn closes idle kept-alive connections (`timeout_keep_alive`) but waits forever for the
request headers of a new connection: 2,000 half-open connections stayed open for a minute.
Here a connection that has not completed its request headers within `header_read_timeout_s`
(MIGSCOPE_HEADER_READ_TIMEOUT_S, also after each kept-alive response) is closed. Trickling
bytes does not reset the clock. `serve` selects this class with uvicorn's `http` option.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_HEADER_READ_TIMEOUT_S = 10.0
ENV = "MIGSCOPE_HEADER_READ_TIMEOUT_S"


class HeaderTimeoutH11Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_read_timeout_s = float(os.environ.get(ENV, DEFAULT_HEADER_READ_TIMEOUT_S))
        self._header_timer: asyncio.TimerHandle | None = None

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_read_timeout_s, self._header_timeout)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        waiting_for_headers = self.cycle is None or self.cycle.response_complete
        if waiting_for_headers and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and not self.cycle.response_complete:
            self._disarm_header_timer()  # headers are in: the request is being served

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)
