from app.engine.ram import NORMAL_PAGE_WIRE_BYTES, PAGE_BYTES, ZERO_PAGE_WIRE_BYTES, RamModel

GiB = 1024**3
MiB = 1024**2


def model(pattern="uniform", rate=64 * MiB):
    return RamModel.create(1 * GiB, 128 * MiB, 0.5, rate, pattern)


def test_initial_bitmap_is_all_of_ram():
    ram = model()
    assert ram.remaining_bytes == 1 * GiB
    assert ram.bitmap_zero == ram.total_pages // 2


def test_remaining_only_grows_at_syncs():
    ram = model()
    ram.take(ram.remaining_pages)
    assert ram.remaining_pages == 0
    ram.advance(1000.0, running=True)
    assert ram.remaining_pages == 0, "writes land in the dirty log, not the bitmap"
    assert ram.log_bytes > 0
    ram.sync()
    assert ram.remaining_pages > 0


def test_a_page_dirtied_twice_counts_once():
    ram = model(rate=10 * GiB)  # far more writes than the 128 MiB working set has pages
    ram.take(ram.remaining_pages)
    ram.advance(10_000.0, running=True)
    ram.sync()
    assert ram.remaining_bytes <= 128 * MiB
    assert ram.remaining_bytes > 127 * MiB


def test_sequential_pattern_grows_linearly_until_the_working_set():
    ram = model(pattern="sequential", rate=8 * MiB)
    ram.take(ram.remaining_pages)
    ram.advance(1000.0, running=True)
    assert ram.log_bytes == 8 * MiB


def test_stopped_guest_dirties_nothing():
    ram = model()
    ram.advance(5000.0, running=False)
    assert ram.log_bytes == 0


def test_take_splits_zero_pages_and_costs_them_cheaply():
    ram = model()
    zero, normal = ram.take(1000)
    assert zero + normal == 1000
    assert abs(zero - 500) <= 1
    assert ZERO_PAGE_WIRE_BYTES < 16 < NORMAL_PAGE_WIRE_BYTES


def test_sync_union_with_pages_already_in_the_bitmap():
    ram = model(rate=10 * GiB)
    before = ram.remaining_pages  # the whole working set is still unsent in the bitmap
    ram.advance(10_000.0, running=True)
    new = ram.sync()
    assert new == 0 and ram.remaining_pages == before


def test_hot_cold_keeps_re_dirtying_the_hot_part():
    # 90% of 64 MiB/s of writes go to 10% of the 128 MiB working set: after a second the hot
    # part is all dirty, the cold part only partly; a uniform guest spreads the same writes.
    hot = model(pattern="hot_cold")
    uniform = model(pattern="uniform")
    for ram in (hot, uniform):
        ram.take(ram.remaining_pages)
        ram.advance(1000.0, running=True)
        ram.sync()
    hot_pool, cold_pool = hot.pools
    assert hot_pool.bitmap > 0.98 * hot_pool.pages  # 14,746 writes over 3,277 hot pages: ~all dirty
    assert cold_pool.bitmap < cold_pool.pages // 2
    assert hot.remaining_bytes < uniform.remaining_bytes


def test_sequential_sweep_overlaps_the_bitmap_only_after_a_full_round():
    ram = model(pattern="sequential", rate=64 * MiB)
    ram.take(ram.remaining_pages)
    ram.advance(1000.0, running=True)  # 64 MiB swept
    assert ram.sync() * PAGE_BYTES == 64 * MiB
    ram.advance(2000.0, running=True)  # the next 64 MiB: no overlap with the unsent 64 MiB
    assert ram.sync() * PAGE_BYTES == 64 * MiB
    assert ram.remaining_bytes == 128 * MiB


def test_take_part_takes_what_take_takes():
    # collapse.py's budget-bound passes use take_part: the same pages from every bucket.
    for pattern in ("uniform", "sequential", "hot_cold"):
        for pages in (1, 7, 255, 1000, 99_999):
            a = RamModel.create(2 * 1024**3, 512 * 1024**2, 0.37, 300 * 1024**2, pattern)
            b = RamModel.create(2 * 1024**3, 512 * 1024**2, 0.37, 300 * 1024**2, pattern)
            for m in (a, b):
                m.advance(700.0, True)
                m.sync()
                m.take(12_345)
            total = a.remaining_pages
            a.take(pages, total)
            b.take_part(pages, total)
            assert (a.bitmap_zero, a.bitmap_cold) == (b.bitmap_zero, b.bitmap_cold)
            assert [p.bitmap for p in a.pools] == [p.bitmap for p in b.pools]
            assert a.remaining_pages == total - pages


def test_log_pages_at_is_what_advance_would_leave_and_changes_nothing():
    # A step's ram_dirty_unsynced_bytes reads the log at its end this way (make_step).
    for pattern in ("uniform", "sequential", "hot_cold"):
        ram = model(pattern=pattern)
        ram.take(ram.remaining_pages)
        ram.advance(300.0, running=True)
        before = (ram.last_ms, [pool.log for pool in ram.pools])
        preview = ram.log_pages_at(1250.0, running=True)
        assert (ram.last_ms, [pool.log for pool in ram.pools]) == before
        assert ram.log_pages_at(1250.0, running=False) * PAGE_BYTES == ram.log_bytes
        ram.advance(1250.0, running=True)
        assert preview * PAGE_BYTES == ram.log_bytes
        assert preview > sum(int(log) for log in before[1]), "the guest wrote on after 300 ms"
