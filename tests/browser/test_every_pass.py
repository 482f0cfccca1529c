"""The New run form's "Show every pass (no collapsing)" checkbox in a real browser: a migration
that never converges, run from the form with and without the box, lands on a run page whose
passes tile and step scrubber say how its steps show the passes. The expected figures come
from the engine itself (the same scenario simulated in this process), not from the server."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from playwright.sync_api import Page, expect

from app.engine.examples import load_example
from app.engine.scenario import Scenario
from app.engine.simulation import simulate
from tests.browser.helpers import ready, wait_step

# Never converges with QEMU's default parameters: thousands of alike passes until max_time_ms.
SPINS = "mlx5-300mb-default-params"
# Storing one step per pass of SPINS (~7,000 steps) can take longer than the default timeout.
STORE_TIMEOUT_MS = 180_000


@dataclass(frozen=True)
class Expected:
    step_count: int
    pass_steps: int  # steps in phase iterate (one per pass, or one per run of alike passes)
    passes: int  # the summary's pre-copy passes


@cache
def expected(every_pass: bool) -> Expected:
    """What the engine makes of the example, one step per pass or alike passes collapsed."""
    scenario = Scenario.model_validate(load_example(SPINS))
    trace = simulate(scenario, collapse=not every_pass)
    passes = trace.summary.passes
    assert passes is not None
    return Expected(
        step_count=len(trace.steps),
        pass_steps=sum(1 for step in trace.steps if step.phase == "iterate"),
        passes=passes,
    )


def run_from_the_form(page: Page, every_pass: bool) -> str:
    """Pick the example on the New run page, tick the box or not, Run; the new run's id."""
    page.goto("/new")
    ready(page)
    page.select_option("#example", SPINS)
    # The example's form replaces the default one (htmx): wait for it before ticking the box,
    # or the tick would land on the form being swapped out.
    expect(page.locator("#f-title")).to_have_value(
        re.compile(r"^mlx5 VF 300 MB with QEMU.s default parameters")
    )
    box = page.locator("#every-pass")
    expect(box).not_to_be_checked()
    if every_pass:
        box.check()
        expect(box).to_be_checked()
    page.click('button[data-submit="run"]')
    page.wait_for_url(re.compile(r"/runs/[\w-]+$"), timeout=STORE_TIMEOUT_MS)
    ready(page)
    found = re.search(r"/runs/([\w-]+)$", page.url)
    assert found is not None, page.url
    return found.group(1)


def assert_steps_shown(page: Page, step_count: int) -> None:
    """The scrubber and the step counter span the run's steps, and the last one opens."""
    last = step_count - 1
    expect(page.locator("#stepper")).to_have_attribute("data-steps", str(step_count))
    scrubber = page.locator("#scrubber")
    expect(scrubber).to_have_attribute("max", str(last))
    expect(page.locator('label[for="scrubber"]')).to_have_text(re.compile(rf"^Step 0 of {last}$"))
    # The End key takes the range input to its last step: that step is really there.
    scrubber.focus()
    page.keyboard.press("End")
    wait_step(page, last)
    expect(page.locator("#step-number")).to_have_text(str(last))


def test_every_pass_from_the_form_shows_one_step_per_pass(page: Page) -> None:
    every = expected(every_pass=True)
    collapsed = expected(every_pass=False)
    # The engine's figures this test stands on: one step per pass is the large count.
    assert every.pass_steps == every.passes == collapsed.passes
    assert every.step_count > 50 * collapsed.step_count

    run_id = run_from_the_form(page, every_pass=True)
    expect(page.locator("#passes-shown")).to_have_text("every pass: one step per pre-copy pass")
    assert_steps_shown(page, every.step_count)
    stored = page.request.get(f"/api/runs/{run_id}").json()
    assert stored["every_pass"] is True and stored["step_count"] == every.step_count
    assert stored["summary"]["passes"] == every.passes


def test_without_the_box_alike_passes_are_collapsed(page: Page) -> None:
    collapsed = expected(every_pass=False)
    assert collapsed.pass_steps < collapsed.passes

    run_id = run_from_the_form(page, every_pass=False)
    expect(page.locator("#passes-shown")).to_have_text(
        f"alike passes collapsed: {collapsed.pass_steps:,} steps stand for "
        f"{collapsed.passes:,} pre-copy passes"
    )
    assert_steps_shown(page, collapsed.step_count)
    stored = page.request.get(f"/api/runs/{run_id}").json()
    assert stored["every_pass"] is False and stored["step_count"] == collapsed.step_count
