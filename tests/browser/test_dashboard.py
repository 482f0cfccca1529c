"""The dashboard in a real browser: create, step, compare, validate, download, escape."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Dialog, Page, expect

from tests.browser.helpers import EXAMPLE, make_run, ready, step_in_url, wait_step

XSS = "<script>alert(1)</script>"


def cursor_x(page: Page, chart: str = "chart-devices") -> float:
    return float(
        page.evaluate(
            f"document.getElementById('{chart}').layout.shapes.find(s => s.name === 'cursor').x0"
        )
    )


def test_create_a_run_from_a_preset(page: Page, shot: Any) -> None:
    page.goto("/new")
    ready(page)
    shot("new-run")
    page.fill('[name="devices.0.name"]', "0000:5e:00.3")
    page.select_option('[name="devices.0.preset"]', "mlx5-cx7-vf-100mib")
    expect(page.locator("#device-0")).to_contain_text("~100 MiB of state")
    expect(page.locator('[name="devices.0.name"]')).to_have_value("0000:5e:00.3")
    expect(page.locator('#device-0 [name="devices.0.dest_load_bytes_per_s"]')).to_have_attribute(
        "placeholder", "440 MiB"
    )
    # Add a device in place, then remove it again.
    page.get_by_role("button", name="Add a device").click()
    expect(page.locator(".device-row")).to_have_count(2)
    page.locator("#device-1 [data-remove-device]").click()
    expect(page.locator(".device-row")).to_have_count(1)
    page.click('button[data-submit="run"]')
    page.wait_for_url(re.compile(r"/runs/[\w-]+$"), timeout=30_000)
    ready(page, charts=4)
    expect(page.locator("h1")).to_have_text(re.compile("mlx5 CX-7 VF"))
    names = page.evaluate("document.getElementById('chart-devices').data.map(t => t.name)")
    assert "0000:5e:00.3: initial at source" in names
    shot("run")


def test_step_with_keys_and_buttons_url_and_reload(page: Page, shot: Any) -> None:
    run = make_run(page)
    last = run["step_count"] - 1
    page.goto(run["urls"]["page"])
    ready(page, charts=4)
    page.keyboard.press("End")
    wait_step(page, last)
    page.keyboard.press("Home")
    wait_step(page, 0)
    page.keyboard.press("ArrowRight")
    wait_step(page, 1)
    page.get_by_role("button", name="Next step (Right arrow)").click()
    wait_step(page, 2)
    page.get_by_role("button", name="Previous step (Left arrow)").click()
    wait_step(page, 1)
    page.keyboard.press("ArrowLeft")
    wait_step(page, 0)
    page.get_by_role("button", name="Last step (End)").click()
    wait_step(page, last)
    page.get_by_role("button", name="First step (Home)").click()
    wait_step(page, 0)
    # Space plays, Space again pauses.
    page.select_option("#speed", "25")
    page.keyboard.press(" ")
    page.wait_for_function("new URL(location).searchParams.get('step') >= '3'")
    page.keyboard.press(" ")
    expect(page.locator('[data-action="play"]')).to_have_attribute("aria-pressed", "false")
    # The scrubber goes straight to a step.
    page.locator("#scrubber").fill("5")
    wait_step(page, 5)
    twin = page.request.get(
        page.url.replace(f"/runs/{run['id']}", f"/runs/{run['id']}.json")
    ).json()
    assert twin["step"]["index"] == 5
    for chart in ("chart-devices", "chart-ram", "chart-lane"):
        assert abs(cursor_x(page, chart) - twin["step"]["end_ms"] / 1000) < 1e-6
    # Reload opens the same step.
    page.reload()
    ready(page, charts=4)
    assert step_in_url(page) == 5
    expect(page.locator("#scrubber")).to_have_value("5")
    expect(page.locator("#step-panel article")).to_have_attribute("data-step", "5")
    assert abs(cursor_x(page) - twin["step"]["end_ms"] / 1000) < 1e-6
    assert "step=5" in page.locator("#share-link").input_value()


def test_zoom_survives_stepping(page: Page) -> None:
    run = make_run(page)
    page.goto(run["urls"]["page"])
    ready(page, charts=4)
    # The chart re-asks the server for the series of the visible range.
    with page.expect_response(
        lambda r: "/series?" in r.url and "from_ms=500" in r.url and "to_ms=1500" in r.url
    ):
        page.evaluate("Plotly.relayout('chart-ram', {'xaxis.range': [0.5, 1.5]})")
    page.wait_for_function(
        "document.getElementById('chart-ram').data[0].x.some(v => v >= 0.5 && v <= 1.5)"
    )
    page.keyboard.press("ArrowRight")
    wait_step(page, 1)
    # The step is drawn (the stepper marks it once every chart's cursor has moved): a reset of
    # the zoom by the step update would have happened by now.
    page.wait_for_function("performance.getEntriesByName('migscope:shown:1').length > 0")
    assert page.evaluate("document.getElementById('chart-ram').layout.xaxis.range") == [0.5, 1.5]


def test_ack_and_switchover_markers_are_in_the_chart_data(page: Page) -> None:
    run = make_run(page)
    page.goto(run["urls"]["page"])
    ready(page, charts=4)
    kinds = page.evaluate(
        "document.getElementById('chart-devices').data.filter(t => t.meta && t.meta.event_kind)"
        ".map(t => [t.meta.event_kind, t.x])"
    )
    found = dict(kinds)
    summary = run["summary"]
    assert abs(found["ack_received"][0] - summary["ack_received_at_ms"] / 1000) < 1e-3
    assert (
        abs(found["switchover_permitted"][0] - summary["switchover_permitted_at_ms"] / 1000) < 1e-3
    )
    for kind in ("init_data_sent", "init_data_loaded", "ack_sent", "vm_stop", "vm_start"):
        assert kind in found
    shapes = page.evaluate(
        "document.getElementById('chart-devices').layout.shapes.map(s => s.name)"
    )
    assert {"event:ack_received", "event:switchover_permitted", "cursor"} <= set(shapes)
    lane = page.evaluate(
        "document.getElementById('chart-lane').data.map(t => t.meta && (t.meta.message || t.meta.event_kind))"
    )
    assert "ack_sent" in lane and "ack_received" in lane


def test_compare_ack_on_off_from_the_form(page: Page, shot: Any) -> None:
    page.goto("/new")
    ready(page)
    page.click('button[data-submit="compare"]')
    page.wait_for_url(re.compile(r"/compare\?a=[\w-]+&b=[\w-]+$"), timeout=60_000)
    ready(page, charts=7)
    on = float(page.locator('.downtime[data-run="a"]').get_attribute("data-ms") or "nan")
    off = float(page.locator('.downtime[data-run="b"]').get_attribute("data-ms") or "nan")
    assert off > on > 0
    headline = page.locator("#headline").inner_text()
    assert headline.startswith("With switchover-ack the downtime is")
    assert f"{on:.0f} ms" in headline and f"{off:.0f} ms" in headline
    assert "moved into pre-copy" in headline
    ranges = page.evaluate(
        "['chart-devices-a','chart-devices-b','chart-ram-a','chart-ram-b'].map(id => document.getElementById(id).layout.xaxis.range)"
    )
    assert all(r == ranges[0] for r in ranges)
    shot("compare")


def test_bad_field_shows_the_api_message_inline(page: Page) -> None:
    page.goto("/new")
    ready(page)
    page.evaluate("window.__noReload = 1")
    page.fill('[name="guest.ram_bytes"]', "lots of memory")
    page.fill('[name="params.downtime_limit_ms"]', "0")
    page.click('button[data-submit="run"]')
    ram_error = page.locator('[name="guest.ram_bytes"] ~ .field-error')
    expect(ram_error).to_be_visible()
    expect(ram_error).to_contain_text("lots of memory")
    expect(page.locator('[name="guest.ram_bytes"]')).to_have_attribute("aria-invalid", "true")
    expect(page.locator('[name="params.downtime_limit_ms"] ~ .field-error')).to_be_visible()
    assert page.evaluate("window.__noReload") == 1
    assert page.url.endswith("/new")
    # Fixing the field and running clears the messages and opens the run.
    page.fill('[name="guest.ram_bytes"]', "4 GiB")
    page.fill('[name="params.downtime_limit_ms"]', "300")
    page.click('button[data-submit="run"]')
    page.wait_for_url(re.compile(r"/runs/[\w-]+$"), timeout=30_000)


def test_download_the_three_exports(page: Page) -> None:
    run = make_run(page)
    page.goto(run["urls"]["page"])
    ready(page)
    contents = {}
    for label in ("CSV", "JSON", "Perfetto"):
        with page.expect_download() as info:
            page.locator(".downloads").get_by_role("link", name=label, exact=True).click()
        download = info.value
        contents[label] = (
            download.suggested_filename,
            Path(download.path()).read_text(encoding="utf-8"),
        )
    assert contents["CSV"][0].endswith(".csv") and contents["CSV"][1].splitlines()[0].count(",") > 3
    assert json.loads(contents["JSON"][1])["format"] == "migscope-trace"
    assert "traceEvents" in json.loads(contents["Perfetto"][1])


def test_user_text_is_shown_as_text(page: Page) -> None:
    dialogs: list[str] = []

    def record_and_dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record_and_dismiss)
    run = make_run(
        page,
        {"title": XSS, "devices": [{"name": XSS, "preset": "hisi-acc-vf"}], "max_time_ms": 20000},
    )
    page.goto(run["urls"]["page"])
    ready(page, charts=4)
    expect(page.locator("h1")).to_have_text(XSS)
    # Plotly draws names as pseudo-HTML: the name goes in as entities and shows as the text.
    legend = page.evaluate(
        "[...document.querySelectorAll('#chart-devices .legendtext')].map(t => t.textContent)"
    )
    assert f"{XSS}: initial at source" in legend
    assert page.locator("#chart-devices .legendtext b").count() == 0
    page.goto("/runs")
    ready(page)
    expect(page.get_by_role("link", name=XSS)).to_be_visible()
    assert dialogs == []


def test_presentation_mode_and_keyboard_only(page: Page, shot: Any) -> None:
    run = make_run(page)
    page.goto(run["urls"]["page"] + "?step=3")
    ready(page, charts=4)
    page.keyboard.press("p")
    expect(page.locator("body")).to_have_class(re.compile("presentation"))
    expect(page.locator("#presentation-toggle")).to_have_attribute("aria-pressed", "true")
    size = page.evaluate("getComputedStyle(document.body).fontSize")
    assert float(size.rstrip("px")) >= 20  # 24 px above 1400 px wide; 20 px fits 1280 px projectors
    shot("run-presentation")
    page.keyboard.press("p")
    expect(page.locator("body")).not_to_have_class(re.compile("presentation"))
    # Keyboard only: Tab reaches the step buttons, Enter presses them.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.action") == "forward":
            break
    else:
        raise AssertionError("Tab never reached the Forward button")
    page.keyboard.press("Enter")
    wait_step(page, 4)


def test_runs_and_about_pages(page: Page, shot: Any) -> None:
    make_run(page)
    page.goto("/runs")
    ready(page)
    expect(page.locator("table.runs-table tbody tr").first).to_be_visible()
    shot("runs")
    page.goto("/about")
    ready(page)
    expect(page.locator("h1")).to_have_text("About the model")
    shot("about")
    alt = page.locator('link[rel="alternate"][type="application/json"]').get_attribute("href")
    assert alt is not None
    assert page.request.get(alt).json()["title"] == "About the model"


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "constructed"
IMPORT_STEM = "vfio100-dec-two-devices"  # constructed from QEMU's format strings (see its README)


def test_import_logs_then_simulate_this(page: Page, shot: Any) -> None:
    page.goto("/new")
    ready(page)
    page.set_input_files("#up-src_trace", str(FIXTURES / f"{IMPORT_STEM}.src.trace.log"))
    page.set_input_files("#up-dst_trace", str(FIXTURES / f"{IMPORT_STEM}.dst.trace.log"))
    page.set_input_files("#up-query_migrate", str(FIXTURES / f"{IMPORT_STEM}.query-migrate.jsonl"))
    page.set_input_files("#up-info_migrate", str(FIXTURES / f"{IMPORT_STEM}.info-migrate.txt"))
    page.fill("#up-title", "two VFs, constructed logs")
    page.locator("#upload-form").get_by_role("button", name="Import").click()
    page.wait_for_url(re.compile(r"/runs/[\w-]+$"), timeout=30_000)
    ready(page, charts=4)
    expect(page.locator("h1")).to_have_text("two VFs, constructed logs")
    expect(page.locator(".badge-import")).to_be_visible()
    kinds = page.evaluate(
        "document.getElementById('chart-devices').data.filter(t => t.meta && t.meta.event_kind).map(t => t.meta.event_kind)"
    )
    assert "ack_received" in kinds and "switchover_permitted" in kinds
    bars = page.evaluate(
        "document.getElementById('chart-downtime').data.filter(t => t.type === 'bar').map(t => t.name)"
    )
    assert len(bars) >= 3
    shot("run-imported")
    page.get_by_role("button", name="Simulate this").click()
    page.wait_for_url(re.compile(r"/compare\?a=[\w-]+&b=[\w-]+$"), timeout=60_000)
    ready(page, charts=7)
    expect(page.locator("#headline")).to_contain_text("The real migration's downtime was")
    assert page.locator('.downtime[data-run="a"]').get_attribute("data-ms") not in (None, "None")
    shot("compare-imported")


def test_bad_upload_shows_the_message_inline(page: Page) -> None:
    page.goto("/new")
    ready(page)
    page.locator("#upload-form").get_by_role("button", name="Import").click()
    expect(page.locator("#up-src_trace ~ .field-error")).to_contain_text("upload at least one file")
    assert page.url.endswith("/new")


def test_long_run_shows_progress(page: Page) -> None:
    page.goto("/new")
    ready(page)
    # Stored runs are collapsed: stop-copy-query-fails is 19 steps (17,425 passes), and
    # busy-guest-8.1 43; with every pass kept, ten minutes of a busy guest is ~12,000 steps.
    page.select_option("#example", "busy-guest-8.1")
    expect(page.locator("#f-title")).to_have_value(re.compile("busy", re.IGNORECASE))
    page.fill("#f-max_time_ms", "600000")
    page.check("#every-pass")
    page.click('button[data-submit="run"]')
    page.wait_for_function(
        "document.querySelector('#run-progress progress').value > 0 && "
        "document.querySelector('#run-progress .progress-text').textContent.includes('steps')"
    )
    expect(page.locator("#run-progress")).to_be_visible()
    page.wait_for_url(re.compile(r"/runs/[\w-]+$"), timeout=60_000)


def test_compare_zoom_applies_to_every_time_chart(page: Page) -> None:
    pair = page.request.post("/api/compare", data={"example": EXAMPLE}).json()
    page.goto(pair["page"])
    ready(page, charts=7)
    page.evaluate("Plotly.relayout('chart-ram-a', {'xaxis.range': [1, 2]})")
    page.wait_for_function(
        "['chart-devices-a','chart-devices-b','chart-ram-b','chart-lane-a','chart-lane-b']"
        ".every(id => JSON.stringify(document.getElementById(id).layout.xaxis.range) === '[1,2]')"
    )


def test_run_charts_share_one_time_axis(page: Page) -> None:
    run = make_run(page)
    page.goto(run["urls"]["page"])
    ready(page, charts=4)
    ranges = page.evaluate(
        "['chart-devices','chart-ram','chart-lane'].map(id => document.getElementById(id).layout.xaxis.range)"
    )
    assert ranges[0] == ranges[1] == ranges[2]
    page.evaluate("Plotly.relayout('chart-lane', {'xaxis.range': [2, 2.5]})")
    page.wait_for_function(
        "['chart-devices','chart-ram'].every(id => JSON.stringify(document.getElementById(id).layout.xaxis.range) === '[2,2.5]')"
    )


def test_share_link_copies_the_current_step(page: Page) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    run = make_run(page)
    page.goto(run["urls"]["page"] + "?step=2")
    ready(page, charts=4)
    page.keyboard.press("ArrowRight")
    wait_step(page, 3)
    page.get_by_role("button", name="Copy the share link").click()
    expect(page.locator("#copy-status")).to_have_text(re.compile("Copied|Ctrl\\+C"))
    link = page.locator("#share-link").input_value()
    assert link.endswith(f"/runs/{run['id']}?step=3")
    if page.locator("#copy-status").inner_text() == "Copied.":
        assert page.evaluate("navigator.clipboard.readText()") == link


def test_compare_ack_on_off_from_a_run_page(page: Page) -> None:
    run = make_run(page)
    page.goto(run["urls"]["page"])
    ready(page, charts=4)
    page.get_by_role("button", name="Compare switchover-ack on/off").click()
    page.wait_for_url(re.compile(r"/compare\?a=[\w-]+&b=[\w-]+$"), timeout=60_000)
    ready(page, charts=7)
    expect(page.locator("#headline")).to_contain_text("With switchover-ack the downtime is")


def test_every_control_has_a_label(page: Page) -> None:
    run = make_run(page)
    unlabelled_js = """() => [...document.querySelectorAll('input, select, textarea, button')]
        .filter(el => el.type !== 'hidden')
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                      && !(el.tagName === 'BUTTON' && el.textContent.trim()))
        .map(el => el.outerHTML.slice(0, 120))"""
    for url in ("/new", run["urls"]["page"], "/runs", "/about", "/compare"):
        page.goto(url)
        ready(page)
        assert page.evaluate(unlabelled_js) == [], url


def test_compare_any_two_runs_from_the_runs_list(page: Page) -> None:
    first = make_run(page)
    second = make_run(page, {"example": "two-mlx5-vfs"})
    page.goto("/runs")
    ready(page)
    page.get_by_label(f"Compare as run A: {first['title']}").first.check()
    page.get_by_label(f"Compare as run B: {second['title']}").first.check()
    page.get_by_role("button", name="Compare A with B").click()
    page.wait_for_url(re.compile(r"/compare\?"))
    assert f"a={first['id']}" in page.url and f"b={second['id']}" in page.url
    ready(page, charts=7)
    expect(page.locator("#headline")).to_contain_text("downtime")
