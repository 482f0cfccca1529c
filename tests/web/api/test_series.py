"""Series: continuous figures downsampled with MinMaxLTTB, events never dropped."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.web.urls import Urls

EXAMPLE = "reference-bench"  # several hundred steps, devices, acks and a switchover


def _run(client: TestClient) -> dict:
    response = client.post("/api/runs", json={"example": EXAMPLE})
    assert response.status_code == 201, response.text
    return response.json()


def test_default_series_and_downsampling(api_client: TestClient) -> None:
    run = _run(api_client)
    full = api_client.get(run["urls"]["series"], params={"max_points": 20_000}).json()
    small = api_client.get(run["urls"]["series"], params={"max_points": 40}).json()
    keys = [s["key"] for s in full["series"]]
    assert keys[:2] == ["ram_remaining_bytes", "threshold_bytes"]
    assert any(key.endswith("/init_est_bytes") for key in keys)
    for big, tiny in zip(full["series"], small["series"], strict=True):
        assert big["key"] == tiny["key"]
        assert not big["downsampled"] and len(big["y"]) == big["points_total"]
        assert len(tiny["y"]) == min(40, big["points_total"])
        assert tiny["downsampled"] == (big["points_total"] > 40)
        if big["y"]:
            # MinMaxLTTB keeps the ends and the extremes.
            assert tiny["x_ms"][0] == big["x_ms"][0] and tiny["x_ms"][-1] == big["x_ms"][-1]
            assert max(tiny["y"]) == max(big["y"]) and min(tiny["y"]) == min(big["y"])
            assert tiny["x_ms"] == sorted(tiny["x_ms"])
    # However few points the lines get, every event stays.
    assert small["events"] == full["events"]
    kinds = {e["kind"] for e in full["events"]}
    assert {"vm_stop", "vm_start", "ack_received"} <= kinds
    assert "window" not in kinds


def test_fields_devices_time_range_and_event_kinds(api_client: TestClient) -> None:
    run = _run(api_client)
    detail = api_client.get(run["urls"]["api"]).json()
    device = detail["summary"]["devices"][0]["name"]
    url = Urls().api_run_series(
        run["id"], fields=["bandwidth_bytes_per_s", "device.sent_bytes"], from_ms=100, to_ms=900
    )
    out = api_client.get(f"{url}&devices={device}").json()
    assert [s["key"] for s in out["series"]] == ["bandwidth_bytes_per_s", f"{device}/sent_bytes"]
    assert out["series"][0]["unit"] == "bytes_per_s"
    assert all(100 <= x <= 900 for s in out["series"] for x in s["x_ms"])
    assert all(100 <= e["t_ms"] <= 900 for e in out["events"])
    every = api_client.get(run["urls"]["series"], params={"event_kinds": "all"}).json()
    assert every["event_kinds"] is None
    stored = api_client.get(run["urls"]["export_json"]).json()["events"]
    assert len(every["events"]) == len(stored)
    only = api_client.get(run["urls"]["series"], params={"event_kinds": "vm_stop,vm_start"}).json()
    assert {e["kind"] for e in only["events"]} == {"vm_stop", "vm_start"}


def test_bad_series_queries_are_422(api_client: TestClient) -> None:
    run = _run(api_client)
    bad_field = api_client.get(run["urls"]["series"], params={"fields": "ram_remaining_bytes,nope"})
    assert bad_field.status_code == 422
    assert bad_field.json()["detail"][0]["loc"] == ["query", "fields"]
    assert "nope" in bad_field.json()["message"]
    too_many = api_client.get(run["urls"]["series"], params={"max_points": 10**6})
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["loc"] == [
        "query",
        "max_points",
    ]
    too_few = api_client.get(run["urls"]["series"], params={"max_points": 2})
    assert too_few.status_code == 422 and too_few.json()["detail"][0]["loc"] == [
        "query",
        "max_points",
    ]
    no_device = api_client.get(run["urls"]["series"], params={"devices": "no-such-device"})
    assert no_device.status_code == 422 and no_device.json()["detail"][0]["loc"] == [
        "query",
        "devices",
    ]
    backwards = api_client.get(run["urls"]["series"], params={"from_ms": 10, "to_ms": 5})
    assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"] == [
        "query",
        "to_ms",
    ]
