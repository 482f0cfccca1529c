"""Migration channels: source socket, link, destination loader.

A `Stream` is one channel: the main channel (qemu_loadvm_state parses it strictly in order),
a multifd channel carrying RAM pages, or a device's multifd stop-copy state (10.0+). Records
leave the source in write order, wait for their channel (`lane`) and the shared `link`, cross
it at its bandwidth, arrive one latency later and are loaded by the stream's destination
loader strictly in order, each with a load cost. Because every part is FIFO, a record's load
time is known when it is written. All channels share one `Link`: adding channels or devices
adds contention, not bandwidth.

Back-pressure: the source may have at most `buffer_bytes` written but not yet loaded
(socket buffers on both hosts plus QEMUFile buffers); a write blocks until the destination
has consumed enough. That is how a slow destination lowers the bandwidth QEMU measures.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

MARKER_BYTES = 8  # one be64 VFIO tag (END_OF_STATE, INIT_DATA_SENT, ...)


@dataclass
class Record:
    kind: (
        str  # header, command, ram, vfio_init, vfio_dirty, vfio_stopcopy, marker, config, cpu, eof
    )
    nbytes: int
    device: str | None
    write_ms: float
    tx_end_ms: float
    arrive_ms: float
    load_start_ms: float
    load_end_ms: float
    cum_start: int
    label: str = ""
    payload: int = 0  # raw device bytes inside (tags and sizes excluded)
    # A flow record (many pages written as one, see Stream.flow) loads linearly between
    # load start and end but keeps the destination busy only this long in total; -1: the
    # whole span.
    busy_ms: float = -1.0

    @property
    def cum_end(self) -> int:
        return self.cum_start + self.nbytes

    def loaded_by(self, t_ms: float) -> float:
        """Bytes of this record the destination has loaded by t_ms."""
        if t_ms >= self.load_end_ms:
            return float(self.nbytes)
        if t_ms <= self.load_start_ms:
            return 0.0
        return self.nbytes * (t_ms - self.load_start_ms) / (self.load_end_ms - self.load_start_ms)


@dataclass
class Wire:
    """A serial resource records queue for: the link (shared by every channel), or one
    channel's send side (shared by the device-state threads that use it)."""

    bytes_per_ms: float
    latency_ms: float = 0.0
    free_ms: float = 0.0


