import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine.vfio import (
    _ARCS_FULL,
    IllegalTransition,
    S,
    VfioState,
    VfioStateMachine,
    transition_path,
)


def test_kernel_decompositions():
    assert transition_path(S.PRE_COPY, S.STOP_COPY, p2p=True, precopy=True) == [
        S.PRE_COPY_P2P,
        S.STOP_COPY,
    ]
    assert transition_path(S.PRE_COPY, S.STOP_COPY, p2p=False, precopy=True) == [S.STOP_COPY]
    assert transition_path(S.RUNNING, S.STOP, p2p=True, precopy=True) == [S.RUNNING_P2P, S.STOP]
    assert transition_path(S.RESUMING, S.RUNNING, p2p=True, precopy=True) == [
        S.STOP,
        S.RUNNING_P2P,
        S.RUNNING,
    ]
    assert transition_path(S.RUNNING, S.RESUMING, p2p=False, precopy=False) == [S.STOP, S.RESUMING]


@pytest.mark.parametrize("target", [S.PRE_COPY, S.PRE_COPY_P2P, S.ERROR])
def test_stop_copy_never_returns_to_pre_copy(target):
    with pytest.raises(IllegalTransition):
        transition_path(S.STOP_COPY, target, p2p=True, precopy=True)


def test_pre_copy_unsupported_state_is_refused():
    with pytest.raises(IllegalTransition):
        transition_path(S.RUNNING, S.PRE_COPY, p2p=True, precopy=False)


def _legal(a: VfioState, b: VfioState, p2p: bool) -> bool:
    if b in _ARCS_FULL[a]:
        return True
    # Without P2P the kernel skips the P2P states: these arcs collapse to direct ones.
    return not p2p and (a, b) in {
        (S.RUNNING, S.STOP),
        (S.STOP, S.RUNNING),
        (S.PRE_COPY, S.STOP_COPY),
    }


@settings(max_examples=200, deadline=None)
@given(
    p2p=st.booleans(),
    precopy=st.booleans(),
    requests=st.lists(st.sampled_from(list(VfioState)), max_size=12),
)
def test_state_machine_only_takes_legal_arcs(p2p, precopy, requests):
    machine = VfioStateMachine(p2p=p2p, precopy=precopy)
    for target in requests:
        before = machine.state
        try:
            arcs = machine.request(target)
        except IllegalTransition:
            assert machine.state == before  # a refused request changes nothing
            continue
        assert machine.state == target
        for a, b in arcs:
            assert _legal(a, b, p2p), (a, b)
            if not p2p:
                assert b not in (S.RUNNING_P2P, S.PRE_COPY_P2P)
            if not precopy:
                assert b not in (S.PRE_COPY, S.PRE_COPY_P2P)
