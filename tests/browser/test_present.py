"""A class follows a presenter: two pages in one Chromium, the presenter's steps reach the
follower over Server-Sent Events; the follower detaches and rejoins."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.helpers import make_run, ready, step_in_url, wait_step


def test_a_follower_follows_detaches_and_rejoins(page: Page, shot: Any) -> None:
    run = make_run(page)
    last = run["step_count"] - 1
    presenter = page
    presenter.goto(run["urls"]["page"])
    ready(presenter, charts=4)
    presenter.get_by_role("button", name="Present to a class").click()
    link = presenter.get_by_label("Link for the class", exact=True)
    expect(link).to_have_value(re.compile(r"/present/[\w-]{22}$"))
    follow_url = link.input_value()
    assert re.search(r"[?&]present=[\w-]{22}", presenter.url)

    follower = presenter.context.new_page()
    errors: list[str] = []
    follower.on("pageerror", lambda e: errors.append(str(e)))
    follower.set_default_timeout(15_000)
    follower.goto(follow_url)
    ready(follower, charts=4)
    expect(follower.locator("#follow-status")).to_have_text("following the presenter")
    follower.wait_for_selector('#present[data-connected="1"]')

    # The presenter steps with the keys; the follower's step and URL follow.
    presenter.keyboard.press("ArrowRight")
    wait_step(presenter, 1)
    wait_step(follower, 1)
    assert "/present/" in follower.url
    presenter.keyboard.press("End")
    wait_step(follower, last)
    shot("present-presenter")

    # A key on the follower's page detaches it: the presenter's moves no longer move it.
    follower.keyboard.press("ArrowLeft")
    wait_step(follower, last - 1)
    expect(follower.locator("#follow-status")).to_have_text(re.compile("detached"))
    presenter.keyboard.press("Home")
    wait_step(presenter, 0)
    expect(follower.locator("#follow-status")).to_have_text("detached (presenter at step 0)")
    assert step_in_url(follower) == last - 1

    # Rejoin jumps to the presenter's current step and follows again.
    follower.get_by_role("button", name="Rejoin: jump to the presenter's step").click()
    wait_step(follower, 0)
    expect(follower.locator("#follow-status")).to_have_text("following the presenter")
    presenter.keyboard.press("ArrowRight")
    wait_step(follower, 1)

    # The Detach button works too, by keyboard.
    follower.get_by_role("button", name="Detach: step on your own").focus()
    follower.keyboard.press("Enter")
    expect(follower.locator("#follow-status")).to_have_text(re.compile("detached"))
    presenter.keyboard.press("ArrowRight")
    expect(follower.locator("#follow-status")).to_have_text("detached (presenter at step 2)")
    assert step_in_url(follower) == 1
    follower.close()
    assert not errors, errors
