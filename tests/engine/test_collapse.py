"""Runs of alike passes shown as one step (collapse.py) add up to the uncollapsed run."""

import re

import pytest

from app.engine import Scenario
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
    # Each step shows the figures of its last pass: the uncollapsed run's step of that pass,
    # but for where it starts, what the whole run sent, its text, and the dirty log (read
    # when the next pass has started: the guest's writes up to then).
    passes = 0
    for step in collapsed.steps:
        match = COLLAPSED.match(step.decision.reason) if step.phase == "iterate" else None
        passes += int(match.group(1)) if match else 1
        mine, theirs = step.model_dump(), every.steps[passes - 1].model_dump()
        for field in ("index", "t_ms", "pass_sent_bytes", "decision", "ram_dirty_unsynced_bytes"):
            del mine[field], theirs[field]
        assert mine == theirs, step.index
    summary = Simulation(Scenario.model_validate(doc), keep_steps=False).run_summary()
    assert summary.model_dump_json() == every.summary.model_dump_json()