@dataclass
class Stream:
    link: Wire
    buffer_bytes: int
    lane: Wire | None = None
    written_bytes: int = 0
    dest_free_ms: float = 0.0
    # Records in write order, with running sums, searched by bisection: load times only
    # grow along the stream (the destination is one FIFO), and so do the sums. Records
    # before `head` are fully loaded and only their sums still matter.
    records: list[Record] = field(default_factory=list)
    cum_ends: list[int] = field(default_factory=list)
    load_ends: list[float] = field(default_factory=list)
    head: int = 0
    # Per device: load-end times and running sums of (device bytes, initial bytes).
    device_index: dict[str, _DeviceIndex] = field(default_factory=dict)
    # When set, every record written is also kept here (for the downtime breakdown).
    capture: list[Record] | None = None
    dest_dead: bool = False

    def _time_consumed(self, target_bytes: int) -> float:
        """Earliest time at which the destination has loaded `target_bytes` in total."""
        if self.head > 0 and target_bytes <= self.cum_ends[self.head - 1]:
            return 0.0  # already loaded
        i = bisect_left(self.cum_ends, target_bytes, lo=self.head)
        if i >= len(self.records):
            return self.records[-1].load_end_ms if self.records else 0.0
        record = self.records[i]
        if record.nbytes == 0:
            return record.load_end_ms
        frac = (target_bytes - record.cum_start) / record.nbytes
        return record.load_start_ms + frac * (record.load_end_ms - record.load_start_ms)

    def prune(self, now_ms: float) -> None:
        self.head = bisect_right(self.load_ends, now_ms, lo=self.head)
        if self.head > 4096 and self.head * 2 > len(self.records):
            # Drop fully loaded records; their bytes live on in the running sums.
            del (
                self.records[: self.head - 1],
                self.cum_ends[: self.head - 1],
                self.load_ends[: self.head - 1],
            )
            self.head = 1

    def write(
        self,
        now_ms: float,
        nbytes: int,
        kind: str,
        load_cost_ms: float,
        device: str | None = None,
        label: str = "",
        payload: int = 0,
    ) -> Record:
        """Write one record; returns it. `record.write_ms` is when the source's write returned."""
        # max() calls are written as comparisons with the same values (max(a, b) is a unless
        # b > a): a record is written per device read and per switchover RAM chunk.
        self.prune(now_ms)
        accept = now_ms
        written = self.written_bytes
        need = written + nbytes - self.buffer_bytes
        if need > 0:
            consumed = self._time_consumed(need)
            if consumed > accept:
                accept = consumed
        link = self.link
        lane = self.lane
        tx_start = accept
        if link.free_ms > tx_start:
            tx_start = link.free_ms
        if lane is not None:
            if lane.free_ms > tx_start:
                tx_start = lane.free_ms
        elif tx_start < 0.0:
            tx_start = 0.0
        tx_end = tx_start + nbytes / link.bytes_per_ms
        arrive = tx_end + link.latency_ms
        dest_free = self.dest_free_ms
        load_start = dest_free if dest_free > arrive else arrive
        if self.dest_dead:
            # A failed destination stops loading (it costs nothing any more); the source
            # finds out over the return path.
            load_end = load_start
        else:
            load_end = load_start + load_cost_ms
        link.free_ms = tx_end
        if lane is not None:
            lane.free_ms = tx_end
        self.dest_free_ms = load_end
        record = Record(
            kind,
            nbytes,
            device,
            accept,
            tx_end,
            arrive,
            load_start,
            load_end,
            written,
            label,
            payload,
        )
        written += nbytes
        self.written_bytes = written
        self.records.append(record)
        self.cum_ends.append(written)
        self.load_ends.append(load_end)
        if device is not None and kind.startswith("vfio_"):
            self.device_index.setdefault(device, _DeviceIndex()).add(record)
        if self.capture is not None:
            self.capture.append(record)
        return record

    def write_reads(
        self,
        now_ms: float,
        count: int,
        nbytes: int,
        kind: str,
        load_cost_ms: float,
        device: str,
        label: str,
        payload: int,
        read_ms: float,
        reads: list[tuple[float, float]],
    ) -> float:
        """`count` device reads of the same size, each followed by its record: read() takes
        `read_ms`, then `write` as above (the next read starts when the write returns). The
        same operations in the same order as `count` calls of `write` (byte-identical
        records), on locals: the stop-copy reads of a big image (switchover.py). Appends each
        read's (start, end) to `reads`; returns the writer's clock after the last write."""
        records = self.records
        cum_ends = self.cum_ends
        load_ends = self.load_ends
        link = self.link
        lane = self.lane
        per_ms = link.bytes_per_ms
        latency = link.latency_ms
        buffer = self.buffer_bytes
        dest_dead = self.dest_dead
        index = self.device_index.setdefault(device, _DeviceIndex())
        index_records = index.records
        index_load_ends = index.load_ends
        data_sums = index.data_sums
        init_sums = index.init_sums
        # _DeviceIndex.add's running sums.
        data_sum = data_sums[-1] if data_sums else 0
        init_sum = init_sums[-1] if init_sums else 0
        init_payload = payload if kind == "vfio_init" else 0
        capture = self.capture
        # The channel's own fields, on locals (nothing else writes them meanwhile).
        written = self.written_bytes
        dest_free = self.dest_free_ms
        free = link.free_ms
        t = now_ms
        for _ in range(count):
            start = t
            t += read_ms
            reads.append((start, t))
            # write(t, ...), inlined: prune (its list trimming left to prune itself)...
            head = bisect_right(load_ends, t, self.head)
            if head > 4096 and head * 2 > len(records):
                self.prune(t)
            else:
                self.head = head
            accept = t
            need = written + nbytes - buffer
            if need > 0:
                self.written_bytes = written
                consumed = self._time_consumed(need)
                if consumed > accept:
                    accept = consumed
            # ... max(accept, link.free_ms, lane.free_ms or 0.0): the first of the largest.
            tx_start = accept
            if free > tx_start:
                tx_start = free
            if lane is not None:
                if lane.free_ms > tx_start:
                    tx_start = lane.free_ms
            elif tx_start < 0.0:
                tx_start = 0.0
            tx_end = tx_start + nbytes / per_ms
            arrive = tx_end + latency
            load_start = dest_free if dest_free > arrive else arrive  # max(arrive, dest_free)
            if dest_dead:
                load_end = load_start
            else:
                load_end = load_start + load_cost_ms
            free = tx_end
            if lane is not None:
                lane.free_ms = tx_end
            dest_free = load_end
            record = Record(
                kind,
                nbytes,
                device,
                accept,
                tx_end,
                arrive,
                load_start,
                load_end,
                written,
                label,
                payload,
            )
            written += nbytes
            records.append(record)
            cum_ends.append(written)
            load_ends.append(load_end)
            # index.add(record), inlined.
            index_records.append(record)
            index_load_ends.append(load_end)
            data_sum += payload
            init_sum += init_payload
            data_sums.append(data_sum)
            init_sums.append(init_sum)
            if capture is not None:
                capture.append(record)
            t = accept
        self.written_bytes = written
        self.dest_free_ms = dest_free
        link.free_ms = free
        return t

    def write_chunks(
        self, now_ms: float, sizes: list[int], kind: str, load_bytes_per_ms: float
    ) -> float:
        """`write` of one record per size in turn, each written when the previous write
        returned, loaded in its bytes / `load_bytes_per_ms`: the same operations in the same
        order as those calls (byte-identical records), on locals: the switchover's final
        RAM send in 1 MiB chunks. Returns the writer's clock after the last write."""
        records = self.records
        cum_ends = self.cum_ends
        load_ends = self.load_ends
        link = self.link
        lane = self.lane
        per_ms = link.bytes_per_ms
        latency = link.latency_ms
        buffer = self.buffer_bytes
        dest_dead = self.dest_dead
        capture = self.capture
        written = self.written_bytes
        dest_free = self.dest_free_ms
        free = link.free_ms
        t = now_ms
        for nbytes in sizes:
            load_cost_ms = nbytes / load_bytes_per_ms
            # write(t, ...), inlined (see write_reads).
            head = bisect_right(load_ends, t, self.head)
            if head > 4096 and head * 2 > len(records):
                self.prune(t)
            else:
                self.head = head
            accept = t
            need = written + nbytes - buffer
            if need > 0:
                consumed = self._time_consumed(need)
                if consumed > accept:
                    accept = consumed
            tx_start = accept
            if free > tx_start:
                tx_start = free
            if lane is not None:
                if lane.free_ms > tx_start:
                    tx_start = lane.free_ms
            elif tx_start < 0.0:
                tx_start = 0.0
            tx_end = tx_start + nbytes / per_ms
            arrive = tx_end + latency
            load_start = dest_free if dest_free > arrive else arrive
            load_end = load_start if dest_dead else load_start + load_cost_ms
            free = tx_end
            if lane is not None:
                lane.free_ms = tx_end
            dest_free = load_end
            record = Record(
                kind, nbytes, None, accept, tx_end, arrive, load_start, load_end, written
            )
            written += nbytes
            records.append(record)
            cum_ends.append(written)
            load_ends.append(load_end)
            if capture is not None:
                capture.append(record)
            t = accept
        self.written_bytes = written
        self.dest_free_ms = dest_free
        link.free_ms = free
        return t

    def first_accept(self, now_ms: float) -> float:
        """When the source's next byte fits into this channel (the buffer has room)."""
        self.prune(now_ms)
        need = self.written_bytes - self.buffer_bytes
        return max(now_ms, self._time_consumed(need)) if need > 0 else now_ms

    def flow(
        self, now_ms: float, nbytes: int, load_bytes_per_ms: float, tx_start: float, tx_end: float
    ) -> tuple[float, float, float, float]:
        """Where a flow of `nbytes` would go, without writing it: (when the source's last
        byte is accepted, tx end, load start, load end). The bytes cross the link between
        `tx_start` and `tx_end` and are loaded at `load_bytes_per_ms` as they arrive, so the
        destination consumes them linearly between load start and end (the bottleneck's
        rate); the source blocks once `buffer_bytes` are written but not yet consumed."""
        w0 = self.written_bytes
        latency = self.link.latency_ms
        if self.dest_dead:
            load_start = load_end = max(tx_end + latency, self.dest_free_ms)
        else:
            load_start = max(tx_start + latency, self.dest_free_ms)
            load_end = max(load_start + nbytes / load_bytes_per_ms, tx_end + latency)
        need = w0 + nbytes - self.buffer_bytes
        if need <= 0:
            accept = now_ms
        elif need <= w0:
            accept = max(now_ms, self._time_consumed(need))
        else:
            # The last byte waits until the flow's own first bytes are consumed.
            accept = max(now_ms, load_start + (need - w0) / nbytes * (load_end - load_start))
        # A byte crosses the link only once the source could write it.
        return accept, max(tx_end, accept), load_start, load_end

    def write_flow(
        self,
        now_ms: float,
        nbytes: int,
        kind: str,
        load_bytes_per_ms: float,
        tx_start: float,
        tx_end: float,
    ) -> Record:
        """Write a flow of bytes as one record (see `flow`); the link and this channel's
        lane are busy until its last byte has crossed."""
        accept, tx_end, load_start, load_end = self.flow(
            now_ms, nbytes, load_bytes_per_ms, tx_start, tx_end
        )
        self.link.free_ms = max(self.link.free_ms, tx_end)
        if self.lane is not None:
            self.lane.free_ms = max(self.lane.free_ms, tx_end)
        self.dest_free_ms = load_end
        record = Record(
            kind,
            nbytes,
            None,
            accept,
            tx_end,
            tx_end + self.link.latency_ms,
            load_start,
            load_end,
            self.written_bytes,
            busy_ms=nbytes / load_bytes_per_ms,
        )
        self.written_bytes += nbytes
        self.records.append(record)
        self.cum_ends.append(self.written_bytes)
        self.load_ends.append(load_end)
        if self.capture is not None:
            self.capture.append(record)
        return record

    def append_settled(
        self, nbytes: int, kind: str, write_ms: float, load_start_ms: float, load_end_ms: float
    ) -> None:
        """The bytes of collapsed passes (collapse.py) as one record, all loaded by
        `load_end_ms`; the link, this channel's lane and its loader are free by then."""
        record = Record(
            kind,
            nbytes,
            None,
            write_ms,
            load_end_ms,
            load_end_ms,
            load_start_ms,
            load_end_ms,
            self.written_bytes,
        )
        self.link.free_ms = max(self.link.free_ms, load_end_ms)
        if self.lane is not None:
            self.lane.free_ms = max(self.lane.free_ms, load_end_ms)
        self.dest_free_ms = max(self.dest_free_ms, load_end_ms)
        self.written_bytes += nbytes
        self.records.append(record)
        self.cum_ends.append(self.written_bytes)
        self.load_ends.append(load_end_ms)
        if self.capture is not None:
            self.capture.append(record)

    def idle_by(self, t_ms: float) -> bool:
        """Nothing of this channel is on the link or queued at its loader at t_ms."""
        return (
            self.dest_free_ms <= t_ms
            and self.link.free_ms <= t_ms
            and (self.lane is None or self.lane.free_ms <= t_ms)
        )

    def loading_at(self, t_ms: float) -> Record | None:
        """The record the destination is loading at t_ms, if any."""
        i = bisect_right(self.load_ends, t_ms, lo=self.head)
        if i < len(self.records) and self.records[i].load_start_ms <= t_ms:
            return self.records[i]
        return None

    @property
    def latency_ms(self) -> float:
        return self.link.latency_ms

    def loaded_bytes(self, t_ms: float) -> int:
        """Bytes the destination has loaded by t_ms."""
        i = bisect_right(self.load_ends, t_ms, lo=self.head)
        done = self.cum_ends[i - 1] if i > 0 else (self.records[0].cum_start if self.records else 0)
        partial = self.records[i].loaded_by(t_ms) if i < len(self.records) else 0.0
        return done + int(partial)

    def device_loaded(self, device: str, t_ms: float) -> tuple[int, int]:
        """(device data bytes loaded, initial bytes loaded) at t_ms."""
        index = self.device_index.get(device)
        return (0, 0) if index is None else index.loaded(t_ms)


