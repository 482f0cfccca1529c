"""A shared migscope trace through the import form (New run page): the form offers the field,
the upload opens the same run page as the run it was exported from (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.importers.limits import MAX_TOTAL_BYTES, MAX_TRACE_FILE_BYTES
from app.web.urls import Urls
from tests.importers.helpers import CONSTRUCTED

URLS = Urls()


class _UploadForm(HTMLParser):
    """The upload form's action and its inputs' attributes, by name."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.action: str | None = None
        self.inputs: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.inside = values.get("id") == "upload-form"
            if self.inside:
                self.action = values.get("action")
        elif tag == "input" and self.inside and values.get("name"):
            self.inputs[str(values["name"])] = values

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def upload_form(client: TestClient) -> _UploadForm:
    form = _UploadForm()
    form.feed(client.get(URLS.new_run()).text)
    return form


# "stored <time>" under the title: when this server stored the run (the upload is later).
STORED_AT = re.compile(r"· stored \d{4}-\d\d-\d\d[ T][0-9:.+]+")


# The uploaded run's line under the title (Run.origin): the one thing its page adds.
ORIGIN_LINE = re.compile(r'<p class="origin" id="run-origin" role="note">(.*?)</p>')


def same_page(client: TestClient, first: str, second: str) -> tuple[str, str, str]:
    """Both runs' pages with each run's id, and the time it was stored here, replaced by the
    same words; the second (uploaded) page's origin line taken out and returned as text."""
    a = client.get(URLS.run(first))
    b = client.get(URLS.run(second))
    assert a.status_code == b.status_code == 200
    pages = [
        STORED_AT.sub("· stored WHEN", page.text.replace(run_id, "RUN"))
        for page, run_id in ((a, first), (b, second))
    ]
    assert all(page.count("· stored WHEN") == 1 for page in pages)
    assert not ORIGIN_LINE.search(pages[0])  # made here: no origin line
    lines = ORIGIN_LINE.findall(pages[1])
    assert len(lines) == 1, "the uploaded run's page says where it came from, once"
    origin = re.sub(r"<[^>]+>", "", lines[0])
    return pages[0], ORIGIN_LINE.sub("", pages[1]), origin


def test_the_form_offers_a_migscope_trace_with_its_limit(api_client: TestClient) -> None:
    form = upload_form(api_client)
    assert form.action == URLS.api_imports()
    field = form.inputs["migscope_trace"]
    assert field["type"] == "file" and field["accept"] == ".json,application/json"
    # The page's size check uses the server's limit for a trace (64 MiB, a whole import's).
    assert MAX_TRACE_FILE_BYTES == MAX_TOTAL_BYTES == 64 * 1024**2
    assert field["data-max-bytes"] == str(MAX_TRACE_FILE_BYTES)


def test_a_smaller_stored_bytes_budget_is_the_forms_limit_too(
    app_with: Callable[..., FastAPI],
) -> None:
    # The server holds a trace to its stored-bytes budget per run: the page's own size check
    # and its words say the same limit, so a file the server would refuse is never sent.
    with TestClient(app_with(max_run_stored_bytes=3 * 1024**2)) as client:
        form = upload_form(client)
        assert form.inputs["migscope_trace"]["data-max-bytes"] == str(3 * 1024**2)
        assert "A migscope trace: 3.0 MiB." in client.get(URLS.new_run()).text
        over = client.post(
            URLS.api_imports(), files={"migscope_trace": ("big.json", b" " * (3 * 1024**2 + 1))}
        )
        assert over.status_code == 413
        assert "(3.0 MiB: a migscope trace may have 64.0 MiB" in over.json()["message"]


def test_an_uploaded_export_opens_the_same_run_page(api_client: TestClient) -> None:
    created = api_client.post(URLS.api_runs(), json={"example": "mlx5-300mb-ack"}).json()
    original = api_client.get(URLS.export_json(created["id"])).content
    form = upload_form(api_client)
    assert form.action is not None
    # What the form's script sends: the file field alone (blank fields are left out).
    response = api_client.post(
        form.action,
        files={"migscope_trace": ("mlx5.json", original, "application/json")},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 201, response.text
    shared = response.json()
    assert shared["url"] == URLS.run(shared["id"])
    page, again, origin = same_page(api_client, created["id"], shared["id"])
    assert page == again
    version = json.loads(original)["engine_version"]
    assert origin.startswith(
        f"uploaded migscope trace (engine {version}), not simulated on this server · file "
        "mlx5.json · uploaded 20"
    )
    # The figures on it are the run's: 57 steps (49 passes for 239), downtime 272.8 ms.
    assert re.search(r"272\.8\d*\s*ms", again) and 'data-steps="57"' in again
    assert "alike passes collapsed: 49 steps stand for 239 pre-copy passes" in again
    assert api_client.get(URLS.export_json(shared["id"])).content == original


def test_an_uploaded_import_opens_the_same_imported_run_page(api_client: TestClient) -> None:
    stem = "vfio100-dec-two-devices"
    files = {
        "src_trace": (
            f"{stem}.src.trace.log",
            (CONSTRUCTED / f"{stem}.src.trace.log").read_bytes(),
        ),
        "dst_trace": (
            f"{stem}.dst.trace.log",
            (CONSTRUCTED / f"{stem}.dst.trace.log").read_bytes(),
        ),
    }
    first = api_client.post(URLS.api_imports(), files=files, data={"title": "two VFs"}).json()
    exported = api_client.get(URLS.export_json(first["id"])).content
    shared = api_client.post(
        URLS.api_imports(), files={"migscope_trace": ("two-vfs.json", exported)}
    ).json()
    page, again, origin = same_page(api_client, first["id"], shared["id"])
    assert page == again
    version = json.loads(exported)["engine_version"]
    assert origin.startswith(
        f"uploaded migscope trace (engine {version}), not imported from QEMU logs on this "
        "server · file two-vfs.json"
    )
    assert "imported from QEMU logs" in again and "+2500.000 ms" in again
    assert f"{stem}.dst.trace.log" in again


def test_a_bad_trace_is_named_next_to_the_field(api_client: TestClient) -> None:
    response = api_client.post(
        URLS.api_imports(), files={"migscope_trace": ("notes.txt", b"steps: 3\n")}
    )
    assert response.status_code == 422
    [item] = response.json()["detail"]
    # The form's script puts an error whose loc names an input next to that input.
    assert item["loc"] == ["body", "migscope_trace"]
    assert item["msg"] == "notes.txt: line 1 column 1: not valid JSON: expected value"
