"""Runs of alike passes shown as one step (collapse.py) add up to the uncollapsed run."""

import bisect
import re

import pytest

from app.engine import Scenario
from app.engine.examples import EXAMPLES, load_example
from app.engine.ram import PAGE_BYTES
from app.engine.simulation import Simulation
from app.engine.trace import Summary, Trace

from .helpers import scenario

# A device whose stop-copy size query fails (QEMU assumes 100 GiB): the migration spins
# through exact-query passes of one bitmap sync each, ~2,000 per simulated second.
NEVER_FITS = scenario(
    guest={
        "ram_bytes": "512 MiB",
        "working_set_bytes": "64 MiB",
        "dirty_rate_bytes_per_s": "6 MiB",
    },
    params={"avail_switchover_bandwidth_bytes_per_s": "10 Gbit"},
    caps={"source": ["return-path"], "destination": ["return-path"]},
    devices=[{"name": "vf0", "preset": "mlx5-cx7-vf-100mib", "stop_copy_query_fails": True}],
    max_time_ms=600,
)
COLLAPSED = re.compile(r"^(\d+) passes alike, shown as one step")


def _run(doc: dict[str, object], collapse: bool, max_steps: int | None = None) -> Trace:
    sim = Simulation(Scenario.model_validate(doc), max_steps=max_steps, collapse=collapse)
    return sim.run()


def _passes_of(trace: Trace) -> int:
    """Passes the iterate steps stand for: one each, or the count a collapsed step states."""
    total = 0
    for step in trace.steps:
        if step.phase == "iterate":
            match = COLLAPSED.match(step.decision.reason)
            total += int(match.group(1)) if match else 1
    return total


def _same(a: Summary, b: Summary) -> None:
    for field in Summary.model_fields:
        assert getattr(a, field) == getattr(b, field), field


def _each_step_shows_its_last_pass(collapsed: Trace, every: Trace) -> None:
    """Each collapsed step shows the figures of its last pass: the uncollapsed run's step of
    that pass, field for field (devices, gates and the guest's writes not yet synced at the
    step's end included), but for its index, where it starts, what the whole run sent and
    its text."""
    passes = 0
    for step in collapsed.steps:
        match = COLLAPSED.match(step.decision.reason) if step.phase == "iterate" else None
        passes += int(match.group(1)) if match else 1
        mine, theirs = step.model_dump(), every.steps[passes - 1].model_dump()
        for field in ("index", "t_ms", "pass_sent_bytes", "decision"):
            del mine[field], theirs[field]
        assert mine == theirs, (step.index, [k for k in mine if mine[k] != theirs[k]])
    assert passes == len(every.steps)


def test_collapsed_run_adds_up_to_the_uncollapsed_one_field_by_field() -> None:
    collapsed, every = _run(NEVER_FITS, True), _run(NEVER_FITS, False)
    _same(collapsed.summary, every.summary)
    assert collapsed.summary.status == "cancelled"
    assert collapsed.summary.passes is not None and collapsed.summary.passes > 1000
    # Far fewer steps, each collapsed one saying how many passes it stands for and why.
    assert len(collapsed.steps) * 10 < len(every.steps)
    assert _passes_of(collapsed) == _passes_of(every) == collapsed.summary.passes
    runs = [s for s in collapsed.steps if COLLAPSED.match(s.decision.reason)]
    assert runs and all("exact pending query" in s.decision.reason for s in runs)
    _each_step_shows_its_last_pass(collapsed, every)
    assert {s.decision.qemu_function for s in runs} == {"migration_iteration_run"}
    # The last step, the bytes and the syncs are those of the uncollapsed run.
    assert collapsed.steps[-1].model_dump() == {
        **every.steps[-1].model_dump(),
        "index": collapsed.steps[-1].index,
    }
    last_sync = [e for e in collapsed.events if e.kind == "bitmap_sync"][-1]
    assert last_sync.data["dirty_sync_count"] == every.summary.dirty_sync_count
    windows = [e.t_ms for e in collapsed.events if e.kind == "window"]
    assert windows == [e.t_ms for e in every.events if e.kind == "window"]


