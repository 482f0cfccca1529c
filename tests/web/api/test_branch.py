"""POST /api/runs/{id}/branch: the real engine and a real database (SQLite and PostgreSQL via
`db_url`). A branch replays its parent exactly up to the step, then the action changes the story."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.engine.branch import PARAMETER_FIELDS
from app.engine.examples import load_example
from app.engine.scenario import LIMITS, Scenario
from app.engine.simulation import simulate, simulate_summary
from app.engine.trace import Summary, Trace
from app.engine.units import format_ms
from app.settings import COLLAPSE_STORED_TRACES
from app.web.urls import Urls
from tests.web.helpers import XSS, figure, make_run

URLS = Urls()
ACK = "mlx5-300mb-ack"  # completes in about 3 s; the ack arrives mid-way
NEVER_CONVERGES = "mlx5-300mb-default-params"  # cancelled at max_time_ms 60 s
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "constructed"
STEM = "vfio100-dec-two-devices"


def branch(
    client: TestClient, run_id: str, at_step: int, action: dict[str, Any], status: int = 201
) -> dict[str, Any]:
    response = client.post(URLS.api_run_branch(run_id), json={"at_step": at_step, "action": action})
    assert response.status_code == status, response.text
    return response.json()


def steps(client: TestClient, run_id: str, start: int, stop: int) -> list[dict[str, Any]]:
    body = client.get(URLS.api_run_steps(run_id, start, stop)).json()
    return body["steps"]


def events(client: TestClient, run_id: str, start: int, stop: int) -> list[dict[str, Any]]:
    return client.get(URLS.api_run_steps(run_id, start, stop)).json()["events"]


def run_count(client: TestClient) -> int:
    return int(client.get(URLS.api_runs()).json()["total"])


# Figures the engine computes are taken from the engine itself, not copied into the tests: a
# change of the model changes them, not what these tests check.
def engine_summary(example: str) -> Summary:
    return simulate_summary(Scenario.model_validate(load_example(example)))


def engine_trace(example: str) -> Trace:
    """The trace as the web app stores it (collapsed: a step may stand for many passes)."""
    return simulate(Scenario.model_validate(load_example(example)), collapse=COLLAPSE_STORED_TRACES)


def last_precopy_step(example: str) -> int:
    """The index of the last pre-copy pass (setup or iterate) in the example's trace."""
    return max(s.index for s in engine_trace(example).steps if s.phase in ("setup", "iterate"))


def test_branch_replays_the_parent_up_to_the_step_then_applies_the_action(
    api_client: TestClient,
) -> None:
    parent = make_run(api_client, {"example": ACK})
    at_step = 5
    at_ms = steps(api_client, parent["id"], at_step, at_step + 1)[0]["end_ms"]
    assert at_ms == pytest.approx(engine_trace(ACK).steps[at_step].end_ms, abs=1e-3)

    made = branch(
        api_client, parent["id"], at_step, {"kind": "set_parameters", "downtime_limit_ms": 2000}
    )

    assert made["parent"] == {"id": parent["id"], "step": at_step, "at_ms": at_ms}
    # Keyed by the step: the engine applies it at the first pass after step 5, no replay of
    # the parent is needed to find the step's time.
    assert made["action"] == {
        "after_step": at_step,
        "kind": "set_parameters",
        "downtime_limit_ms": 2000.0,
    }
    assert made["compare"] == URLS.compare(parent["id"], made["id"])
    assert made["compare_api"] == URLS.api_compare(parent["id"], made["id"])
    assert made["urls"]["page"] == URLS.run(made["id"])
    assert made["title"] == (
        f"{parent['title']} [branch at {format_ms(at_ms)}: downtime-limit 2000 ms]"
    )
    # Every step up to and including at_step is the parent's, number for number.
    assert steps(api_client, made["id"], 0, at_step + 1) == steps(
        api_client, parent["id"], 0, at_step + 1
    )
    assert events(api_client, made["id"], 0, at_step + 1) == events(
        api_client, parent["id"], 0, at_step + 1
    )
    # The action is applied at the next pass, at exactly at_ms.
    applied = [
        e
        for e in events(api_client, made["id"], at_step + 1, at_step + 2)
        if e["kind"] == "set_parameters"
    ]
    assert [(e["t_ms"], e["step"], e["data"]["downtime_limit_ms"]) for e in applied] == [
        (at_ms, at_step + 1, 2000.0)
    ]
    # The stored branch is self-describing: the parent's scenario plus the action.
    stored = api_client.get(URLS.api_run(made["id"])).json()
    original = api_client.get(URLS.api_run(parent["id"])).json()
    assert stored["scenario"]["actions"] == [made["action"]]
    assert {
        k: v for k, v in stored["scenario"].items() if k not in ("title", "description", "actions")
    } == {k: v for k, v in original["scenario"].items() if k not in ("title", "description")}
    assert (
        f"What-if branch of run {parent['id']} at step 5 ({format_ms(at_ms)}): downtime-limit 2000 ms."
        in stored["description"]
    )
    assert stored["summary"]["downtime_limit_ms"] == 2000.0
    assert original["summary"]["downtime_limit_ms"] == 300.0


