"""VFIO device migration state machine and the device model.

States and arcs follow Linux `include/uapi/linux/vfio.h` and
`drivers/vfio/vfio_main.c:vfio_mig_get_next_state`. A request to a state that is not one
arc away is decomposed into the shortest path of legal arcs, as the kernel does; a request
with no legal path (STOP_COPY -> PRE_COPY, anything -> ERROR) raises IllegalTransition.
The only way to change a device's state is `VfioStateMachine.request`, so an illegal
transition cannot happen silently.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache


class VfioState(StrEnum):
    ERROR = "ERROR"
    STOP = "STOP"
    RUNNING = "RUNNING"
    STOP_COPY = "STOP_COPY"
    RESUMING = "RESUMING"
    RUNNING_P2P = "RUNNING_P2P"
    PRE_COPY = "PRE_COPY"
    PRE_COPY_P2P = "PRE_COPY_P2P"


S = VfioState

# Direct arcs of the kernel FSM (devices that support P2P and PRE_COPY).
_ARCS_FULL: dict[VfioState, frozenset[VfioState]] = {
    S.RUNNING: frozenset({S.RUNNING_P2P, S.PRE_COPY}),
    S.RUNNING_P2P: frozenset({S.STOP, S.RUNNING, S.PRE_COPY_P2P}),
    S.STOP: frozenset({S.RUNNING_P2P, S.STOP_COPY, S.RESUMING}),
    S.STOP_COPY: frozenset({S.STOP}),
    S.RESUMING: frozenset({S.STOP}),
    S.PRE_COPY: frozenset({S.RUNNING, S.PRE_COPY_P2P}),
    S.PRE_COPY_P2P: frozenset({S.RUNNING_P2P, S.PRE_COPY, S.STOP_COPY}),
    S.ERROR: frozenset(),
}
_SAVING_GROUP = frozenset({S.PRE_COPY, S.PRE_COPY_P2P, S.STOP_COPY})
# The kernel table maps these requests to ERROR: stop-copy data cannot turn back into
# pre-copy data, and ERROR is only ever fallen into.
_FORBIDDEN = frozenset(
    {(S.STOP_COPY, S.PRE_COPY), (S.STOP_COPY, S.PRE_COPY_P2P)}
    | {(state, S.ERROR) for state in VfioState}
)


class IllegalTransition(Exception):
    pass


def _arcs(p2p: bool, precopy: bool) -> dict[VfioState, frozenset[VfioState]]:
    """Arcs for a device's feature set: unsupported optional states are skipped, as in
    vfio_mig_get_next_state (e.g. RUNNING -> STOP is direct without P2P)."""
    arcs = {state: set(targets) for state, targets in _ARCS_FULL.items()}
    removed: set[VfioState] = set()
    if not p2p:
        removed |= {S.RUNNING_P2P, S.PRE_COPY_P2P}
        arcs[S.RUNNING].add(S.STOP)
        arcs[S.STOP].add(S.RUNNING)
        arcs[S.PRE_COPY].add(S.STOP_COPY)
    if not precopy:
        removed |= {S.PRE_COPY, S.PRE_COPY_P2P}
    return {
        state: frozenset(t for t in targets if t not in removed)
        for state, targets in arcs.items()
        if state not in removed
    }


def transition_path(
    current: VfioState, target: VfioState, *, p2p: bool, precopy: bool
) -> list[VfioState]:
    """Shortest legal path (excluding `current`), never passing *through* a saving-group
    state from outside it, nor through RESUMING or ERROR."""
    # A pure function of four small values, asked at every device transition: worked out
    # once (an illegal request raises every time: exceptions are not cached).
    return list(_transition_path(current, target, p2p, precopy))


@cache
def _transition_path(
    current: VfioState, target: VfioState, p2p: bool, precopy: bool
) -> tuple[VfioState, ...]:
    if current == target:
        return ()
    if (current, target) in _FORBIDDEN:
        raise IllegalTransition(
            f"{current.value} -> {target.value} is not allowed by the VFIO migration protocol"
        )
    arcs = _arcs(p2p, precopy)
    if current not in arcs or target not in arcs:
        raise IllegalTransition(
            f"{current.value} -> {target.value}: state not supported by this device"
        )
    start_in_saving = current in _SAVING_GROUP
    previous: dict[VfioState, VfioState] = {}
    queue: deque[VfioState] = deque([current])
    seen = {current}
    while queue:
        state = queue.popleft()
        for nxt in sorted(arcs[state], key=lambda s: s.value):
            if nxt in seen:
                continue
            if nxt != target:
                if nxt in (S.RESUMING, S.ERROR):
                    continue
                if nxt in _SAVING_GROUP and not (start_in_saving and state in _SAVING_GROUP):
                    continue
            previous[nxt] = state
            if nxt == target:
                path = [nxt]
                while path[-1] != current and previous[path[-1]] != current:
                    path.append(previous[path[-1]])
                return tuple(reversed(path))
            seen.add(nxt)
            queue.append(nxt)
    raise IllegalTransition(
        f"{current.value} -> {target.value} is not allowed by the VFIO migration protocol"
    )


@dataclass
class VfioStateMachine:
    p2p: bool
    precopy: bool
    state: VfioState = S.RUNNING
    history: list[tuple[VfioState, VfioState]] = field(default_factory=list)

    def request(self, target: VfioState) -> list[tuple[VfioState, VfioState]]:
        """Move to `target` through legal arcs; return the arcs taken."""
        arcs: list[tuple[VfioState, VfioState]] = []
        for nxt in transition_path(self.state, target, p2p=self.p2p, precopy=self.precopy):
            arcs.append((self.state, nxt))
            self.state = nxt
        self.history.extend(arcs)
        return arcs

    @property
    def in_precopy(self) -> bool:
        return self.state in (S.PRE_COPY, S.PRE_COPY_P2P)


# QEMU's fallback when VFIO_DEVICE_FEATURE_MIG_DATA_SIZE fails (VFIO_MIG_STOP_COPY_SIZE).
VFIO_MIG_STOP_COPY_SIZE = 100 * 1024**3
# VFIO_MIG_DEFAULT_DATA_BUFFER_SIZE: one read() per iterate call reads at most this.
VFIO_MIG_DATA_BUFFER_BYTES = 1024**2
