"""The return path: the destination's messages to the source (SWITCHOVER_ACK, PONG, SHUT)
and the source's `switchover_acked` gate (source_return_path_thread,
migration_can_switchover in migration/migration.c)."""

from __future__ import annotations

from dataclasses import dataclass

from .eventlog import EventLog, PendingEvent
from .trace import EventKind


@dataclass
class ReturnPath:
    log: EventLog
    enabled: bool
    latency_ms: float
    # Legacy (8.1-10.2): one latched ack for the whole migration.
    ack_sent_ms: float | None = None
    ack_arrival_ms: float | None = None
    # The moment switchover became permitted (None while the gate is closed).
    gate_open_since: float | None = None
    gate_event: PendingEvent | None = None

    def open_gate(self, t: float, why: str) -> None:
        """Record the moment switchover becomes permitted (scheduled at its own time, which
        may be in the future: an ack that is still on the return path)."""
        if self.gate_open_since is None:
            self.gate_open_since = t
            self.gate_event = self.log.add(
                t,
                EventKind.SWITCHOVER_PERMITTED,
                "source",
                f"switchover permitted from now on: {why}",
                "migration_can_switchover",
            )

    def close_gate(self, t: float) -> None:
        """2026 profile: a re-initialised device invalidates its ack."""
        if self.gate_open_since is None:
            return
        if self.gate_open_since > t and self.gate_event is not None:
            self.gate_event.cancelled = True
        else:
            self.log.add(
                t,
                EventKind.SWITCHOVER_BLOCKED,
                "source",
                "switchover no longer permitted: a device "
                "re-initialised and needs a fresh ack (proposed 2026)",
                "migration_can_switchover",
            )
        self.gate_open_since = None
        self.gate_event = None