def test_branch_is_the_same_run_as_posting_its_scenario(api_client: TestClient) -> None:
    """No shortcut: the branch is an ordinary engine run of the parent's scenario plus the action."""
    parent = make_run(api_client, {"example": ACK})
    made = branch(
        api_client,
        parent["id"],
        12,
        {"kind": "set_parameters", "max_bandwidth_bytes_per_s": "256 MiB"},
    )
    scenario = api_client.get(URLS.api_run(made["id"])).json()["scenario"]
    direct = make_run(api_client, scenario)
    assert direct["summary"] == made["summary"]
    assert steps(api_client, direct["id"], 0, 1000) == steps(api_client, made["id"], 0, 1000)


def test_avail_switchover_bandwidth_branch_of_the_default_params_example_completes(
    api_client: TestClient,
) -> None:
    parent = make_run(api_client, {"example": NEVER_CONVERGES})
    assert parent["status"] == "cancelled"
    # Cancelled at the first pass boundary past the 60 s limit, as the engine computes it.
    assert parent["summary"]["total_time_ms"] >= 60000.0
    assert parent["summary"]["total_time_ms"] == pytest.approx(
        engine_summary(NEVER_CONVERGES).total_time_ms, abs=1e-3
    )
    made = branch(
        api_client,
        parent["id"],
        50,
        {"kind": "set_parameters", "avail_switchover_bandwidth_bytes_per_s": "10 Gbit"},
    )
    assert made["action"] == {
        "after_step": 50,
        "kind": "set_parameters",
        "avail_switchover_bandwidth_bytes_per_s": 1_250_000_000,
    }
    summary = made["summary"]
    assert made["status"] == summary["status"] == "completed"
    # The branch is the engine's run of its stored scenario, step for step.
    branch_scenario = api_client.get(URLS.api_run(made["id"])).json()["scenario"]
    engine_branch = simulate(
        Scenario.model_validate(branch_scenario), collapse=COLLAPSE_STORED_TRACES
    )
    assert made["step_count"] == len(engine_branch.steps)
    # QEMU now assumes 10 Gbit for the switchover: 1.16 GiB/s x 300 ms holds the 300 MB stop-copy
    # size once the ack is in, so it switches over, and the real downtime is above the limit.
    assert summary["switchover_started_at_ms"] > 5000.0
    assert summary["total_time_ms"] < 60000.0
    assert summary["downtime_ms"] == pytest.approx(engine_branch.summary.downtime_ms, abs=1e-3)
    assert summary["downtime_ms"] > summary["downtime_limit_ms"] == 300.0
    assert steps(api_client, made["id"], 0, 51) == steps(api_client, parent["id"], 0, 51)
    compared = api_client.get(made["compare_api"]).json()
    assert compared["diff"]["status"] == {"a": "cancelled", "b": "completed"}


