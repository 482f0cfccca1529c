"""How a stored run's steps show its pre-copy passes, in words: every pass, or how many
steps stand for how many passes (runs of alike passes collapsed, app/engine/collapse.py).
What the run's JSON (`passes_shown`), its page and `migscope simulate` say.

Light on purpose: `migscope simulate` imports it, and must not load the store or the web
libraries (tests/test_cli.py), so they are imported only by run_passes_shown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.engine.trace import PASS_PHASES

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.store.models import Run


def passes_shown(every_pass: bool, source: str | None, pass_steps: int, passes: int | None) -> str:
    """How the run's steps show its pre-copy passes, in words: every pass, or how many steps
    stand for how many passes (`pass_steps`: the run's steps in PASS_PHASES)."""
    if source == "import":
        return "one step per pass QEMU logged"
    if every_pass:
        return "every pass: one step per pre-copy pass"
    if passes is None or passes <= pass_steps:
        return "alike passes collapsed: none were alike here, one step per pass"
    return (
        f"alike passes collapsed: {pass_steps:,} {'step stands' if pass_steps == 1 else 'steps stand'} "
        f"for {passes:,} pre-copy passes"
    )


def run_passes_shown(session: Session, run: Run) -> str:
    """passes_shown for a stored run (one count of its pass steps when they were collapsed)."""
    from app.store.runs import count_steps_in_phases

    collapsed = not run.every_pass and run.source != "import"
    pass_steps = count_steps_in_phases(session, run.id, PASS_PHASES) if collapsed else 0
    passes = run.summary.get("passes")
    return passes_shown(
        run.every_pass, run.source, pass_steps, passes if isinstance(passes, int) else None
    )
