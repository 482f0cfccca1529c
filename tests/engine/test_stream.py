import itertools

from app.engine.stream import Stream, Wire

MiB = 1024**2


def test_records_load_in_order_and_back_pressure_limits_in_flight():
    # A destination that loads 10x slower than the link: the source must block.
    stream = Stream(Wire(1000 * 1000, latency_ms=1.0), buffer_bytes=4 * MiB)
    t = 0.0
    records = []
    for _ in range(50):
        record = stream.write(t, MiB, "ram", load_cost_ms=10.0)
        t = record.write_ms
        records.append(record)
        in_flight = stream.written_bytes - stream.loaded_bytes(t)
        assert in_flight <= 4 * MiB + MiB
    for a, b in itertools.pairwise(records):
        assert a.load_end_ms <= b.load_start_ms
        assert a.write_ms <= b.write_ms
    # Steady state: one MiB per 10 ms, whatever the link could do.
    assert 400 < records[-1].load_end_ms < 520
    assert stream.loaded_bytes(10_000.0) == 50 * MiB


def test_latency_and_link_time_come_before_the_load():
    stream = Stream(Wire(1000.0, latency_ms=5.0), buffer_bytes=MiB)
    record = stream.write(0.0, 10_000, "vfio_init", load_cost_ms=2.0, device="d", payload=9_984)
    assert record.tx_end_ms == 10.0 and record.arrive_ms == 15.0 and record.load_end_ms == 17.0
    assert stream.device_loaded("d", 16.0) == (4992, 4992)
    assert stream.device_loaded("d", 20.0) == (9984, 9984)


def test_channels_sharing_a_link_queue_for_it():
    link = Wire(1000.0)
    a, b = Stream(link, MiB), Stream(link, MiB)
    first = a.write(0.0, 10_000, "ram", 0.0)
    second = b.write(0.0, 10_000, "ram", 0.0)
    assert first.tx_end_ms == 10.0 and second.tx_end_ms == 20.0


def test_write_reads_gives_the_records_of_one_write_per_read():
    # Stream.write_reads (the stop-copy reads of a big image) must be byte for byte the
    # loop it replaces: read, then write at the read's end, the next read when it returns.
    def stream() -> Stream:
        s = Stream(Wire(3000.0, latency_ms=0.2), buffer_bytes=4 * MiB, capture=[])
        s.write(0.0, 3 * MiB, "ram", load_cost_ms=900.0)  # a busy destination first
        return s

    chunk = MiB + 16
    looped, batched = stream(), stream()
    reads: list[tuple[float, float]] = []
    t = 0.5
    for _ in range(12):
        start, t = t, t + 0.122
        reads.append((start, t))
        t = looped.write(t, chunk, "vfio_stopcopy", 0.125, "d", "DATA", payload=MiB).write_ms
    batched_reads: list[tuple[float, float]] = []
    t_batched = batched.write_reads(
        0.5, 12, chunk, "vfio_stopcopy", 0.125, "d", "DATA", MiB, 0.122, batched_reads
    )
    assert t_batched == t
    assert batched_reads == reads
    assert batched.records == looped.records and batched.capture == looped.capture
    assert batched.load_ends == looped.load_ends and batched.cum_ends == looped.cum_ends
    assert (
        batched.device_loaded("d", 1e9)
        == looped.device_loaded("d", 1e9)
        == (
            12 * MiB,
            0,
        )
    )
    # The buffer bounds the reader: later reads wait for the destination's first load.
    assert reads[-1][0] > 900.0


def test_write_chunks_gives_the_records_of_one_write_per_chunk():
    # Stream.write_chunks (the switchover's final RAM send) must be byte for byte the loop
    # of write calls it replaces: each chunk written when the previous write returned.
    def stream() -> Stream:
        s = Stream(Wire(3000.0, latency_ms=0.2), buffer_bytes=4 * MiB, capture=[])
        s.write(0.0, 3 * MiB, "vfio_init", load_cost_ms=500.0, device="d")  # a busy loader
        return s

    load_bytes_per_ms = 2500.0
    sizes = [MiB - 4095 * k for k in range(9)] + [17]
    looped, batched = stream(), stream()
    t = 0.5
    for nbytes in sizes:
        t = looped.write(t, nbytes, "ram", nbytes / load_bytes_per_ms).write_ms
    assert batched.write_chunks(0.5, sizes, "ram", load_bytes_per_ms) == t
    assert batched.records == looped.records and batched.capture == looped.capture
    assert batched.load_ends == looped.load_ends and batched.cum_ends == looped.cum_ends
    assert batched.written_bytes == looped.written_bytes == 3 * MiB + sum(sizes)
    assert batched.link.free_ms == looped.link.free_ms
    assert batched.dest_free_ms == looped.dest_free_ms
    # The buffer bounds the writer: later chunks wait for the destination's first load.
    assert t > 500.0
