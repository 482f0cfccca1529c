"""`every_pass`: a run stored with one step per pre-copy pass instead of alike passes collapsed.
The real engine and a real database (SQLite and PostgreSQL via `db_url`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.engine.examples import load_example
from app.engine.scenario import Scenario
from app.engine.simulation import simulate
from app.web.urls import Urls
from tests.web.helpers import make_run

URLS = Urls()
# Never converges: 10 s of passes that all get ENOMSG; collapsed, a handful of steps.
SPINS = "stop-copy-query-fails"
# Never converges either, in fewer (budget-bound) passes: ~7,000 steps with every pass.
DEFAULT_PARAMS = "mlx5-300mb-default-params"
# Converges after a couple of hundred passes, some of them alike: collapsed 57 steps, 247 not.
ACK = "mlx5-300mb-ack"


def engine_step_count(example: str, *, collapse: bool) -> int:
    """Steps of the example's trace straight from the engine (the figures are the engine's)."""
    return len(simulate(Scenario.model_validate(load_example(example)), collapse=collapse).steps)


def pass_steps(client: TestClient, run_id: str, step_count: int) -> int:
    """How many of the stored run's steps are pre-copy passes (phase iterate)."""
    count = 0
    for start in range(0, step_count, 1000):
        window = client.get(URLS.api_run_steps(run_id, start, start + 1000)).json()["steps"]
        count += sum(1 for step in window if step["phase"] == "iterate")
    return count


def test_every_pass_stores_one_step_per_pass_with_the_same_summary(
    api_client: TestClient,
) -> None:
    collapsed = make_run(api_client, {"example": DEFAULT_PARAMS})
    every = make_run(api_client, {"example": DEFAULT_PARAMS, "every_pass": True})

    assert collapsed["every_pass"] is False and every["every_pass"] is True
    # The same migration: every total of the summary is equal, only the steps differ.
    assert every["summary"] == collapsed["summary"]
    passes = every["summary"]["passes"]
    assert passes > 5_000
    assert every["step_count"] == engine_step_count(DEFAULT_PARAMS, collapse=False)
    assert collapsed["step_count"] == engine_step_count(DEFAULT_PARAMS, collapse=True)
    assert every["step_count"] > 50 * collapsed["step_count"]
    # One stored step per pass: the pass steps are exactly the summary's passes.
    assert pass_steps(api_client, every["id"], every["step_count"]) == passes
    collapsed_pass_steps = pass_steps(api_client, collapsed["id"], collapsed["step_count"])
    assert collapsed_pass_steps < passes

    # Stored with the run and said in words.
    stored_every = api_client.get(URLS.api_run(every["id"])).json()
    stored_collapsed = api_client.get(URLS.api_run(collapsed["id"])).json()
    assert stored_every["every_pass"] is True and stored_collapsed["every_pass"] is False
    assert stored_every["passes_shown"] == "every pass: one step per pre-copy pass"
    assert stored_collapsed["passes_shown"] == (
        f"alike passes collapsed: {collapsed_pass_steps:,} steps stand for {passes:,} "
        "pre-copy passes"
    )
    # The option is not part of the scenario: the stored scenarios are the same.
    assert stored_every["scenario"] == stored_collapsed["scenario"]
    assert "every_pass" not in stored_every["scenario"]


def test_every_pass_with_a_scenario_body_and_the_default(api_client: TestClient) -> None:
    scenario = load_example(ACK)
    every = make_run(api_client, {**scenario, "every_pass": True})
    default = make_run(api_client, scenario)
    assert (every["every_pass"], default["every_pass"]) == (True, False)
    assert every["step_count"] == engine_step_count(ACK, collapse=False)
    assert default["step_count"] == engine_step_count(ACK, collapse=True)
    assert every["step_count"] > default["step_count"]
    assert every["summary"] == default["summary"]
    explicit_false = make_run(api_client, {**scenario, "every_pass": False})
    assert explicit_false["step_count"] == default["step_count"]


@pytest.mark.parametrize("bad", ["yes", 1, None, [True]])
@pytest.mark.parametrize("form", ["scenario", "example"])
def test_every_pass_must_be_a_boolean(api_client: TestClient, bad: Any, form: str) -> None:
    body = {"title": "x", "devices": []} if form == "scenario" else {"example": ACK}
    for path in (URLS.api_runs(), URLS.api_compare()):
        answer = api_client.post(path, json={**body, "every_pass": bad})
        assert answer.status_code == 422, answer.text
        assert [item["loc"] for item in answer.json()["detail"]] == [["body", "every_pass"]]
    assert api_client.get(URLS.api_runs()).json()["total"] == 0


def test_compare_stores_both_sides_with_every_pass(api_client: TestClient) -> None:
    answer = api_client.post(URLS.api_compare(), json={"example": ACK, "every_pass": True})
    assert answer.status_code == 201, answer.text
    pair = answer.json()
    on = api_client.get(URLS.api_run(pair["a"]["id"])).json()
    off = api_client.get(URLS.api_run(pair["b"]["id"])).json()
    assert on["every_pass"] is True and off["every_pass"] is True
    # The ack-on side is the example itself: one step per pass.
    assert on["step_count"] == engine_step_count(ACK, collapse=False)
    assert pass_steps(api_client, on["id"], on["step_count"]) == on["summary"]["passes"]
    assert pass_steps(api_client, off["id"], off["step_count"]) == off["summary"]["passes"]


