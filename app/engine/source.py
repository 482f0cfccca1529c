"""The source migration thread's own state: its clock, status, counters, and the bandwidth
window that sets the rate budget and the threshold (migration_update_counters,
migration_rate_limit in migration/migration.c)."""

from __future__ import annotations

from dataclasses import dataclass

from .clock import reached

BUFFER_DELAY_MS = 100.0  # migration/migration-stats.h


@dataclass
class SourceThread:
    """migration_thread: where it is in time and what it has counted."""

    t: float = 0.0
    status: str = "none"
    vm_running: bool = True
    passes: int = 0
    setup_time_ms: float | None = None
    guest_paused_at_ms: float | None = None
    transferred: int = 0
    ram_transferred: int = 0
    vfio_transferred: int = 0
    dirty_sync_count: int = 0


@dataclass
class RateWindow:
    """The >= 100 ms window over which QEMU measures bandwidth and spends its budget."""

    downtime_limit_ms: float
    avail_bw_bytes_per_s: int
    budget_bytes: float | None = None
    t0: float = 0.0
    bytes0: int = 0
    rate_start_bytes: int = 0
    bandwidth_bytes_per_ms: float | None = None
    threshold_bytes: float = 0.0
    expected_downtime_ms: float | None = None
    dirty_pages_rate: float | None = None
    dirty_bytes_last_sync: int = 0
    last_rate_ms: float = 0.0

    def set_max_bandwidth(self, bytes_per_s: int) -> None:
        """migration_rate_set: a per-100 ms budget of max-bandwidth / 10 (0: no limit)."""
        self.budget_bytes = bytes_per_s / 10.0 if bytes_per_s > 0 else None

    def end_ms(self) -> float:
        """The moment the current window may close (BUFFER_DELAY after its start)."""
        return self.t0 + BUFFER_DELAY_MS

    def can_close(self, t: float) -> bool:
        return reached(t, self.end_ms())

    def exceeded(self, transferred: int) -> bool:
        """migration_rate_exceeded: bytes since the window start > max-bandwidth / 10."""
        return (
            self.budget_bytes is not None
            and transferred - self.rate_start_bytes > self.budget_bytes
        )

    def budget_left(self, transferred: int) -> float | None:
        return (
            None
            if self.budget_bytes is None
            else self.budget_bytes - (transferred - self.rate_start_bytes)
        )

    def close(self, t: float, transferred: int) -> tuple[float, float]:
        """migration_update_counters: bandwidth, threshold_size, expected downtime; a new
        window starts. Returns (window length ms, measured bytes per ms)."""
        spent = t - self.t0
        moved = transferred - self.bytes0
        bandwidth = moved / spent if spent > 0 else 0.0
        effective = self.avail_bw_bytes_per_s / 1000.0 if self.avail_bw_bytes_per_s else bandwidth
        self.bandwidth_bytes_per_ms = bandwidth
        self.threshold_bytes = effective * self.downtime_limit_ms
        if self.dirty_pages_rate is not None and moved > 10000 and effective > 0:
            self.expected_downtime_ms = self.dirty_bytes_last_sync / effective
        self.t0 = t
        self.bytes0 = transferred
        self.rate_start_bytes = transferred
        return spent, bandwidth
