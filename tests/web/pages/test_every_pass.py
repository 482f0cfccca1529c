"""every_pass on the pages: the New run form's checkbox, its progress stream, and what a run's
page says about how its steps show the passes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.web.urls import Urls
from tests.web.helpers import make_run

URLS = Urls()
SPINS = "mlx5-300mb-default-params"  # never converges: 6,858 steps with every pass, 77 collapsed


def test_new_run_form_offers_every_pass_with_the_step_limit(
    app_with: Callable[..., FastAPI],
) -> None:
    with TestClient(app_with(max_steps_per_run=12_345)) as client:
        html = client.get(URLS.new_run()).text
    checkbox = re.search(r'<input type="checkbox" id="every-pass"[^>]*>', html)
    assert checkbox is not None and "checked" not in checkbox.group(0)
    # Not a scenario field: the form's reader (formToScenario) skips it, the run request adds it.
    assert "data-field" not in checkbox.group(0)
    assert "Show every pass (no collapsing)" in html
    assert "up to 12,345 steps per run" in html


def _done(response_text: str) -> dict:
    lines = [json.loads(line) for line in response_text.splitlines() if line.strip()]
    return lines[-1]["done"]


def test_progress_stream_stores_every_pass(api_client: TestClient) -> None:
    every = api_client.post(
        URLS.new_run_progress("run"), json={"example": SPINS, "every_pass": True}
    )
    plain = api_client.post(URLS.new_run_progress("run"), json={"example": SPINS})
    [every_id], [plain_id] = _done(every.text)["ids"], _done(plain.text)["ids"]
    every_run = api_client.get(URLS.api_run(every_id)).json()
    plain_run = api_client.get(URLS.api_run(plain_id)).json()
    assert (every_run["every_pass"], plain_run["every_pass"]) == (True, False)
    assert every_run["step_count"] > 50 * plain_run["step_count"]
    assert every_run["summary"] == plain_run["summary"]
    bad = api_client.post(URLS.new_run_progress("run"), json={"example": SPINS, "every_pass": "on"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "every_pass"]


def test_run_page_says_how_the_steps_show_the_passes(api_client: TestClient) -> None:
    plain = make_run(api_client, {"example": SPINS})
    every = make_run(api_client, {"example": SPINS, "every_pass": True})
    passes = plain["summary"]["passes"]
    plain_twin = api_client.get(URLS.run_json(plain["id"])).json()["run"]
    every_twin = api_client.get(URLS.run_json(every["id"])).json()["run"]
    assert (plain_twin["every_pass"], every_twin["every_pass"]) == (False, True)
    words = plain_twin["passes_shown"]
    match = re.fullmatch(
        r"alike passes collapsed: (\d+) steps stand for ([\d,]+) pre-copy passes", words
    )
    assert match is not None, words
    assert int(match.group(1)) < plain["step_count"] and match.group(2) == f"{passes:,}"
    assert every_twin["passes_shown"] == "every pass: one step per pre-copy pass"
    plain_html = api_client.get(URLS.run(plain["id"])).text
    every_html = api_client.get(URLS.run(every["id"])).text
    assert f'<dd class="sub" id="passes-shown">{words}</dd>' in plain_html
    assert 'id="passes-shown">every pass: one step per pre-copy pass</dd>' in every_html
    # "Compare switchover-ack on/off" from the page asks for the run's own choice.
    scenario = re.search(
        r'<script type="application/json" id="run-scenario">(.*?)</script>', every_html, re.S
    )
    assert scenario is not None and json.loads(scenario.group(1))["every_pass"] is True
    plain_scenario = re.search(
        r'<script type="application/json" id="run-scenario">(.*?)</script>', plain_html, re.S
    )
    assert plain_scenario is not None and "every_pass" not in json.loads(plain_scenario.group(1))
