"""Where a stored run was made, in words, and what that means for re-simulating it.

A run's `export.json` uploaded back is stored as the trace it is (so it re-exports byte for
byte): its `source` and `engine_version` are the other server's. Only `Run.origin` (revision
0008_run_origin) says it was uploaded. Branches, "Compare switchover-ack on/off" and "Simulate
this" run the scenario again with THIS server's engine (`app.__version__`, the version
app.engine.simulation stamps into every trace): when the run's engine_version differs, the
new runs need not replay it, and the pages and the branch API say so instead of refusing.

Equal versions are no proof either: 0.1.0 stamped every engine before the version named the
engine's output (0.2.0, tests/engine/test_engine_version.py), and an upload may be edited. The
wording says "may", never "will".
"""

from __future__ import annotations

from app import __version__
from app.store.models import ORIGIN_UPLOADED, Run

SERVER_ENGINE_VERSION = str(__version__)


def origin_line(run: Run) -> str | None:
    """ "uploaded migscope trace (engine 0.1.0), not simulated on this server" for an uploaded
    run; None for a run made here."""
    if run.origin != ORIGIN_UPLOADED:
        return None
    made = "imported from QEMU logs" if run.source == "import" else "simulated"
    return f"uploaded migscope trace (engine {run.engine_version}), not {made} on this server"


def versions_differ(run: Run) -> bool:
    return run.engine_version != SERVER_ENGINE_VERSION


def branch_warning(run: Run) -> str | None:
    """What a branch of this run cannot promise when its engine is not this server's."""
    if not versions_differ(run):
        return None
    return (
        f"run {run.id} was made by engine {run.engine_version}; this server runs engine "
        f"{SERVER_ENGINE_VERSION}, so the branch's steps 0..N may differ from the run's "
        "(the branch re-simulates the whole scenario with this server's engine)"
    )


def resimulation_note(run: Run) -> str | None:
    """For the run page's buttons that simulate the run's scenario again (compare
    switchover-ack on/off, Simulate this): None when the engines are the same version."""
    if not versions_differ(run):
        return None
    return (
        f"This run was made by engine {run.engine_version}; this server simulates with engine "
        f"{SERVER_ENGINE_VERSION}, so new simulations of it may not match it step for step."
    )


def engine_note(version_a: str | None, version_b: str | None) -> str | None:
    """Two runs made by different engine versions (an uploaded export.json and a branch or
    re-simulation of it here): what their differences may owe to the engines."""
    if version_a == version_b:
        return None
    return (
        f"A was made by engine {version_a}, B by engine {version_b}: some of their differences "
        "may come from the engines, not the runs' settings (a branch may not replay its parent "
        "up to the branch point)."
    )