def test_pause_guest_branch_opens_the_ack_gate(api_client: TestClient) -> None:
    parent = make_run(api_client, {"example": ACK})
    at_ms = steps(api_client, parent["id"], 5, 6)[0]["end_ms"]
    made = branch(api_client, parent["id"], 5, {"kind": "pause_guest"})

    def ack_gate(run_id: str, n: int) -> dict[str, Any]:
        return next(
            g
            for g in steps(api_client, run_id, n, n + 1)[0]["gates"]
            if g["name"] == "switchover_ack"
        )

    assert ack_gate(parent["id"], 6)["open"] is False  # the ack only arrives after 2 s
    gate = ack_gate(made["id"], 6)
    assert gate["open"] is True
    assert "guest is not running" in gate["detail"]
    assert steps(api_client, made["id"], 6, 7)[0]["vm_running"] is False
    permitted_ms = engine_summary(ACK).switchover_permitted_at_ms
    assert permitted_ms is not None and permitted_ms > 2000.0
    assert parent["summary"]["switchover_permitted_at_ms"] == pytest.approx(permitted_ms, abs=1e-3)
    # Permitted soon after the pause, long before the parent's ack, as the engine computes it.
    branch_scenario = Scenario.model_validate(
        api_client.get(URLS.api_run(made["id"])).json()["scenario"]
    )
    paused_permitted_ms = simulate_summary(branch_scenario).switchover_permitted_at_ms
    assert paused_permitted_ms is not None and at_ms < paused_permitted_ms < permitted_ms
    assert made["summary"]["switchover_permitted_at_ms"] == pytest.approx(
        paused_permitted_ms, abs=1e-3
    )
    assert made["summary"]["ack_received_at_ms"] is None
    assert made["status"] == "completed"
    assert made["title"].endswith(f"[branch at {format_ms(at_ms)}: guest paused]")


def test_cancel_branch_ends_at_the_step(api_client: TestClient) -> None:
    parent = make_run(api_client, {"example": ACK})
    at_ms = steps(api_client, parent["id"], 10, 11)[0]["end_ms"]
    # Device data flows: passes are no longer 100 ms windows, step 10 ends where the engine says.
    assert at_ms == pytest.approx(engine_trace(ACK).steps[10].end_ms, abs=1e-3)
    assert at_ms != 1000.0
    made = branch(api_client, parent["id"], 10, {"kind": "cancel"})
    assert made["status"] == "cancelled"
    assert made["summary"]["reason"].startswith(
        f"migrate_cancel issued by the user at {at_ms:.0f} ms"
    )
    # Step 10 ends at at_ms as stored but a hair earlier inside the engine: keyed by the step,
    # the cancel comes right after step 10, not one pass later.
    assert made["action"] == {"after_step": 10, "kind": "cancel"}
    assert made["parent"] == {"id": parent["id"], "step": 10, "at_ms": at_ms}
    assert [s["phase"] for s in steps(api_client, made["id"], 10, 20)] == ["iterate", "cancelled"]
    assert made["summary"]["total_time_ms"] == pytest.approx(at_ms)
    assert made["summary"]["downtime_ms"] is None
    assert made["title"].endswith(f"[branch at {at_ms:.0f} ms: migrate_cancel]")


def test_a_branch_of_a_branch_keeps_the_earlier_action(api_client: TestClient) -> None:
    parent = make_run(api_client, {"example": ACK})
    first = branch(
        api_client, parent["id"], 5, {"kind": "set_parameters", "downtime_limit_ms": 2000}
    )
    second = branch(
        api_client, first["id"], 8, {"kind": "set_parameters", "max_bandwidth_bytes_per_s": 0}
    )
    actions = api_client.get(URLS.api_run(second["id"])).json()["scenario"]["actions"]
    assert actions == [
        {"after_step": 5, "kind": "set_parameters", "downtime_limit_ms": 2000.0},
        {"after_step": 8, "kind": "set_parameters", "max_bandwidth_bytes_per_s": 0},
    ]
    at_ms = steps(api_client, first["id"], 8, 9)[0]["end_ms"]
    assert second["parent"] == {"id": first["id"], "step": 8, "at_ms": at_ms}
    assert steps(api_client, second["id"], 0, 9) == steps(api_client, first["id"], 0, 9)


def test_a_long_title_stays_within_the_limit(api_client: TestClient) -> None:
    parent = make_run(
        api_client, {"example": ACK, "overrides": {"title": "t" * LIMITS["title_chars"]}}
    )
    at_ms = steps(api_client, parent["id"], 5, 6)[0]["end_ms"]
    made = branch(api_client, parent["id"], 5, {"kind": "pause_guest"})
    assert len(made["title"]) == LIMITS["title_chars"]
    assert made["title"].endswith(f"… [branch at {format_ms(at_ms)}: guest paused]")