def test_step_limit_ends_both_at_the_same_pass() -> None:
    # Each pass a collapsed step stands for counts for the limit.
    collapsed, every = _run(NEVER_FITS, True, 400), _run(NEVER_FITS, False, 400)
    assert every.summary.status == "cancelled" and "step limit" in every.summary.reason
    _same(collapsed.summary, every.summary)
    _each_step_shows_its_last_pass(collapsed, every)


@pytest.mark.parametrize("collapse", [True, False])
def test_summary_only_run_collapses_the_same_way(collapse: bool) -> None:
    doc = Scenario.model_validate(NEVER_FITS)
    full = Simulation(doc, collapse=collapse).run().summary
    summary = Simulation(doc, keep_steps=False, collapse=collapse).run_summary()
    assert summary.model_dump_json() == full.model_dump_json()


# A guest dirtying faster than max-bandwidth lets it send: budget-bound passes, one per
# 100 ms window, each sending the window's budget and sleeping until the window ends.
BUDGET_BOUND = scenario(
    guest={
        "ram_bytes": "1 GiB",
        "working_set_bytes": "512 MiB",
        "dirty_rate_bytes_per_s": "256 MiB",
        "zero_page_fraction": 0.5,
    },
    params={"max_bandwidth_bytes_per_s": "64 MiB"},
    caps={"source": ["return-path"], "destination": ["return-path"]},
    devices=[{"name": "vf0", "preset": "mlx5-cx7-vf-100mib"}],
    max_time_ms=4000,
)


def test_budget_bound_passes_collapse_to_the_same_totals() -> None:
    collapsed, every = _run(BUDGET_BOUND, True), _run(BUDGET_BOUND, False)
    _same(collapsed.summary, every.summary)
    assert len(collapsed.steps) * 5 < len(every.steps)
    assert _passes_of(collapsed) == _passes_of(every) == collapsed.summary.passes
    runs = [s for s in collapsed.steps if COLLAPSED.match(s.decision.reason)]
    assert runs and all("max-bandwidth budget" in s.decision.reason for s in runs)
    assert all("sleep" in s.decision.reason for s in runs)
    _each_step_shows_its_last_pass(collapsed, every)
    windows = [(e.t_ms, e.data) for e in collapsed.events if e.kind == "window"]
    assert windows == [(e.t_ms, e.data) for e in every.events if e.kind == "window"]
    assert collapsed.steps[-1].model_dump() == {
        **every.steps[-1].model_dump(),
        "index": collapsed.steps[-1].index,
    }


def test_collapsed_trace_is_deterministic_and_valid() -> None:
    first, second = _run(NEVER_FITS, True), _run(NEVER_FITS, True)
    assert first.to_json() == second.to_json()
    # Built without validation, it still validates as a trace (same shape as any run).
    assert Trace.from_json(first.to_json()).to_json() == first.to_json()


# Budget-bound passes that each take the exact query: the budget binds (the guest dirties
# 4x what max-bandwidth sends), the estimate fits the avail-switchover-bandwidth threshold,
# the exact size never does (a failed stop-copy query counts 100 GiB; the vGPU's 2 GiB image).
# The devices are starved; the vGPU's and the RDMA VF's dirty data grow between the queries.
@pytest.mark.parametrize("pattern", ["uniform", "sequential", "hot_cold"])
@pytest.mark.parametrize(
    ("preset", "query_fails", "avail"),
    [
        ("mlx5-cx7-vf-100mib", True, "10 Gbit"),
        ("vgpu-illustrative", True, "100 Gbit"),
        ("vgpu-illustrative", False, "40 Gbit"),
        ("mlx5-cx7-vf-1gb-rdma", True, "100 Gbit"),
    ],
)
def test_budget_bound_exact_query_passes_collapse_to_the_same_run(
    pattern: str, preset: str, query_fails: bool, avail: str
) -> None:
    doc = scenario(
        guest={
            "ram_bytes": "256 MiB",
            "working_set_bytes": "128 MiB",
            "dirty_rate_bytes_per_s": "256 MiB",
            "zero_page_fraction": 0.5,
            "dirty_pattern": pattern,
        },
        params={
            "max_bandwidth_bytes_per_s": "64 MiB",
            "avail_switchover_bandwidth_bytes_per_s": avail,
        },
        caps={"source": ["return-path"], "destination": ["return-path"]},
        devices=[{"name": "vf0", "preset": preset, "stop_copy_query_fails": query_fails}],
        max_time_ms=6000,
    )
    collapsed, every = _run(doc, True), _run(doc, False)
    _same(collapsed.summary, every.summary)
    assert _passes_of(collapsed) == _passes_of(every) == collapsed.summary.passes
    runs = [
        int(match.group(1))
        for s in collapsed.steps
        if (match := COLLAPSED.match(s.decision.reason))
        and "exact pending query" in s.decision.reason
        and "max-bandwidth budget" in s.decision.reason
    ]
    assert runs and max(runs) >= 20
    windows = [(e.t_ms, e.data) for e in collapsed.events if e.kind == "window"]
    assert windows == [(e.t_ms, e.data) for e in every.events if e.kind == "window"]
    _each_step_shows_its_last_pass(collapsed, every)
    summary = Simulation(Scenario.model_validate(doc), keep_steps=False).run_summary()
    assert summary.model_dump_json() == every.summary.model_dump_json()


