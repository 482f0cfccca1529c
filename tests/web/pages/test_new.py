"""The New run page: form fields with units and preset tags, device rows, examples, upload form."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.engine.presets import PRESETS
from app.web.urls import Urls

URLS = Urls()


def test_new_run_form_has_units_presets_tags_and_both_actions(api_client: TestClient) -> None:
    response = api_client.get(URLS.new_run())
    assert response.status_code == 200
    html = response.text
    assert 'name="guest.ram_bytes"' in html and "(bytes)" in html and "(ms)" in html
    assert 'name="devices.0.preset"' in html
    for tag in ("published", "derived", "estimate"):
        assert f'class="tag tag-{tag}"' in html
    assert 'data-submit="run"' in html and 'data-submit="compare"' in html
    assert f'data-run-url="{URLS.new_run_progress("run")}"' in html
    assert (
        f'data-api-run-url="{URLS.api_runs()}"' in html
        and f'data-api-compare-url="{URLS.api_compare()}"' in html
    )
    assert 'id="upload-form"' in html and "per file" in html
    assert api_client.get(URLS.index()).text == html


def test_new_run_json_twin_lists_presets_with_tags(api_client: TestClient) -> None:
    twin = api_client.get(URLS.new_run(json=True)).json()
    assert set(twin["presets"]) == set(PRESETS)
    field = twin["presets"]["mlx5-cx7-vf-300mb"]["fields"]["dest_initial_load_ms"]
    assert field == {"value": 1480.0, "tag": "published", "source": field["source"]}
    assert twin["submit"]["run"] == URLS.api_runs()


def test_device_row_for_a_preset_shows_its_values_and_tags(api_client: TestClient) -> None:
    response = api_client.get(URLS.new_device_row(), params={"index": 3, "preset": "hisi-acc-vf"})
    assert response.status_code == 200
    html = response.text
    assert 'id="device-3"' in html and 'name="devices.3.initial_bytes"' in html
    assert 'placeholder="40"' in html  # QM_MATCH_SIZE, derived
    assert 'class="tag tag-derived"' in html
    assert "<html" not in html


def test_example_fills_the_form(api_client: TestClient) -> None:
    html = api_client.get(URLS.new_run(), params={"example": "two-mlx5-vfs"}).text
    assert 'name="devices.1.name"' in html


def _lines(response) -> list[dict]:
    import json

    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def test_run_with_progress_streams_then_names_the_page(api_client: TestClient) -> None:
    response = api_client.post(
        URLS.new_run_progress("run"),
        json={"example": "mlx5-300mb-default-params", "overrides": {"max_time_ms": 20000}},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = _lines(response)
    assert any("progress" in line for line in lines[:-1])
    done = lines[-1]["done"]
    assert done["page"] == URLS.run(done["ids"][0])
    assert api_client.get(done["page"]).status_code == 200


def test_compare_with_progress_stores_both_and_opens_the_comparison(api_client: TestClient) -> None:
    lines = _lines(
        api_client.post(URLS.new_run_progress("compare"), json={"example": "mlx5-300mb-ack"})
    )
    a, b = lines[-1]["done"]["ids"]
    assert lines[-1]["done"]["page"] == URLS.compare(a, b)
    twin = api_client.get(URLS.compare_page(a, b, json=True)).json()
    assert twin["a"]["switchover_ack"] is True and twin["b"]["switchover_ack"] is False


def test_run_with_progress_answers_the_api_422(api_client: TestClient) -> None:
    body = {"guest": {"ram_bytes": "lots"}, "params": {"downtime_limit_ms": 0}}
    ours = api_client.post(URLS.new_run_progress("run"), json=body)
    api = api_client.post(URLS.api_runs(), json=body)
    assert ours.status_code == api.status_code == 422
    assert ours.json()["detail"] == api.json()["detail"]
    locs = [item["loc"] for item in ours.json()["detail"]]
    assert ["body", "guest", "ram_bytes"] in locs and [
        "body",
        "params",
        "downtime_limit_ms",
    ] in locs
