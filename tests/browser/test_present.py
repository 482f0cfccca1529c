"""A class follows a presenter: two pages in one Chromium, the presenter's steps reach the
follower over Server-Sent Events; the follower detaches and rejoins."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.helpers import make_run, ready, step_in_url, wait_step


def start_presenting(presenter: Page) -> tuple[dict[str, Any], str]:
    """A new run opened in `presenter` and presented to a class: the run and the class's link."""
    run = make_run(presenter)
    presenter.goto(run["urls"]["page"])
    ready(presenter, charts=4)
    presenter.get_by_role("button", name="Present to a class").click()
    link = presenter.get_by_label("Link for the class", exact=True)
    expect(link).to_have_value(re.compile(r"/present/[\w-]{22}$"))
    return run, link.input_value()


def test_a_follower_follows_detaches_and_rejoins(page: Page, shot: Any) -> None:
    presenter = page
    run, follow_url = start_presenting(presenter)
    last = run["step_count"] - 1
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


# Records the Server-Sent Events each page's EventSource receives by type, before the page's
# own script runs: the test sees that the class learnt of the stop from the `ended` event.
RECORD_SSE = """
const Original = window.EventSource;
window.__sseTypes = [];
window.EventSource = class extends Original {
  constructor(...args) {
    super(...args);
    this.addEventListener("ended", () => window.__sseTypes.push("ended"));
  }
};
"""


def test_the_presenter_stops_and_every_follower_sees_it_ended(page: Page) -> None:
    page.context.add_init_script(RECORD_SSE)
    presenter = page
    run, follow_url = start_presenting(presenter)
    session_id = follow_url.rsplit("/", 1)[1]

    followers = [presenter.context.new_page() for _ in range(2)]
    for follower in followers:
        follower.set_default_timeout(15_000)
        follower.goto(follow_url)
        ready(follower, charts=4)
        follower.wait_for_selector('#present[data-connected="1"]')
    presenter.keyboard.press("ArrowRight")
    for follower in followers:
        wait_step(follower, 1)
    # One of the class has stepped away on their own: they learn of the stop too.
    followers[1].get_by_role("button", name="Detach: step on your own").click()
    expect(followers[1].locator("#follow-status")).to_have_text(re.compile("detached"))

    with presenter.expect_response(
        lambda response: (
            response.request.method == "DELETE"
            and response.url.endswith(f"/api/presentations/{session_id}")
        )
    ) as stopped:
        presenter.get_by_role("button", name=re.compile("^Stop presenting")).click()
    assert stopped.value.status == 200
    assert stopped.value.json() == {
        "session_id": session_id,
        "run_id": run["id"],
        "step": 1,
        "ended": True,
    }
    expect(presenter.locator("#present-status")).to_have_text("Stopped presenting.")
    assert "present=" not in presenter.url

    for follower in followers:
        expect(follower.locator("#follow-status")).to_have_text(
            "the presenter stopped (last at step 1): step on your own"
        )
        expect(follower.locator('#present[data-ended="1"]')).to_have_count(1)
        assert follower.evaluate("window.__sseTypes") == ["ended"]
        expect(follower.get_by_role("button", name="Detach: step on your own")).to_be_disabled()
        expect(
            follower.get_by_role("button", name="Rejoin: jump to the presenter's step")
        ).to_be_disabled()
        # The step stays where it was: the class steps on its own from here.
        follower.keyboard.press("ArrowRight")
        wait_step(follower, 2)
        follower.close()
    # The session is gone: a late reconnect is refused.
    assert presenter.request.get(f"/api/presentations/{session_id}/events").status == 404