# The examples whose runs collapse (every kind: drained exact-query passes, budget-bound
# passes with and without the exact query, multifd channels, a busy channel, passes cut by
# the 50 ms slice).
COLLAPSING_EXAMPLES = [
    "ack-source-only",
    "ack-without-avail-bw-never-converges",
    "busy-guest-8.1",
    "mlx5-300mb-ack",
    "mlx5-300mb-default-params",
    "multifd-4-vfs",
    "reference-bench",
    "stop-copy-query-fails",
    "zero-devices",
]


@pytest.mark.parametrize("name", COLLAPSING_EXAMPLES)
def test_every_collapsed_step_of_an_example_shows_its_last_pass(name: str) -> None:
    doc = load_example(name)
    collapsed, every = _run(doc, True), _run(doc, False)
    assert len(collapsed.steps) < len(every.steps), "the example no longer collapses"
    _same(collapsed.summary, every.summary)
    _each_step_shows_its_last_pass(collapsed, every)


@pytest.mark.parametrize("name", sorted(set(EXAMPLES) - set(COLLAPSING_EXAMPLES)))
def test_the_other_examples_do_not_collapse(name: str) -> None:
    # So COLLAPSING_EXAMPLES is every example with a run to collapse.
    doc = load_example(name)
    assert _run(doc, True).to_json() == _run(doc, False).to_json()


# The fixtures' guest: one write per page, sweeping a working set far larger than the
# writes between two syncs, so the dirty log holds every write since the last sync.
SWEEP = scenario(
    guest={
        "ram_bytes": "1 GiB",
        "working_set_bytes": "512 MiB",
        "dirty_rate_bytes_per_s": "64 MiB",
        "zero_page_fraction": 0.5,
        "dirty_pattern": "sequential",
    },
    params={"max_bandwidth_bytes_per_s": "128 MiB", "downtime_limit_ms": 300},
    caps={"source": ["return-path"], "destination": ["return-path"]},
    devices=[{"name": "vf0", "preset": "mlx5-cx7-vf-100mib", "stop_copy_query_fails": True}],
    max_time_ms=12000,
)


@pytest.mark.parametrize("collapse", [True, False])
def test_unsynced_bytes_are_the_guest_writes_since_the_last_sync_at_the_step_end(
    collapse: bool,
) -> None:
    # The guest keeps writing while a pass sends and sleeps; QEMU harvests the log only at a
    # bitmap sync. A step's ram_dirty_unsynced_bytes is the log as of its end_ms: 64 MiB/s
    # times the time since the last sync (within the page the sync leaves in the log and
    # one page of rounding), whatever the pass did last before it ended.
    trace = _run(SWEEP, collapse)
    syncs = [e.t_ms for e in trace.events if e.kind == "bitmap_sync"]
    assert syncs == sorted(syncs) and syncs[0] <= trace.steps[0].end_ms
    bytes_per_ms = 64 * 1024 * 1024 / 1000.0
    checked = 0
    for step in trace.steps:
        if step.phase not in ("setup", "iterate") or not step.vm_running:
            continue
        last_sync = syncs[bisect.bisect_right(syncs, step.end_ms) - 1]  # syncs are in time order
        expected = bytes_per_ms * (step.end_ms - last_sync)
        unsynced = step.ram_dirty_unsynced_bytes
        assert unsynced is not None
        assert abs(unsynced - expected) <= 2 * PAGE_BYTES, (step.index, unsynced, expected)
        checked += 1
    assert checked >= 20


