"""Guest RAM as QEMU's migration bitmap sees it.

Pages are counted, not tracked one by one (a 1 TiB guest has 2^28 pages). Zero pages (never
written; ~9 bytes on the wire), cold pages (written once before migration, outside the
working set) and the working set, split into pools that the guest writes at their own rate:
one pool for `uniform` and `sequential`, a hot and a cold pool for `hot_cold`.

Bitmap semantics (migration/ram.c): a pool's `bitmap` pages are what QEMU will send; they
only shrink between syncs. The guest's writes go to the dirty log (`log`, the KVM dirty
log), where a page written twice counts once; a sync merges the log into the bitmap (a
union: pages already in the bitmap are not counted twice).

How the union overlaps depends on the write pattern:
- uniform (and each pool of hot_cold): the log's pages fall uniformly over the pool, so the
  overlap with the bitmap is bitmap x log / pages;
- sequential (the real-QEMU fixtures' guest writes one byte per page, cycling through its
  working set): the sweep writes the pages that follow the ones it wrote before the last
  sync, so the log and the bitmap overlap only once the sweep has gone all the way round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

PAGE_BYTES = 4096
# ram_save_zero_page: an 8-byte header + one byte. save_normal_page: header + 4 KiB.
ZERO_PAGE_WIRE_BYTES = 9
NORMAL_PAGE_WIRE_BYTES = PAGE_BYTES + 8


@dataclass
class Pool:
    """Part of the working set the guest writes at one rate."""

    pages: int
    writes_per_ms: float
    bitmap: int
    log: float = 0.0


@dataclass
class RamModel:
    total_pages: int
    pattern: str  # "uniform", "sequential" or "hot_cold"
    bitmap_zero: int = 0
    bitmap_cold: int = 0
    pools: list[Pool] = field(default_factory=list)
    last_ms: float = 0.0
    # Pages newly set in the bitmap by syncs since the last dirty-rate computation.
    new_dirty_pages_period: int = 0

    @classmethod
    def create(
        cls,
        ram_bytes: int,
        working_set_bytes: int,
        zero_fraction: float,
        dirty_rate_bytes_per_s: int,
        pattern: str,
        hot_set_fraction: float = 0.1,
        hot_write_fraction: float = 0.9,
    ) -> RamModel:
        total = ram_bytes // PAGE_BYTES
        zero = round(total * zero_fraction)
        ws = min(working_set_bytes // PAGE_BYTES, total - zero)
        writes = dirty_rate_bytes_per_s / PAGE_BYTES / 1000.0
        model = cls(
            total_pages=total, pattern=pattern, bitmap_zero=zero, bitmap_cold=total - zero - ws
        )
        if pattern == "hot_cold" and ws > 1:
            hot = min(ws - 1, max(1, round(ws * hot_set_fraction)))
            model.pools = [
                Pool(hot, writes * hot_write_fraction, hot),
                Pool(ws - hot, writes * (1.0 - hot_write_fraction), ws - hot),
            ]
        else:
            model.pools = [Pool(ws, writes, ws)]
        return model

    @property
    def ws_pages(self) -> int:
        return sum(pool.pages for pool in self.pools)

    @property
    def bitmap_ws(self) -> int:
        # A plain loop: one or two pools, read several times per pass (sum() over a
        # generator costs more than the additions).
        pages = 0
        for pool in self.pools:
            pages += pool.bitmap
        return pages

    @property
    def remaining_pages(self) -> int:
        pages = self.bitmap_zero + self.bitmap_cold
        for pool in self.pools:
            pages += pool.bitmap
        return pages

    @property
    def remaining_bytes(self) -> int:
        return self.remaining_pages * PAGE_BYTES

    @property
    def log_bytes(self) -> int:
        pages = 0
        for pool in self.pools:
            pages += int(pool.log)
        return pages * PAGE_BYTES

    def advance(self, now_ms: float, running: bool) -> None:
        """Let the guest write pages until now_ms (only while its vCPUs run)."""
        dt = now_ms - self.last_ms
        if dt <= 0:
            return
        self.last_ms = now_ms
        if not running:
            return
        for pool in self.pools:
            if pool.pages == 0 or pool.writes_per_ms <= 0:
                continue
            writes = pool.writes_per_ms * dt
            w = float(pool.pages)
            if self.pattern == "sequential":
                pool.log = min(w, pool.log + writes)
            else:
                # Uniform random writes: the clean part decays exponentially.
                pool.log = w - (w - pool.log) * math.exp(-writes / w)

    def log_pages_at(self, now_ms: float, running: bool) -> int:
        """The whole pages the dirty log holds at now_ms: what `advance(now_ms, running)`
        would leave in it, computed without changing anything (the same arithmetic).

        A step's `ram_dirty_unsynced_bytes` (the guest's writes since the last sync, as of
        the step's end: the guest keeps writing while a pass sends and sleeps) and the
        pages a sync at now_ms adds to an empty bitmap (collapse.py) are both this."""
        dt = now_ms - self.last_ms
        total = 0
        for pool in self.pools:
            log = pool.log
            if dt > 0 and running and pool.pages != 0 and pool.writes_per_ms > 0:
                writes = pool.writes_per_ms * dt
                w = float(pool.pages)
                if self.pattern == "sequential":
                    log = min(w, log + writes)
                else:
                    log = w - (w - log) * math.exp(-writes / w)
            # With the bitmap empty nothing overlaps: every logged page is new.
            total += int(log)
        return total

    def sync(self) -> int:
        """migration_bitmap_sync: merge the dirty log into the bitmap; return new pages."""
        new_total = 0
        for pool in self.pools:
            log = int(pool.log)
            if pool.pages == 0:
                overlap = 0
            elif self.pattern == "sequential":
                overlap = max(0, pool.bitmap + log - pool.pages)
            else:
                overlap = round(pool.bitmap * log / pool.pages)
            new_pages = log - overlap
            pool.bitmap = min(pool.pages, pool.bitmap + new_pages)
            pool.log -= log
            new_total += new_pages
        self.new_dirty_pages_period += new_total
        return new_total

    def split(self, pages: int, total: int) -> list[int]:
        """The pages `take` would send from each bucket (zero, cold, then each pool):
        in proportion, integer leftovers to the first buckets that still have pages."""
        counts = [self.bitmap_zero, self.bitmap_cold] + [pool.bitmap for pool in self.pools]
        if pages >= total:
            return counts
        taken = [pages * c // total for c in counts]
        rest = pages - sum(taken)
        for i, c in enumerate(counts):
            if rest <= 0:
                break
            extra = min(rest, c - taken[i])
            taken[i] += extra
            rest -= extra
        return taken

    def pages_over_wire(self, limit_bytes: float, total: int) -> tuple[int, int, float]:
        """The fewest pages whose wire bytes exceed `limit_bytes` (what a budget checked
        page by page lets through), or `total` if all of them do not; with their wire bytes
        (what `take(pages, total)` would send, `_wire_bytes`) and the estimate per page the search starts from."""
        zero = self.bitmap_zero
        others = [self.bitmap_cold]
        for pool in self.pools:
            others.append(pool.bitmap)
        per_page = (zero * ZERO_PAGE_WIRE_BYTES + (total - zero) * NORMAL_PAGE_WIRE_BYTES) / total
        pages = min(total, max(1, int(limit_bytes // per_page) + 1))
        nbytes = _wire_bytes(pages, total, zero, others)
        while pages < total and nbytes <= limit_bytes:
            pages += 1
            nbytes = _wire_bytes(pages, total, zero, others)
        while pages > 1:
            below = _wire_bytes(pages - 1, total, zero, others)
            if below <= limit_bytes:
                break
            pages -= 1
            nbytes = below
        return pages, nbytes, per_page

    def take_part(self, pages: int, total: int) -> None:
        """`take(pages, total)` for 0 < pages < total = remaining_pages (a budget-bound
        pass, collapse.py): `split`'s integer arithmetic without its lists."""
        zero = self.bitmap_zero
        cold = self.bitmap_cold
        pools = self.pools
        tz = pages * zero // total
        tc = pages * cold // total
        tps = [pages * pool.bitmap // total for pool in pools]
        rest = pages - tz - tc
        for n in tps:
            rest -= n
        # The integer leftovers to the first buckets that still have pages (zero, cold,
        # then each pool).
        if rest > 0:
            extra = min(rest, zero - tz)
            tz += extra
            rest -= extra
        if rest > 0:
            extra = min(rest, cold - tc)
            tc += extra
            rest -= extra
        self.bitmap_zero = zero - tz
        self.bitmap_cold = cold - tc
        for i, pool in enumerate(pools):
            n = tps[i]
            if rest > 0:
                extra = min(rest, pool.bitmap - n)
                n += extra
                rest -= extra
            pool.bitmap -= n

    def take(self, pages: int, total: int | None = None) -> tuple[int, int]:
        """Send `pages` pages from the bitmap, mixed in proportion (QEMU walks RAM in
        address order; we do not model addresses). Return (zero_pages, normal_pages).
        `total` is remaining_pages when the caller has just counted it."""
        if total is None:
            total = self.remaining_pages
        pages = min(pages, total)
        if pages <= 0:
            return 0, 0
        taken = self.split(pages, total)
        self.bitmap_zero -= taken[0]
        self.bitmap_cold -= taken[1]
        for pool, n in zip(self.pools, taken[2:], strict=True):
            pool.bitmap -= n
        return taken[0], sum(taken[1:])


def _wire_bytes(pages: int, total: int, zero: int, others: list[int]) -> int:
    """RamModel.wire_bytes on the bitmap's counts (zero pages, then cold and each pool),
    for pages_over_wire's search (a few calls per pass, no attribute lookups)."""
    if pages >= total:
        return zero * ZERO_PAGE_WIRE_BYTES + (total - zero) * NORMAL_PAGE_WIRE_BYTES
    zero_taken = pages * zero // total
    spread = zero_taken
    for count in others:
        spread += pages * count // total
    # The integer leftovers go to the zero pages first (split's order).
    zero_taken += min(pages - spread, zero - zero_taken)
    return zero_taken * ZERO_PAGE_WIRE_BYTES + (pages - zero_taken) * NORMAL_PAGE_WIRE_BYTES