@pytest.mark.parametrize(
    ("body", "loc", "msg"),
    [
        (
            {"at_step": 5, "action": {"kind": "set_parameters", "downtime_limit_ms": 0}},
            ["body", "action", "downtime_limit_ms"],
            "greater than or equal to 1",
        ),
        (
            {
                "at_step": 5,
                "action": {"kind": "set_parameters", "max_bandwidth_bytes_per_s": "lots"},
            },
            ["body", "action", "max_bandwidth_bytes_per_s"],
            "cannot read 'lots'",
        ),
        (
            {"at_step": 5, "action": {"kind": "set_parameters"}},
            ["body", "action"],
            "set_parameters needs at least one of downtime_limit_ms",
        ),
        (
            {"at_step": 5, "action": {"kind": "pause_guest", "downtime_limit_ms": 500}},
            ["body", "action"],
            "pause_guest takes no parameters (got downtime_limit_ms)",
        ),
        (
            {"at_step": 5, "action": {"kind": "reboot"}},
            ["body", "action", "kind"],
            "'set_parameters', 'pause_guest' or 'cancel'",
        ),
        (
            {"at_step": 5, "action": {"kind": "cancel", "at_ms": 5}},
            ["body", "action", "at_ms"],
            "Extra inputs",
        ),
        (
            {"at_step": -1, "action": {"kind": "cancel"}},
            ["body", "at_step"],
            "greater than or equal to 0",
        ),
        ({"action": {"kind": "cancel"}}, ["body", "at_step"], "Field required"),
    ],
)
def test_invalid_branches_are_422_naming_the_field_and_store_nothing(
    api_client: TestClient, body: dict[str, Any], loc: list[str], msg: str
) -> None:
    parent = make_run(api_client, {"example": ACK})
    before = run_count(api_client)
    response = api_client.post(URLS.api_run_branch(parent["id"]), json=body)
    assert response.status_code == 422, response.text
    [item] = response.json()["detail"]
    assert item["loc"] == loc
    assert msg in item["msg"]
    assert run_count(api_client) == before


def test_a_step_no_pass_follows_is_422_naming_the_last_branchable_step(
    api_client: TestClient,
) -> None:
    # The last pre-copy pass decides the switchover: no pass follows, an action there would
    # change nothing.
    last_pass = last_precopy_step(ACK)
    parent = make_run(api_client, {"example": ACK})
    assert parent["step_count"] > last_pass + 1
    before = run_count(api_client)
    response = api_client.post(
        URLS.api_run_branch(parent["id"]), json={"at_step": last_pass, "action": {"kind": "cancel"}}
    )
    assert response.status_code == 422, response.text
    [item] = response.json()["detail"]
    assert item["loc"] == ["body", "at_step"]
    assert f"branch from step {last_pass - 1} or earlier" in item["msg"]
    assert run_count(api_client) == before


def test_the_last_pre_copy_pass_can_still_be_branched(api_client: TestClient) -> None:
    at_step = last_precopy_step(ACK) - 1
    parent = make_run(api_client, {"example": ACK})
    made = branch(api_client, parent["id"], at_step, {"kind": "pause_guest"})
    assert steps(api_client, made["id"], 0, at_step + 1) == steps(
        api_client, parent["id"], 0, at_step + 1
    )
    assert any(
        e["kind"] == "guest_paused"
        for e in events(api_client, made["id"], at_step + 1, at_step + 2)
    )


def test_a_parameter_the_profile_lacks_is_422_on_the_action_field(api_client: TestClient) -> None:
    parent = make_run(api_client, {"example": "busy-guest-8.1"})
    response = api_client.post(
        URLS.api_run_branch(parent["id"]),
        json={
            "at_step": 2,
            "action": {"kind": "set_parameters", "avail_switchover_bandwidth_bytes_per_s": "1 GiB"},
        },
    )
    assert response.status_code == 422, response.text
    [item] = response.json()["detail"]
    assert item["loc"] == ["body", "action", "avail_switchover_bandwidth_bytes_per_s"]
    assert item["msg"] == "exists from QEMU 8.2"


def test_unknown_run_or_step_is_404(api_client: TestClient) -> None:
    response = api_client.post(
        URLS.api_run_branch("nosuchrun"), json={"at_step": 1, "action": {"kind": "cancel"}}
    )
    assert response.status_code == 404
    assert response.json()["message"] == "no run with id 'nosuchrun'"
    parent = make_run(api_client, {"example": ACK})
    count = parent["step_count"]
    response = api_client.post(
        URLS.api_run_branch(parent["id"]), json={"at_step": count, "action": {"kind": "cancel"}}
    )
    assert response.status_code == 404
    assert response.json()["message"] == f"run {parent['id']} has no step {count} (it has {count})"