def _busy_guest(**changes: object) -> dict[str, object]:
    doc = load_example("busy-guest-8.1")
    doc.update(changes)
    return doc


_MULTIFD = ["return-path", "switchover-ack", "multifd"]

# Passes cut by ram_save_iterate's 50 ms slice with no max-bandwidth: the example (8.1 stops
# the handler walk after RAM), 9.0 (the device sends its initial bytes after RAM), no device,
# multifd channels, no switchover-ack, the guest paused by a time-keyed action (its passes
# then drain RAM and the run completes), and the step limit ending the run mid-run.
SLICE_CUT = {
    "example": (_busy_guest(), None),
    "9.0": (_busy_guest(qemu_profile="9.0"), None),
    "no-device": (_busy_guest(devices=[]), None),
    "multifd": (_busy_guest(caps={"source": _MULTIFD, "destination": _MULTIFD}), None),
    "no-ack": (
        _busy_guest(caps={"source": ["return-path"], "destination": ["return-path"]}),
        None,
    ),
    "paused": (_busy_guest(actions=[{"kind": "pause_guest", "at_ms": 5000}]), None),
    "step-limit": (_busy_guest(), 130),
}


@pytest.mark.parametrize("name", list(SLICE_CUT))
def test_passes_cut_by_the_slice_collapse_to_the_same_run(name: str) -> None:
    doc, max_steps = SLICE_CUT[name]
    collapsed, every = _run(doc, True, max_steps), _run(doc, False, max_steps)
    _same(collapsed.summary, every.summary)
    assert _passes_of(collapsed) == _passes_of(every) == collapsed.summary.passes
    assert len(collapsed.steps) * 2 < len(every.steps)
    _each_step_shows_its_last_pass(collapsed, every)
    runs = [
        (int(match.group(1)), s)
        for s in collapsed.steps
        if (match := COLLAPSED.match(s.decision.reason))
    ]
    assert runs and max(n for n, _ in runs) >= 10
    for _, step in runs:
        assert "ram_save_iterate's 50 ms slice (MAX_WAIT)" in step.decision.reason
        assert step.decision.qemu_function == "migration_iteration_run"
    # What the run sent is what its passes sent, one by one.
    assert sum(s.pass_sent_bytes or 0 for s in collapsed.steps) == sum(
        s.pass_sent_bytes or 0 for s in every.steps
    )

    # Every event (window closes, syncs, device and ack events) is the uncollapsed run's,
    # at the same time with the same data; only the step it belongs to is the collapsed one.
    def events(trace: Trace) -> list[tuple[object, ...]]:
        return [(e.t_ms, e.kind, e.detail, e.data) for e in trace.events]

    assert events(collapsed) == events(every)
    steps = {s.index: s for s in collapsed.steps}
    for event in collapsed.events:
        step = steps[event.step]
        assert event.t_ms <= step.end_ms + 1e-3 or step.index == collapsed.steps[-1].index
    summary = Simulation(
        Scenario.model_validate(doc), max_steps=max_steps, keep_steps=False
    ).run_summary()
    assert summary.model_dump_json() == every.summary.model_dump_json()


@pytest.mark.parametrize("after_step", [1, 2, 5])
def test_a_step_keyed_action_after_a_run_cut_by_the_slice_applies_at_its_end(
    after_step: int,
) -> None:
    # The run of alike passes ends when a pass that differs has run; the branch is run again
    # to the step and the action applies at the first pass after it, as after any step.
    parent = _run(_busy_guest(), True)
    assert COLLAPSED.match(parent.steps[1].decision.reason)
    doc = _busy_guest(
        actions=[{"after_step": after_step, "kind": "set_parameters", "downtime_limit_ms": 2000}]
    )
    branch = _run(doc, True)
    dumped = [s.model_dump() for s in branch.steps[: after_step + 1]]
    assert dumped == [s.model_dump() for s in parent.steps[: after_step + 1]]
    assert branch.summary.actions_at_ms == [parent.steps[after_step].end_ms]
    [applied] = [e for e in branch.events if e.kind == "set_parameters"]
    assert applied.step == after_step + 1