def test_a_branch_keeps_its_parents_choice_and_its_steps(api_client: TestClient) -> None:
    parent = make_run(api_client, {"example": ACK, "every_pass": True})
    # Far past where the collapsed run has steps at all: only an every-pass branch has it.
    at_step = 150
    collapsed_steps = engine_step_count(ACK, collapse=True)
    assert at_step > collapsed_steps
    answer = api_client.post(
        URLS.api_run_branch(parent["id"]),
        json={"at_step": at_step, "action": {"kind": "set_parameters", "downtime_limit_ms": 2000}},
    )
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert made["every_pass"] is True
    assert api_client.get(URLS.api_run(made["id"])).json()["every_pass"] is True
    window = (0, at_step + 1)
    mine = api_client.get(URLS.api_run_steps(made["id"], *window)).json()
    theirs = api_client.get(URLS.api_run_steps(parent["id"], *window)).json()
    assert len(mine["steps"]) == at_step + 1
    assert mine["steps"] == theirs["steps"] and mine["events"] == theirs["events"]
    # Still one step per pass after the action.
    assert pass_steps(api_client, made["id"], made["step_count"]) == made["summary"]["passes"]

    # A collapsed parent's branch is collapsed too.
    plain = make_run(api_client, {"example": ACK})
    plain_branch = api_client.post(
        URLS.api_run_branch(plain["id"]),
        json={"at_step": 5, "action": {"kind": "set_parameters", "downtime_limit_ms": 2000}},
    ).json()
    assert plain_branch["every_pass"] is False


def test_an_every_pass_run_that_never_converges_ends_at_the_step_limit(
    app_with: Callable[..., FastAPI],
) -> None:
    limit = 2000
    with TestClient(app_with(max_steps_per_run=limit)) as client:
        every = make_run(client, {"example": SPINS, "every_pass": True})
        collapsed = make_run(client, {"example": SPINS})
        assert every["status"] == "cancelled" and every["step_count"] <= limit
        assert every["step_count"] > limit - 20
        reason = every["summary"]["reason"]
        assert reason.startswith(f"step limit ({limit} steps per run) reached at ")
        # Stored whole, its last step says why it ended.
        last = client.get(URLS.api_run_step(every["id"], every["step_count"] - 1)).json()
        assert last["step"]["status"] == "cancelled"
        # Each collapsed pass counts for the limit: the collapsed run ends at the same pass.
        assert collapsed["summary"]["passes"] == every["summary"]["passes"]
        assert collapsed["step_count"] < 50


def test_an_every_pass_run_over_the_stored_bytes_budget_says_so(
    app_with: Callable[..., FastAPI],
) -> None:
    with TestClient(app_with(max_run_stored_bytes=1024**2)) as client:
        every = make_run(client, {"example": SPINS, "every_pass": True})
        assert every["status"] == "cancelled"
        assert every["summary"]["reason"].startswith(
            "stored-bytes budget (1 MiB per run) reached at "
        )
        # The collapsed run fits: it is the example's own ending.
        collapsed = make_run(client, {"example": SPINS})
        assert collapsed["summary"]["reason"].startswith("max_time_ms (10000 ms) reached")


def test_a_sweep_point_opened_with_every_pass(app_with: Callable[..., FastAPI]) -> None:
    app = app_with(sweep_workers=1, max_concurrent_sweeps=1)
    with TestClient(app) as client:
        started = client.post(
            URLS.api_sweeps(), json={"example": ACK, "vary": ["seed=1,2"], "compare_ack": False}
        )
        assert started.status_code == 202, started.text
        sweep_id = started.json()["id"]
        deadline = time.monotonic() + 180
        while client.get(URLS.api_sweep(sweep_id)).json()["status"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        path = URLS.api_sweep_point_run(sweep_id, 0)
        plain = client.post(path).json()
        again = client.post(path).json()
        every = client.post(path, json={"every_pass": True}).json()
        assert again["run_id"] == plain["run_id"]  # the point's permalink run stays collapsed
        assert every["run_id"] != plain["run_id"]
        plain_run = client.get(URLS.api_run(plain["run_id"])).json()
        every_run = client.get(URLS.api_run(every["run_id"])).json()
        assert (plain_run["every_pass"], every_run["every_pass"]) == (False, True)
        assert every_run["step_count"] > plain_run["step_count"]
        assert every_run["summary"] == plain_run["summary"]
        assert (
            pass_steps(client, every_run["id"], every_run["step_count"])
            == (every_run["summary"]["passes"])
        )
        bad = client.post(path, json={"every_pass": "yes"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "every_pass"]
    assert app.state.sweeps.wait_idle(300)