def _import(client: TestClient) -> dict[str, Any]:
    files = {
        "src_trace": (f"{STEM}.src.trace.log", (FIXTURES / f"{STEM}.src.trace.log").read_bytes()),
        "dst_trace": (f"{STEM}.dst.trace.log", (FIXTURES / f"{STEM}.dst.trace.log").read_bytes()),
    }
    response = client.post(URLS.api_imports(), files=files, data={"title": "constructed import"})
    assert response.status_code == 201, response.text
    return response.json()


def test_imported_runs_cannot_be_branched_and_show_no_panel(api_client: TestClient) -> None:
    imported = _import(api_client)
    before = run_count(api_client)
    response = api_client.post(
        URLS.api_run_branch(imported["id"]), json={"at_step": 1, "action": {"kind": "cancel"}}
    )
    assert response.status_code == 422
    [item] = response.json()["detail"]
    assert item["loc"] == ["path", "run_id"]
    assert "imported from QEMU logs: it has no scenario to branch" in item["msg"]
    assert run_count(api_client) == before
    html = api_client.get(URLS.run(imported["id"])).text
    assert "What if? Branch from this step" not in html and 'id="branch"' not in html


def test_run_page_panel_shows_the_parameters_in_force_at_the_step(api_client: TestClient) -> None:
    parent = make_run(api_client, {"example": ACK, "overrides": {"title": XSS}})
    html = api_client.get(URLS.run_at(parent["id"], step=5)).text
    assert "What if? Branch from this step" in html
    assert f'data-url="{URLS.api_run_branch(parent["id"])}"' in html and 'data-step="5"' in html
    assert 'placeholder="300"' in html  # downtime-limit, ms
    assert 'placeholder="1.0 GiB"' in html  # max-bandwidth of this example
    # One input per engine parameter: branch.js reads the names from the panel.
    assert sorted(re.findall(r'name="action\.(\w+_(?:ms|per_s))"', html)) == sorted(
        PARAMETER_FIELDS
    )
    # The panel's script is the dashboard's ES module (static/js/branch.js, loaded by main.js).
    assert f'src="{URLS.static("js/main.js")}"' in html
    assert api_client.get(URLS.static("js/branch.js")).status_code == 200
    assert XSS not in html  # the title reaches the panel only escaped
    # A branch's own earlier action is in force after its time, not before.
    made = branch(
        api_client, parent["id"], 5, {"kind": "set_parameters", "downtime_limit_ms": 2000}
    )
    assert 'placeholder="300"' in api_client.get(URLS.run_at(made["id"], step=4)).text
    after = api_client.get(URLS.run_at(made["id"], step=6)).text
    assert (
        'placeholder="2000"' in after
        and 'now <span data-now="downtime_limit_ms">2000 ms</span>' in after
    )


def test_the_comparison_page_marks_the_branch_point(api_client: TestClient) -> None:
    parent = make_run(api_client, {"example": ACK})
    at_ms = steps(api_client, parent["id"], 5, 6)[0]["end_ms"]
    made = branch(
        api_client, parent["id"], 5, {"kind": "set_parameters", "downtime_limit_ms": 2000}
    )
    twin = api_client.get(URLS.compare_page(parent["id"], made["id"], json=True)).json()
    assert twin["branch_points"] == [
        {"at_ms": at_ms, "label": "downtime-limit 2000 ms", "run": "b"}
    ]
    assert twin["headline"].startswith(
        f"B is a what-if branch of A: the same run until {format_ms(at_ms)}, then downtime-limit 2000 ms. Run A downtime "
    )
    swapped = api_client.get(URLS.compare_page(made["id"], parent["id"], json=True)).json()
    assert swapped["headline"].startswith("A is a what-if branch of B:")
    html = api_client.get(made["compare"]).text
    for key in ("devices-a", "devices-b", "ram-a", "ram-b", "lane-a", "lane-b"):
        lines = [s for s in figure(html, key)["layout"]["shapes"] if s["name"] == "branch"]
        # The charts' x axis is in seconds.
        assert [(s["x0"], s["x1"]) for s in lines] == [
            (pytest.approx(at_ms / 1000), pytest.approx(at_ms / 1000))
        ], key
    assert not [
        s for s in figure(html, "downtime")["layout"].get("shapes", []) if s.get("name") == "branch"
    ]
    # Two runs that are not a branch pair get no line.
    other = make_run(api_client, {"example": NEVER_CONVERGES})
    assert (
        api_client.get(URLS.compare_page(parent["id"], other["id"], json=True)).json()[
            "branch_points"
        ]
        == []
    )
