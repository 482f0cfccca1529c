"""The New run page's import form taking a migscope trace back, in a real browser: a run's
export.json uploaded through the "migscope trace" field opens as a new run page that says where
it came from and shows the run's steps and downtime; a file over the limit the field states is
refused in the page (static/js/upload.js) and never sent."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import FilePayload, Page, Request, expect

from app.engine.units import format_ms
from tests.browser.helpers import EXAMPLE, make_run, ready

TRACE_INPUT = "#up-migscope_trace"
FILE_NAME = "mlx5-ack-export.json"
# What the example simulates to (the API's summary is read too; these say what to expect).
EXAMPLE_STEP_COUNT = 57
EXAMPLE_DOWNTIME = "273 ms"  # 272.8 ms, format_ms rounds from 100 ms up


def open_import_form(page: Page) -> None:
    page.goto("/new")
    ready(page)
    expect(page.locator(TRACE_INPUT)).to_be_attached()


def test_an_uploaded_export_opens_as_a_run_that_says_it_was_uploaded(page: Page) -> None:
    made = make_run(page, {"example": EXAMPLE})
    stored = page.request.get(f"/api/runs/{made['id']}").json()
    downtime_ms = stored["summary"]["downtime_ms"]
    assert stored["step_count"] == EXAMPLE_STEP_COUNT
    assert round(downtime_ms, 1) == 272.8 and format_ms(downtime_ms) == EXAMPLE_DOWNTIME
    exported = page.request.get(f"/api/runs/{made['id']}/export.json")
    assert exported.status == 200, exported.text()
    export_bytes = exported.body()

    open_import_form(page)
    page.set_input_files(
        TRACE_INPUT,
        files=[FilePayload(name=FILE_NAME, mimeType="application/json", buffer=export_bytes)],
    )
    page.click('#upload-form button[type="submit"]')
    page.wait_for_url(re.compile(r"/runs/[\w-]+$"))
    ready(page)
    found = re.search(r"/runs/([\w-]+)$", page.url)
    assert found is not None, page.url
    new_id = found.group(1)
    assert new_id != made["id"]

    origin = page.locator("#run-origin")
    expect(origin).to_contain_text(
        re.compile(
            r"^uploaded migscope trace \(engine [\w.+-]+\), not simulated on this server"
            rf" · file {re.escape(FILE_NAME)}"
        )
    )
    engine = re.search(r"\(engine ([^)]+)\)", origin.inner_text())
    assert engine is not None and engine.group(1) == stored["engine_version"]
    # The upload is the same run: its steps and downtime, as the page shows them.
    expect(page.locator("#stepper")).to_have_attribute("data-steps", str(EXAMPLE_STEP_COUNT))
    last = EXAMPLE_STEP_COUNT - 1
    expect(page.locator('label[for="scrubber"]')).to_have_text(re.compile(rf"^Step 0 of {last}$"))
    downtime = page.locator("#downtime-value")
    expect(downtime).to_have_text(format_ms(downtime_ms))
    assert float(downtime.get_attribute("data-ms") or "nan") == downtime_ms

    uploaded = page.request.get(f"/api/runs/{new_id}").json()
    assert uploaded["step_count"] == EXAMPLE_STEP_COUNT
    assert uploaded["summary"]["downtime_ms"] == downtime_ms
    again = page.request.get(f"/api/runs/{new_id}/export.json")
    assert again.body() == export_bytes  # the page's promise: the same file byte for byte


def test_a_trace_over_the_stated_limit_is_refused_in_the_page(page: Page, tmp_path: Path) -> None:
    open_import_form(page)
    limit_bytes = int(page.locator(TRACE_INPUT).get_attribute("data-max-bytes") or "0")
    assert limit_bytes > 0
    # The help text states the same limit for a migscope trace (format_bytes: "64.0 MiB").
    limit_mib = limit_bytes / 1024**2
    expect(page.locator("#upload-form .help")).to_contain_text(
        f"A migscope trace: {limit_mib:.1f} MiB"
    )
    # One byte over; a sparse file (Playwright refuses buffers over 50 MB, and the page reads
    # only the size before it refuses).
    big = tmp_path / "too-big-export.json"
    with big.open("wb") as f:
        f.truncate(limit_bytes + 1)
    sent: list[str] = []

    def record(request: Request) -> None:
        if "/api/imports" in request.url:
            sent.append(request.url)

    page.on("request", record)
    url_before = page.url
    page.set_input_files(TRACE_INPUT, str(big))
    page.click('#upload-form button[type="submit"]')
    status = page.locator("#upload-status")
    expect(status).to_have_text(
        f"migscope trace (export.json): {big.name} is {(limit_bytes + 1) / 1024**2:.1f} MiB; "
        f"the limit for this field is {limit_mib:.1f} MiB."
    )
    assert page.url == url_before
    assert not sent, sent
    # Nothing was sent, so the form shows no server error either.
    expect(page.locator("#upload-form .form-errors")).to_be_hidden()
