"""VFIO devices: what the driver holds (images), QEMU's cached view of it on the source,
and what the destination pays to load it.

The driver's data fd hands out *images*, in order (Linux drivers/vfio/pci/mlx5/main.c):
- the initial image: the stop-copy size header plus the first full SAVE, issued when the
  device enters PRE_COPY (`mlx5vf_pci_save_device_data` with `track`); its size is the
  `initial_bytes` of VFIO_MIG_GET_PRECOPY_INFO (`mlx5vf_save_callback` adds the image size
  to `pre_copy_initial_bytes`);
- incremental pre-copy images of what changed since (`dirty_bytes`), saved when the
  previous data has been read;
- the final image, saved at the STOP_COPY transition (`mlx5vf_pci_save_device_inc_data`),
  readable once the SAVE is done.

The destination driver copies written bytes into a host buffer (`mlx5vf_resume_write`,
`mlx5vf_resume_read_image`) and loads an image with one synchronous
`mlx5vf_cmd_load_vhca_state` when its last byte arrives: the write that completes an image
blocks QEMU's load loop for the whole load, earlier chunks cost a copy. hisi_acc and qat
check compatibility once their setup section is complete; virtio_vfio_pci reads and loads
whole device contexts: all image-granular. `dest_load_granularity: byte` keeps a
per-byte share instead (a device that streams its state in).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import NamedTuple

from .clock import reached
from .scenario import ResolvedDevice
from .vfio import VFIO_MIG_DATA_BUFFER_BYTES, VFIO_MIG_STOP_COPY_SIZE, VfioState, VfioStateMachine

# Source: copying an already-saved image out of the driver's buffers (read() of saved data).
HOST_COPY_BYTES_PER_MS = 8 * 1024**3 / 1000.0


class ImageKind(StrEnum):
    """What an image is; the value is the stream record kind the destination sees."""

    INITIAL = "vfio_init"
    DIRTY = "vfio_dirty"
    FINAL = "vfio_stopcopy"


@dataclass
class Image:
    kind: ImageKind
    total: int
    load_ms: float  # destination cost once complete (mlx5vf_cmd_load_vhca_state)
    saved: bool  # already SAVEd by the device: read() only copies it out
    left: int = -1

    def __post_init__(self) -> None:
        if self.left < 0:
            self.left = self.total


@dataclass(frozen=True)
class Piece:
    """Bytes of one image handed out by one read(); `completes` when they end the image."""

    kind: ImageKind
    nbytes: int
    completes: bool
    image: Image


@dataclass
class DeviceData:
    """The driver's side of the data fd on the source (the kernel truth QEMU asks about)."""

    images: deque[Image] = field(default_factory=deque)
    # Device state changed since the last image was saved (firmware incremental size).
    dirty_accum: float = 0.0
    dirty_rate_bytes_per_ms: float = 0.0
    dirty_max_bytes: float = 0.0
    last_ms: float = 0.0
    # Re-initialised state this QEMU cannot be told about (no VFIO_PRECOPY_INFO_REINIT):
    # it goes with the final image, and its load with it.
    final_extra_bytes: int = 0
    final_extra_load_ms: float = 0.0

    def bytes_left(self, kind: ImageKind) -> int:
        """Bytes left in the saved images of one kind. A plain loop: read for every step and
        gate (sum() over a generator costs more)."""
        left = 0
        for image in self.images:
            if image.kind == kind:
                left += image.left
        return left

    @property
    def init_bytes(self) -> int:
        return self.bytes_left(ImageKind.INITIAL)

    @property
    def dirty_bytes(self) -> int:
        return self.dirty_image_bytes() + int(self.dirty_accum)

    def dirty_image_bytes(self) -> int:
        """Bytes left in saved incremental images (the rest of dirty_bytes is dirty_accum)."""
        return self.bytes_left(ImageKind.DIRTY)

    def dirty_accum_at(self, now_ms: float, dirtying: bool) -> float:
        """The changed state `advance(now_ms, dirtying)` would leave in dirty_accum, computed
        without changing anything: advance is this plus moving last_ms, so the step's
        figure (DeviceRuntime.figures_at) and the run cannot disagree."""
        accum = self.dirty_accum
        # Device dirty data grows while the device runs in pre-copy, up to a cap.
        if dirtying and now_ms > self.last_ms and self.dirty_rate_bytes_per_ms > 0:
            cap = max(self.dirty_max_bytes, accum)
            return min(cap, accum + self.dirty_rate_bytes_per_ms * (now_ms - self.last_ms))
        return accum

    def advance(self, now_ms: float, dirtying: bool) -> None:
        self.dirty_accum = self.dirty_accum_at(now_ms, dirtying)
        self.last_ms = max(self.last_ms, now_ms)

    def read(self, n: int, dirty_load_ms_per_byte: float) -> list[Piece]:
        """One read() of up to n bytes: the rest of the current image, then the next ones;
        changed state becomes a new incremental image once everything saved was read."""
        pieces: list[Piece] = []
        while self.images and self.images[0].left == 0:
            self.images.popleft()  # an empty image (a re-initialisation of 0 bytes) hands out nothing
        while n > 0:
            if not self.images:
                if int(self.dirty_accum) <= 0:
                    break
                size = int(self.dirty_accum)
                self.dirty_accum -= size
                self.images.append(
                    Image(ImageKind.DIRTY, size, size * dirty_load_ms_per_byte, saved=False)
                )
            image = self.images[0]
            take = min(n, image.left)
            image.left -= take
            n -= take
            done = image.left == 0
            if done:
                self.images.popleft()
            pieces.append(Piece(image.kind, take, done, image))
        return pieces