@dataclass
class _DeviceIndex:
    """One device's data records: load-end times and running sums, for bisection."""

    records: list[Record] = field(default_factory=list)
    load_ends: list[float] = field(default_factory=list)
    data_sums: list[int] = field(default_factory=list)
    init_sums: list[int] = field(default_factory=list)

    def add(self, record: Record) -> None:
        data = (self.data_sums[-1] if self.data_sums else 0) + record.payload
        init = (self.init_sums[-1] if self.init_sums else 0) + (
            record.payload if record.kind == "vfio_init" else 0
        )
        self.records.append(record)
        self.load_ends.append(record.load_end_ms)
        self.data_sums.append(data)
        self.init_sums.append(init)

    def loaded(self, t_ms: float) -> tuple[int, int]:
        i = bisect_right(self.load_ends, t_ms)
        data = self.data_sums[i - 1] if i else 0
        init = self.init_sums[i - 1] if i else 0
        if i < len(self.records):
            record = self.records[i]
            part = (
                int(record.payload * record.loaded_by(t_ms) / record.nbytes) if record.nbytes else 0
            )
            data += part
            if record.kind == "vfio_init":
                init += part
        return data, init


@dataclass
class Channels:
    """Every channel of one migration, sharing one link: the main channel, and with the
    multifd capability `multifd-channels` channels carrying RAM pages round-robin and (10.0+)
    one stream per device's stop-copy state on channel i mod n."""

    link: Wire
    main: Stream
    lanes: list[Wire] = field(default_factory=list)
    ram: list[Stream] = field(default_factory=list)
    devices: list[Stream] = field(default_factory=list)
    next_ram: int = 0

    @classmethod
    def create(cls, link: Wire, buffer_bytes: int, multifd_channels: int) -> Channels:
        lanes = [Wire(link.bytes_per_ms) for _ in range(multifd_channels)]
        return cls(
            link,
            Stream(link, buffer_bytes),
            lanes,
            [Stream(link, buffer_bytes, lane) for lane in lanes],
        )

    def all(self) -> list[Stream]:
        return [self.main, *self.ram, *self.devices]

    def ram_stream(self) -> Stream:
        """The channel the next RAM chunk goes to: multifd round-robin, else the main one."""
        if not self.ram:
            return self.main
        stream = self.ram[self.next_ram]
        self.next_ram = (self.next_ram + 1) % len(self.ram)
        return stream

    def device_stream(self, index: int) -> tuple[int, Stream]:
        """A new stream for device `index`'s multifd stop-copy state, on channel index mod n;
        the device's load thread on the destination is its loader."""
        lane = index % len(self.lanes)
        stream = Stream(self.link, 2**62, self.lanes[lane], capture=[])
        self.devices.append(stream)
        return lane, stream
