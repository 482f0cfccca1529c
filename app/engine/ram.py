"""Guest RAM as QEMU's migration bitmap sees it.

Pages are counted, not tracked one by one (a 1 TiB guest has 2^28 pages). Three pools:
zero pages (never written; ~9 bytes on the wire), cold pages (written once before
migration, outside the working set) and working-set pages (the guest keeps writing them).

Bitmap semantics (migration/ram.c): `bitmap_*` is what QEMU will send; it only shrinks
between syncs. The guest's writes go to the dirty log (`log_ws_pages`, the KVM dirty log),
where a page written twice counts once; a sync merges the log into the bitmap (a union:
pages already in the bitmap are not counted twice).

Simplification: the union assumes the log's pages fall uniformly over the working set, so
the overlap with the bitmap's working-set pages is bitmap_ws x log / W.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PAGE_BYTES = 4096
# ram_save_zero_page: an 8-byte header + one byte. save_normal_page: header + 4 KiB.
ZERO_PAGE_WIRE_BYTES = 9
NORMAL_PAGE_WIRE_BYTES = PAGE_BYTES + 8


@dataclass
class RamModel:
    total_pages: int
    ws_pages: int
    dirty_pages_per_ms: float
    pattern: str  # "uniform" or "sequential"
    bitmap_zero: int = 0
    bitmap_cold: int = 0
    bitmap_ws: int = 0
    log_ws_pages: float = 0.0
    last_ms: float = 0.0
    # Pages newly set in the bitmap by syncs since the last dirty-rate computation.
    new_dirty_pages_period: int = 0

    @classmethod
    def create(cls, ram_bytes: int, working_set_bytes: int, zero_fraction: float, dirty_rate_bytes_per_s: int, pattern: str) -> RamModel:
        total = ram_bytes // PAGE_BYTES
        zero = int(round(total * zero_fraction))
        ws = min(working_set_bytes // PAGE_BYTES, total - zero)
        model = cls(total_pages=total, ws_pages=ws, dirty_pages_per_ms=dirty_rate_bytes_per_s / PAGE_BYTES / 1000.0, pattern=pattern)
        model.bitmap_zero = zero
        model.bitmap_cold = total - zero - ws
        model.bitmap_ws = ws
        return model

    @property
    def remaining_pages(self) -> int:
        return self.bitmap_zero + self.bitmap_cold + self.bitmap_ws

    @property
    def remaining_bytes(self) -> int:
        return self.remaining_pages * PAGE_BYTES

    @property
    def log_bytes(self) -> int:
        return int(self.log_ws_pages) * PAGE_BYTES

    def advance(self, now_ms: float, running: bool) -> None:
        """Let the guest write pages until now_ms (only while its vCPUs run)."""
        dt = now_ms - self.last_ms
        if dt <= 0:
            return
        self.last_ms = now_ms
        if not running or self.ws_pages == 0 or self.dirty_pages_per_ms <= 0:
            return
        writes = self.dirty_pages_per_ms * dt
        w = float(self.ws_pages)
        if self.pattern == "sequential":
            self.log_ws_pages = min(w, self.log_ws_pages + writes)
        else:
            # Uniform random writes: the clean part decays exponentially.
            self.log_ws_pages = w - (w - self.log_ws_pages) * math.exp(-writes / w)

    def sync(self) -> int:
        """migration_bitmap_sync: merge the dirty log into the bitmap; return new pages."""
        log = int(self.log_ws_pages)
        overlap = int(round(self.bitmap_ws * log / self.ws_pages)) if self.ws_pages else 0
        new_pages = log - overlap
        self.bitmap_ws = min(self.ws_pages, self.bitmap_ws + new_pages)
        self.log_ws_pages -= log
        self.new_dirty_pages_period += new_pages
        return new_pages

    def wire_bytes_per_page(self) -> float:
        total = self.remaining_pages
        if total == 0:
            return float(NORMAL_PAGE_WIRE_BYTES)
        return (self.bitmap_zero * ZERO_PAGE_WIRE_BYTES + (total - self.bitmap_zero) * NORMAL_PAGE_WIRE_BYTES) / total

    def take(self, pages: int) -> tuple[int, int]:
        """Send `pages` pages from the bitmap, mixed in proportion (QEMU walks RAM in
        address order; we do not model addresses). Return (zero_pages, normal_pages)."""
        total = self.remaining_pages
        pages = min(pages, total)
        if pages <= 0:
            return 0, 0
        if pages == total:
            zero, cold, ws = self.bitmap_zero, self.bitmap_cold, self.bitmap_ws
        else:
            zero = min(self.bitmap_zero, pages * self.bitmap_zero // total)
            cold = min(self.bitmap_cold, pages * self.bitmap_cold // total)
            ws = min(self.bitmap_ws, pages - zero - cold)
            rest = pages - zero - cold - ws
            # Integer rounding leftovers go to whichever pool still has pages.
            for pool in ("bitmap_cold", "bitmap_zero"):
                if rest <= 0:
                    break
                room = getattr(self, pool) - (cold if pool == "bitmap_cold" else zero)
                extra = min(rest, room)
                if pool == "bitmap_cold":
                    cold += extra
                else:
                    zero += extra
                rest -= extra
        self.bitmap_zero -= zero
        self.bitmap_cold -= cold
        self.bitmap_ws -= ws
        return zero, cold + ws