# A re-initialisation: at_ms, new initial bytes, destination load ms.
Reinit = tuple[float, int, float]


class DeviceFigures(NamedTuple):
    """What the driver holds at a moment (DeviceRuntime.figures_at)."""

    init_bytes: int
    dirty_bytes: int
    stop_copy_length_bytes: int


@dataclass
class DeviceRuntime:
    spec: ResolvedDevice
    src: VfioStateMachine
    dst: VfioStateMachine
    data: DeviceData
    # QEMU's cached precopy_init_size / precopy_dirty_size (hw/vfio/migration.c).
    init_est: int = 0
    dirty_est: int = 0
    chunk_bytes: int = VFIO_MIG_DATA_BUFFER_BYTES
    initial_data_sent: bool = False
    init_data_sent_at_ms: float | None = None
    init_data_loaded_at_ms: float | None = None
    sent_bytes: int = 0
    precopy_sent_bytes: int = 0
    stopcopy_sent_bytes: int = 0
    initial_total_bytes: int = 0
    # When the final image's SAVE (started at the STOP_COPY transition) is readable.
    final_ready_ms: float | None = None
    # 2026 profile: time this device's current ack reaches the source (None: not acked).
    ack_arrival_ms: float | None = None
    reinit_queue: list[Reinit] = field(default_factory=list)
    reinit_pending_report: bool = False

    @classmethod
    def create(cls, spec: ResolvedDevice, *, p2p_states: bool) -> DeviceRuntime:
        p2p = spec.p2p and p2p_states
        data = DeviceData(
            dirty_rate_bytes_per_ms=spec.dirty_rate_bytes_per_s / 1000.0 if spec.precopy else 0.0,
            dirty_max_bytes=float(spec.dirty_max_bytes),
        )
        if spec.precopy and spec.initial_bytes > 0:
            data.images.append(
                Image(
                    ImageKind.INITIAL,
                    spec.initial_bytes,
                    spec.dest_initial_load_ms,
                    saved=spec.setup_saves_initial_image,
                )
            )
        reinits = []
        for r in spec.reinit:
            scaled = (
                spec.dest_initial_load_ms * r.initial_bytes / spec.initial_bytes
                if spec.initial_bytes
                else 0.0
            )
            reinits.append(
                (r.at_ms, r.initial_bytes, scaled if r.dest_load_ms is None else r.dest_load_ms)
            )
        return cls(
            spec=spec,
            src=VfioStateMachine(p2p=p2p, precopy=spec.precopy),
            dst=VfioStateMachine(p2p=p2p, precopy=spec.precopy),
            data=data,
            initial_total_bytes=spec.initial_bytes if spec.precopy else 0,
            reinit_queue=sorted(reinits),
        )

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def needs_ack(self) -> bool:
        # vfio_switchover_ack_needed: the destination device advertises PRE_COPY.
        return self.spec.precopy

    @property
    def image_granular(self) -> bool:
        return self.spec.dest_load_granularity == "image"

    def query_stop_copy_length(self) -> int:
        """vfio_query_stop_copy_size (VFIO_DEVICE_FEATURE_MIG_DATA_SIZE); QEMU assumes
        100 GiB when the ioctl fails. mlx5 reports the full state size
        (mlx5vf_pci_get_data_size), whatever is left to read."""
        return self._stop_copy_length(None)

    def _stop_copy_length(self, dirty_bytes: int | None) -> int:
        """query_stop_copy_length with the driver's dirty bytes given (None: as they are)."""
        if self.spec.stop_copy_query_fails:
            return VFIO_MIG_STOP_COPY_SIZE
        if self.spec.reported_stop_copy_bytes is not None:
            return self.spec.reported_stop_copy_bytes + self.data.final_extra_bytes
        # Without a reported size: the rest of the pre-copy data plus the final image (the
        # rationale of QEMU commit 3b5948f808e3: stop_copy_length covers pre-copy data).
        return (
            self.spec.stop_copy_bytes
            + self.data.init_bytes
            + (self.data.dirty_bytes if dirty_bytes is None else dirty_bytes)
            + self.data.final_extra_bytes
        )

    def advance(self, now_ms: float, running: bool, reusable_ack: bool) -> list[Reinit]:
        """Bring the driver's data to now_ms: the re-initialisations due by then (only in
        pre-copy: the driver re-initialises its pre-copy data), then the changed state
        growing while the device is in pre-copy and the guest runs. Returns the
        re-initialisations applied (Simulation.advance_dirtying logs them)."""
        applied: list[Reinit] = []
        queue = self.reinit_queue
        while queue and reached(now_ms, queue[0][0]) and self.src.in_precopy:
            due = queue.pop(0)
            self.reinit(due[0], due[1], due[2], reusable_ack)
            applied.append(due)
        self.data.advance(now_ms, self.src.in_precopy and running)
        return applied

    def figures_at(self, now_ms: float, running: bool, reusable_ack: bool) -> DeviceFigures:
        """The driver's figures at now_ms, what `advance(now_ms, running, reusable_ack)` would
        leave, without changing anything: a step shows the device as of its end (end_ms),
        not as the pass last advanced it (its top, the exact query, a read).

        The common case is DeviceData.dirty_accum_at, advance's own arithmetic. A
        re-initialisation due by now_ms that no advance has applied yet happened in the
        device at its at_ms, so the driver answers with it at now_ms: with
        VFIO_PRECOPY_INFO_REINIT its new initial image in initial_bytes and dirty_bytes
        restarted (mlx5vf_precopy_ioctl answers from the driver's current state); without
        it the new state in the full size mlx5vf_pci_get_data_size reports. That case runs
        advance on a copy (reinit mutates images; it is rare: once per re-initialisation),
        so the figures are those the next advance will set, by the same code."""
        queue = self.reinit_queue
        if queue and self.src.in_precopy and reached(now_ms, queue[0][0]):
            ahead = replace(
                self,
                data=replace(self.data, images=deque(self.data.images)),
                reinit_queue=list(queue),
            )
            ahead.advance(now_ms, running, reusable_ack)
            return ahead.figures_at(now_ms, running, reusable_ack)
        data = self.data
        dirty = data.dirty_image_bytes() + int(
            data.dirty_accum_at(now_ms, self.src.in_precopy and running)
        )
        return DeviceFigures(data.init_bytes, dirty, self._stop_copy_length(dirty))

    def precopy_estimate(self) -> int:
        """vfio_state_pending_estimate: cached init + dirty, only while in pre-copy."""
        return self.init_est + self.dirty_est if self.src.in_precopy else 0

    def refresh_estimates(self) -> None:
        """vfio_query_precopy_size: QEMU's cache takes the driver's current figures."""
        self.init_est = self.data.init_bytes
        self.dirty_est = self.data.dirty_bytes

    def setup_save_ms(self) -> float:
        """vfio_save_setup waits for the first SAVE when the driver issues it at PRE_COPY entry."""
        if not (self.spec.precopy and self.spec.setup_saves_initial_image):
            return 0.0
        return self.initial_total_bytes / (self.spec.read_bytes_per_s / 1000.0)

    def read_cost_ms(self, pieces: list[Piece]) -> float:
        """Source time for one read(): saved images are copied out, the rest is paced by
        the device's SAVE rate."""
        ms = 0.0
        for piece in pieces:
            rate = (
                HOST_COPY_BYTES_PER_MS if piece.image.saved else self.spec.read_bytes_per_s / 1000.0
            )
            ms += piece.nbytes / rate
        return ms

    def dirty_load_ms_per_byte(self) -> float:
        return 1.0 / (self.spec.dest_load_bytes_per_s / 1000.0)

    def read(self, n: int) -> list[Piece]:
        return self.data.read(n, self.dirty_load_ms_per_byte())

    def start_final_save(self, t_ms: float) -> None:
        """The STOP_COPY transition starts the final SAVE (mlx5vf_pci_save_device_inc_data);
        read() waits for it (mlx5vf_save_read blocks until a buffer is ready)."""
        if self.final_ready_ms is not None:
            return
        extra = self.data.final_extra_bytes
        size = int(self.data.dirty_accum) + self.spec.stop_copy_bytes + extra
        self.data.dirty_accum = 0.0
        load_ms = (size - extra) * self.dirty_load_ms_per_byte() + self.data.final_extra_load_ms
        if size > 0:
            self.data.images.append(Image(ImageKind.FINAL, size, load_ms, saved=True))
        self.final_ready_ms = t_ms + size / (self.spec.read_bytes_per_s / 1000.0)

    def dest_cost_ms(self, piece: Piece) -> float:
        """Destination cost of one written piece: a copy, plus the image's load when the
        piece completes it (image granularity), or its per-byte share (byte granularity)."""
        copy = piece.nbytes / (self.spec.dest_write_bytes_per_s / 1000.0)
        if self.image_granular:
            return copy + (piece.image.load_ms if piece.completes else 0.0)
        share = piece.image.load_ms * piece.nbytes / piece.image.total if piece.image.total else 0.0
        return copy + share

    def reinit(self, at_ms: float, init_bytes: int, load_ms: float, reusable_ack: bool) -> None:
        """The driver re-initialises mid pre-copy. With VFIO_PRECOPY_INFO_REINIT (proposed
        2026) it is a new initial image; without it, the new state waits for the final
        image and its load lands in the downtime."""
        self.data.advance(at_ms, True)
        if reusable_ack:
            # Unread incremental images are superseded by the new initial image.
            self.data.images = deque(
                i for i in self.data.images if i.kind != ImageKind.DIRTY or i.left != i.total
            )
            self.data.images.append(
                Image(
                    ImageKind.INITIAL,
                    init_bytes,
                    load_ms,
                    saved=self.spec.setup_saves_initial_image,
                )
            )
            self.data.dirty_accum = 0.0
            self.initial_total_bytes += init_bytes
            self.reinit_pending_report = True
        else:
            self.data.final_extra_bytes += init_bytes
            self.data.final_extra_load_ms += load_ms

    def in_state(self, *states: VfioState) -> bool:
        return self.src.state in states
