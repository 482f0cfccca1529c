"""The sweep page's "Open points with every pass (no collapsing)" box: with it ticked,
static/sweep.js POSTs `{"every_pass": true}` to the point's API (the page's config gives the
URL) and new runs with one step per pass are stored; the point page itself (a GET) opens the
point's own collapsed runs, the same ones every time, whatever its query. The real engine,
sweep pool and database."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.web.urls import Urls

URLS = Urls()
# Converges after a couple of hundred passes, some of them alike: collapsed 57 steps, 247 not.
ACK = "mlx5-300mb-ack"


def opened_runs(client: TestClient, sweep_id: str, index: int, query: str = "") -> list[str]:
    """Open the point page (a GET); the ids of the runs its redirect lands on (on, off)."""
    answer = client.get(URLS.sweep_point(sweep_id, index) + query, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return compared_runs(answer.headers["location"])


def compared_runs(url: str) -> list[str]:
    target = urlsplit(url)
    assert target.path == URLS.compare("a", "b").split("?")[0]
    query = parse_qs(target.query)
    return [query["a"][0], query["b"][0]]


def opened_with_every_pass(client: TestClient, config: dict[str, str], index: int) -> list[str]:
    """What static/sweep.js does with the box ticked: POST to the config's URL, then go to
    the answer's comparison."""
    answer = client.post(config["point_run_url_prefix"] + f"{index}/run", json={"every_pass": True})
    assert answer.status_code == 200, answer.text
    return compared_runs(answer.json()["compare"])


def test_a_sweep_point_opened_with_every_pass_from_the_page(
    app_with: Callable[..., FastAPI],
) -> None:
    app = app_with(sweep_workers=1, max_concurrent_sweeps=1, max_steps_per_run=23_456)
    with TestClient(app) as client:
        started = client.post(
            URLS.api_sweeps(), json={"example": ACK, "vary": ["seed=1,2"], "compare_ack": True}
        )
        assert started.status_code == 202, started.text
        sweep_id = started.json()["id"]
        assert app.state.sweeps.wait_idle(300)
        assert client.get(URLS.api_sweep(sweep_id)).json()["status"] == "completed"

        html = client.get(URLS.sweep(sweep_id)).text
        box = re.search(r'<input type="checkbox" id="sweep-every-pass"[^>]*>', html)
        assert box is not None and "checked" not in box.group(0)
        assert "Open points with every pass (no collapsing)" in html
        assert "up to 23,456 steps per run" in html

        found = re.search(r'id="sweep-config">(.*?)</script>', html, re.S)
        assert found is not None
        config = json.loads(found.group(1))
        plain = opened_runs(client, sweep_id, 0)
        assert opened_runs(client, sweep_id, 0) == plain  # the permalink runs
        # A GET never stores new runs, whatever its query.
        assert opened_runs(client, sweep_id, 0, "?every_pass=1") == plain
        every = opened_with_every_pass(client, config, 0)
        again = opened_with_every_pass(client, config, 0)
        # Every pass: new runs on every call, never the point's own.
        assert len({*plain, *every, *again}) == 6
        for plain_id, every_id in zip(plain, every, strict=True):
            plain_run = client.get(URLS.api_run(plain_id)).json()
            every_run = client.get(URLS.api_run(every_id)).json()
            assert (plain_run["every_pass"], every_run["every_pass"]) == (False, True)
            assert every_run["step_count"] > plain_run["step_count"]
            assert every_run["summary"] == plain_run["summary"]
        # The ack-on side of the headline example: 57 steps collapsed, 247 with every pass.
        on_plain = client.get(URLS.api_run(plain[0])).json()
        on_every = client.get(URLS.api_run(every[0])).json()
        assert (on_plain["step_count"], on_every["step_count"]) == (57, 247)
        # The point's API still names its collapsed runs.
        point = client.post(URLS.api_sweep_point_run(sweep_id, 0)).json()
        assert [point["run_id"], point["off_run_id"]] == plain
