"""Runs list and About page, with their JSON twins."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.web.urls import Urls
from tests.web.helpers import make_run

URLS = Urls()


def test_runs_list_shows_titles_highlights_and_status(api_client: TestClient) -> None:
    run = make_run(api_client)
    html = api_client.get(URLS.runs()).text
    assert run["title"] in html and URLS.run(run["id"]) in html
    assert "ack on" in html and "completed" in html
    twin = api_client.get(URLS.runs(json=True)).json()
    assert twin["total"] == 1 and twin["runs"][0]["id"] == run["id"]
    assert twin["runs"][0]["highlights"].startswith("1 device")


def test_about_page_names_qemu_functions(api_client: TestClient) -> None:
    response = api_client.get(URLS.about())
    assert response.status_code == 200
    for name in (
        "migration_iteration_run",
        "migration_can_switchover",
        "qemu_loadvm_approve_switchover",
        "vfio_save_iterate",
        "migration_rate_limit",
    ):
        assert name in response.text
    assert f'href="{URLS.about(json=True)}"' in response.text
    assert api_client.get(URLS.about(json=True)).json()["title"] == "About the model"


def test_static_files_are_served(api_client: TestClient) -> None:
    for path in (
        "js/main.js",
        "app.css",
        "vendor/htmx-2.0.11.min.js",
        "vendor/plotly-cartesian-4.1.1.min.js",
    ):
        assert api_client.get(URLS.static(path)).status_code == 200


def test_every_page_links_a_json_twin_that_answers_json(api_client: TestClient) -> None:
    import re

    run = make_run(api_client)
    pair = api_client.post("/api/compare", json={"example": "mlx5-300mb-ack"}).json()
    pages = [
        URLS.new_run(),
        URLS.runs(),
        URLS.about(),
        URLS.run(run["id"]),
        URLS.run_at(run["id"], step=2),
        pair["page"],
        URLS.compare_page(),
    ]
    for page in pages:
        html = api_client.get(page).text
        match = re.search(r'<link rel="alternate" type="application/json" href="([^"]+)">', html)
        assert match, page
        twin = api_client.get(match.group(1).replace("&amp;", "&"))
        assert twin.status_code == 200 and twin.headers["content-type"] == "application/json", page
        by_accept = api_client.get(page, headers={"Accept": "application/json"})
        assert by_accept.json() == twin.json(), page


def test_vendored_files_are_cached_for_a_year_and_ours_revalidate(api_client: TestClient) -> None:
    vendored = api_client.get(URLS.static("vendor/plotly-cartesian-4.1.1.min.js"))
    assert vendored.headers["cache-control"] == "public, max-age=31536000, immutable"
    own = api_client.get(URLS.static("js/main.js"))
    assert own.headers["cache-control"] == "no-cache" and own.headers.get("etag")
    assert (
        api_client.get(
            URLS.static("js/main.js"), headers={"If-None-Match": own.headers["etag"]}
        ).status_code
        == 304
    )
