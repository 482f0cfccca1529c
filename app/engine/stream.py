"""The single in-order migration stream: source socket, link, destination loader.

QEMU's pre-copy uses one main channel (multifd is not modelled). Records leave the source
in write order, cross the link at its bandwidth, arrive one latency later and are loaded by
the destination strictly in order (savevm.c:qemu_loadvm_state), each with a load cost.
Because the whole pipeline is FIFO, a record's load time is known when it is written.

Back-pressure: the source may have at most `buffer_bytes` written but not yet loaded
(socket buffers on both hosts plus QEMUFile buffers); a write blocks until the destination
has consumed enough. That is how a slow destination lowers the bandwidth QEMU measures.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class Record:
    kind: str  # header, command, ram, vfio_init, vfio_dirty, vfio_stopcopy, marker, config, cpu, eof
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
class Stream:
    link_bytes_per_ms: float
    latency_ms: float
    buffer_bytes: int
    written_bytes: int = 0
    link_free_ms: float = 0.0
    dest_free_ms: float = 0.0
    # Records not yet fully loaded as of the last prune, oldest first.
    pending: deque[Record] = field(default_factory=deque)
    loaded_done_bytes: int = 0
    device_loaded_done: dict[str, int] = field(default_factory=dict)
    init_loaded_done: dict[str, int] = field(default_factory=dict)
    # When set, every record written is also kept here (for the downtime breakdown).
    capture: list[Record] | None = None
    dest_dead: bool = False

    def _time_consumed(self, target_bytes: int) -> float:
        """Earliest time at which the destination has loaded `target_bytes` in total."""
        if target_bytes <= self.loaded_done_bytes:
            return 0.0
        for record in self.pending:
            if record.cum_end >= target_bytes:
                if record.nbytes == 0:
                    return record.load_end_ms
                frac = (target_bytes - record.cum_start) / record.nbytes
                return record.load_start_ms + frac * (record.load_end_ms - record.load_start_ms)
        return self.pending[-1].load_end_ms if self.pending else 0.0

    def prune(self, now_ms: float) -> None:
        while self.pending and self.pending[0].load_end_ms <= now_ms:
            record = self.pending.popleft()
            self.loaded_done_bytes += record.nbytes
            if record.device is not None and record.kind.startswith("vfio_"):
                self.device_loaded_done[record.device] = self.device_loaded_done.get(record.device, 0) + record.payload
                if record.kind == "vfio_init":
                    self.init_loaded_done[record.device] = self.init_loaded_done.get(record.device, 0) + record.payload

    def write(self, now_ms: float, nbytes: int, kind: str, load_cost_ms: float, device: str | None = None, label: str = "", payload: int = 0) -> Record:
        """Write one record; returns it. `record.write_ms` is when the source's write returned."""
        self.prune(now_ms)
        accept = now_ms
        need = self.written_bytes + nbytes - self.buffer_bytes
        if need > 0:
            accept = max(accept, self._time_consumed(need))
        tx_start = max(accept, self.link_free_ms)
        tx_end = tx_start + nbytes / self.link_bytes_per_ms
        arrive = tx_end + self.latency_ms
        if self.dest_dead:
            # A failed destination stops loading; the source finds out over the return path.
            load_start = load_end = arrive
        else:
            load_start = max(arrive, self.dest_free_ms)
            load_end = load_start + load_cost_ms
        self.link_free_ms = tx_end
        self.dest_free_ms = load_end
        record = Record(kind, nbytes, device, accept, tx_end, arrive, load_start, load_end, self.written_bytes, label, payload)
        self.written_bytes += nbytes
        self.pending.append(record)
        if self.capture is not None:
            self.capture.append(record)
        return record

    def loaded_bytes(self, t_ms: float) -> int:
        self.prune(t_ms)
        return self.loaded_done_bytes + int(sum(r.loaded_by(t_ms) for r in self.pending))

    def device_loaded(self, device: str, t_ms: float) -> tuple[int, int]:
        """(device data bytes loaded, initial bytes loaded) at t_ms."""
        self.prune(t_ms)
        data = self.device_loaded_done.get(device, 0)
        init = self.init_loaded_done.get(device, 0)
        for record in self.pending:
            if record.device == device and record.kind.startswith("vfio_"):
                part = int(record.payload * record.loaded_by(t_ms) / record.nbytes) if record.nbytes else 0
                data += part
                if record.kind == "vfio_init":
                    init += part
        return data, init
