"""Compare: switchover-ack on vs off on the same scenario, and any two stored runs."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.web.urls import Urls

EXAMPLE = "mlx5-300mb-ack"


def test_post_compare_runs_and_stores_both_sides(api_client: TestClient) -> None:
    response = api_client.post("/api/compare", json={"example": EXAMPLE})
    assert response.status_code == 201, response.text
    body = response.json()
    a, b = body["a"], body["b"]
    assert a["id"] != b["id"]
    scenario_a = api_client.get(a["urls"]["api"]).json()["scenario"]
    scenario_b = api_client.get(b["urls"]["api"]).json()["scenario"]
    for side in ("source", "destination"):
        assert "switchover-ack" in scenario_a["caps"][side]
        assert "switchover-ack" not in scenario_b["caps"][side]
    # The capability off moves the destination's loading of initial bytes into downtime.
    assert b["summary"]["downtime_ms"] > a["summary"]["downtime_ms"]
    diff = body["diff"]
    # a - b, the engine's direction (app.engine.compare.difference): negative with the ack.
    assert diff["summary"]["downtime_ms"]["delta"] == round(
        a["summary"]["downtime_ms"] - b["summary"]["downtime_ms"], 3
    )
    assert diff["summary"]["downtime_ms"]["delta"] < 0
    assert set(diff["downtime_components_ms"]) == set(a["summary"]["downtime_breakdown_ms"]) | set(
        b["summary"]["downtime_breakdown_ms"]
    )
    assert [d["name"] for d in diff["devices"]] == [d["name"] for d in a["summary"]["devices"]]
    assert "switchover-ack" in diff["sentence"]
    assert body["page"] == Urls().compare(a["id"], b["id"])
    assert api_client.get("/api/runs").json()["total"] == 2
    again = api_client.get(body["api"]).json()
    assert again["diff"] == diff


def test_get_compare_of_any_two_runs(api_client: TestClient) -> None:
    first = api_client.post("/api/runs", json={"example": EXAMPLE}).json()
    second = api_client.post("/api/runs", json={"example": "two-mlx5-vfs"}).json()
    body = api_client.get("/api/compare", params={"a": first["id"], "b": second["id"]}).json()
    devices = {d["name"]: d for d in body["diff"]["devices"]}
    only_b = [name for name, d in devices.items() if d["in_b"] and not d["in_a"]]
    assert only_b, "two-mlx5-vfs has a device the first run does not"
    for name in only_b:
        assert all(m["a"] is None and m["delta"] is None for m in devices[name]["metrics"].values())
    missing = api_client.get("/api/compare", params={"a": first["id"], "b": "nope"})
    assert missing.status_code == 404 and "parameter b" in missing.json()["message"]
    no_b = api_client.get("/api/compare", params={"a": first["id"]})
    assert no_b.status_code == 422 and no_b.json()["detail"][0]["loc"] == ["query", "b"]


def test_post_compare_with_bad_scenario_stores_nothing(api_client: TestClient) -> None:
    response = api_client.post("/api/compare", json={"link": {"latency_ms": -1}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "link", "latency_ms"]
    assert api_client.get("/api/runs").json()["total"] == 0


def test_long_titles_stay_valid_in_a_comparison(api_client: TestClient) -> None:
    response = api_client.post("/api/compare", json={"title": "t" * 200})
    assert response.status_code == 201, response.text
    assert len(response.json()["a"]["title"]) <= 200
