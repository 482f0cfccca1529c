"""Events are scheduled at their own time (the destination's load times are known as soon
as a record is written) and handed to the step whose time span contains them."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

from .trace import Event, trusted


@dataclass(order=True)
class PendingEvent:
    t_ms: float
    seq: int
    kind: str = field(compare=False)
    side: str = field(compare=False)
    device: str | None = field(compare=False)
    detail: str = field(compare=False)
    qemu_function: str | None = field(compare=False)
    data: dict[str, Any] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class EventLog:
    def __init__(self) -> None:
        self._heap: list[PendingEvent] = []
        self._seq = 0
        self.events: list[Event] = []
        self.flushed_until_ms = 0.0

    def add(
        self,
        t_ms: float,
        kind: str,
        side: str,
        detail: str,
        qemu_function: str | None = None,
        device: str | None = None,
        **data: Any,
    ) -> PendingEvent:
        self._seq += 1
        if t_ms < self.flushed_until_ms:
            # Noticed after its step was closed (e.g. a device change the engine only sees
            # at the next pass): keep the true time in data, keep the log in time order.
            data = {**data, "happened_at_ms": round(t_ms, 3)}
            t_ms = self.flushed_until_ms
        pending = PendingEvent(t_ms, self._seq, kind, side, device, detail, qemu_function, data)
        heapq.heappush(self._heap, pending)
        return pending

    def flush(self, step_index: int, until_ms: float | None) -> list[Event]:
        """Move every event due by `until_ms` (all of them if None) into `step_index`."""
        out: list[Event] = []
        while self._heap and (until_ms is None or self._heap[0].t_ms <= until_ms + 1e-9):
            p = heapq.heappop(self._heap)
            if p.cancelled:
                continue
            out.append(
                trusted(
                    Event,
                    {
                        "t_ms": round(p.t_ms, 3),
                        "step": step_index,
                        # plain str in traces (a StrEnum member would reach the store)
                        "kind": str(p.kind),
                        "side": p.side,
                        "device": p.device,
                        "detail": p.detail,
                        "qemu_function": p.qemu_function,
                        "data": p.data,
                    },
                )
            )
        self.events.extend(out)
        if until_ms is not None:
            self.flushed_until_ms = max(self.flushed_until_ms, until_ms)
        return out

    @property
    def added(self) -> int:
        """How many events were ever added (a pass's count tells whether it added any)."""
        return self._seq

    def has_pending(self) -> bool:
        return bool(self._heap)
