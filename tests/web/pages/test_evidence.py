"""The Evidence page: every fidelity check with its reference, source and verdict; each row opens
its stored run, simulated on first view and the same run after."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.fidelity import fidelity_rows
from app.web.urls import Urls

URLS = Urls()


def test_evidence_lists_every_check_and_opens_its_run(api_client: TestClient) -> None:
    expected = fidelity_rows()
    twin = api_client.get(URLS.evidence(json=True)).json()
    assert [c["check"] for c in twin["checks"]] == [r.check for r in expected]
    assert twin["passed"] == sum(r.passed for r in expected)
    for shown, row in zip(twin["checks"], expected, strict=True):
        assert (shown["reference"], shown["engine"], shown["source"], shown["passed"]) == (
            row.reference,
            row.engine,
            row.source,
            row.passed,
        )
    html = api_client.get(URLS.evidence()).text
    assert f'href="{URLS.evidence(json=True)}"' in html
    assert html.count('href="/evidence/') == len(expected)
    single = next(c for c in twin["checks"] if not c["compares"])
    first = api_client.get(single["run_url"], follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"].startswith("/runs/")
    again = api_client.get(single["run_url"], follow_redirects=False)
    assert again.headers["location"] == first.headers["location"]  # stored once, then a permalink
    page = api_client.get(first.headers["location"])
    assert single["check"] in page.text
    pair = next(c for c in twin["checks"] if c["compares"])
    opened = api_client.get(pair["run_url"], follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"].startswith("/compare?a=")
    # Evidence runs stay out of the runs list (unlisted), but open by their link.
    listed = api_client.get(URLS.runs(json=True)).json()
    assert all(not r["title"].startswith("Evidence:") for r in listed.get("runs", []))
    assert api_client.get("/evidence/9999/run").status_code == 404
