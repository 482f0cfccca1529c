"""Same-origin state changes, security headers, trusted hosts, the login, the creation rate
limit, share links from the configured base URL, and control characters refused: on the real
app and database (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

EXAMPLE = {"example": "zero-devices"}
EVIL = "https://evil.example"


def _run_id(client: TestClient) -> str:
    response = client.post("/api/runs", json=EXAMPLE)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_cross_site_state_changes_are_refused_and_store_nothing(api_client: TestClient) -> None:
    run_id = _run_id(api_client)
    before = api_client.get("/api/runs").json()["total"]
    attempts = [
        ("POST", "/api/runs", {"json": EXAMPLE}, {"Origin": EVIL}),
        ("POST", "/api/compare", {"json": EXAMPLE}, {"Origin": EVIL}),
        # multipart, as a cross-site HTML form would send it
        ("POST", "/api/imports", {"files": {"src_trace": ("a.log", b"x")}}, {"Origin": EVIL}),
        # body-less POSTs
        ("POST", f"/api/runs/{run_id}/simulate-this", {}, {"Sec-Fetch-Site": "cross-site"}),
        ("POST", f"/api/runs/{run_id}/presentations", {}, {"Origin": EVIL}),
        ("POST", f"/api/runs/{run_id}/presentations", {}, {"Sec-Fetch-Site": "same-site"}),
        ("POST", "/new/progress", {"json": EXAMPLE}, {"Origin": "null"}),
    ]
    for method, path, kwargs, headers in attempts:
        response = api_client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 403, (path, headers, response.text)
        assert "cross-site request refused" in response.json()["message"]
    assert api_client.get("/api/runs").json()["total"] == before
    # The site's own pages (same origin), and clients that send neither header, still work.
    own = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    assert api_client.post("/api/runs", json=EXAMPLE, headers=own).status_code == 201
    assert api_client.post(f"/api/runs/{run_id}/presentations").status_code == 201
    # Reads are never refused for their origin.
    assert (
        api_client.get(
            "/api/runs", headers={"Origin": EVIL, "Sec-Fetch-Site": "cross-site"}
        ).status_code
        == 200
    )


def test_every_answer_carries_the_security_headers(api_client: TestClient) -> None:
    run_id = _run_id(api_client)
    for path in [
        "/",
        "/new",
        f"/runs/{run_id}",
        "/api/runs",
        f"/api/runs/{run_id}/export.csv",
        "/docs",
        "/static/app.css",
        "/no/such/page",
        "/api/runs/nope",
    ]:
        response = api_client.get(path)
        headers = response.headers
        csp = headers["content-security-policy"]
        assert (
            "script-src 'self'" in csp
            and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        ), path
        assert "frame-ancestors 'none'" in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
    # No inline script on the API docs page (Swagger UI starts from /docs/init.js).
    docs = api_client.get("/docs").text
    assert "<script>" not in docs and 'src="/docs/init.js"' in docs
    assert "SwaggerUIBundle" in api_client.get("/docs/init.js").text


def test_unknown_host_header_is_refused_and_never_echoed(app_with: Callable[..., FastAPI]) -> None:
    client = TestClient(app_with(public_base_url="https://migscope.example"))
    with client:
        assert client.get("/api/runs", headers={"Host": "evil.example"}).status_code == 400
        run_id = _run_id(client)
        # Share and follow links come from public_base_url, whatever Host the request named.
        created = client.post(
            f"/api/runs/{run_id}/presentations", headers={"Host": "migscope.example"}
        ).json()
        assert created["follow_url"].startswith("https://migscope.example/present/")
        page = client.get(f"/runs/{run_id}.json", headers={"Host": "localhost:9999"}).text
        assert "localhost:9999" not in page


def test_follow_links_without_a_base_url_use_the_servers_own_address(
    api_client: TestClient,
) -> None:
    run_id = _run_id(api_client)
    created = api_client.post(
        f"/api/runs/{run_id}/presentations", headers={"Host": "localhost:1234"}
    ).json()
    # TestClient's server address is testserver:80; the Host header (localhost:1234) is not used.
    assert created["follow_url"].startswith("http://testserver/present/")


def test_instance_token_and_login(app_with: Callable[..., FastAPI]) -> None:
    client = TestClient(app_with(auth="token:s3cret-token"))
    with client:
        refused = client.get("/api/runs")
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith(
            "Basic"
        )
        assert client.get("/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert (
            client.get("/api/runs", headers={"Authorization": "Bearer s3cret-token"}).status_code
            == 200
        )
        basic = base64.b64encode(b"anyone:s3cret-token").decode()
        assert client.get("/", headers={"Authorization": f"Basic {basic}"}).status_code == 200
        assert client.post("/api/runs", json=EXAMPLE).status_code == 401
    client = TestClient(app_with(auth="basic:teacher:pw"))
    with client:
        good = base64.b64encode(b"teacher:pw").decode()
        bad = base64.b64encode(b"student:pw").decode()
        assert (
            client.get("/api/runs", headers={"Authorization": f"Basic {good}"}).status_code == 200
        )
        assert client.get("/api/runs", headers={"Authorization": f"Basic {bad}"}).status_code == 401
        assert client.get("/api/runs", headers={"Authorization": "Basic !!!"}).status_code == 401


def test_creation_rate_limit_per_client(app_with: Callable[..., FastAPI]) -> None:
    client = TestClient(app_with(creation_rate_per_minute=3))
    with client:
        run_id = _run_id(client)
        statuses = [client.post("/api/runs", json=EXAMPLE).status_code for _ in range(3)]
        assert statuses == [201, 201, 429]
        limited = client.post("/api/compare", json=EXAMPLE)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        # Reads are not limited.
        assert client.get(f"/api/runs/{run_id}").status_code == 200
        # Nothing was stored for a refused creation.
        assert client.get("/api/runs").json()["total"] == 3


@pytest.mark.parametrize(
    ("method", "path", "loc"),
    [
        ("GET", "/api/runs?status=%00", ["query", "status"]),
        ("GET", "/api/runs/RUN/series?event_kinds=%00", ["query", "event_kinds"]),
        ("GET", "/present/a%00b", ["path"]),
        ("GET", "/api/presentations/a%00b", ["path"]),
        ("GET", "/api/presentations/a%00b/events", ["path"]),
        ("POST", "/api/presentations/a%00b/step", ["path"]),
        ("GET", "/api/runs/a%00b", ["path"]),
        ("GET", "/api/runs?source=%01", ["query", "source"]),
    ],
)
def test_control_characters_in_path_or_query_are_422(
    api_client: TestClient, method: str, path: str, loc: list[str]
) -> None:
    path = path.replace("RUN", _run_id(api_client)) if "RUN" in path else path
    kwargs = {"json": {"step": 1}} if method == "POST" else {}
    response = api_client.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc


def test_huge_page_numbers_are_not_server_errors(api_client: TestClient) -> None:
    _run_id(api_client)
    assert api_client.get("/runs?page=100000000000000000000").status_code in (200, 422)
    assert api_client.get("/runs.json?page=9223372036854775807").status_code in (200, 422)
    response = api_client.get("/api/runs?page=100000000000000000000")
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "page"]
