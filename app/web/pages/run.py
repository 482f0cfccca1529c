"""The run page: `/runs/{id}` and `/runs/{id}?step=N`, its JSON twin, the step-panel fragment and
the chart series of a visible time range."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlmodel import Session

from app.engine.trace import Step
from app.engine.units import format_bytes, format_ms, format_rate
from app.store.models import Run
from app.store.runs import get_run, load_events, load_step

from ..branching import params_at
from ..charts import figures as charts
from ..charts.run_series import chart_events, run_series
from ..deps import SessionDep, UrlsDep
from ..explain import NEXT_CHOICES, explain_step, next_prompt, summary_story
from ..passes import run_passes_shown
from ..provenance import branch_warning, origin_line, resimulation_note
from ..urls import RUN_CHART_SERIES_PATH, RUN_PAGE_PATH, RUN_STEP_PAGE_PATH, Urls, absolute
from .errors import not_found
from .render import render, strip_json, wants_json

router = APIRouter(include_in_schema=False)

# A run without any stored step (it failed before its first pass) still gets a page.
EMPTY_STEP: dict[str, Any] = {
    "index": 0,
    "t_ms": 0.0,
    "end_ms": 0.0,
    "phase": None,
    "phase_title": "No step was recorded",
    "happened": [],
    "gates": [],
    "holding": "This run recorded no step.",
    "decision": {},
    "facts": [{"label": "time", "value": "no time recorded"}],
    "devices": [],
    "provenance": None,
}


def run_public(run: Run) -> dict[str, Any]:
    summary = dict(run.summary)
    return {
        "id": run.id,
        "title": run.title,
        "description": run.description,
        "source": run.source,
        "engine_version": run.engine_version,
        "qemu_profile": run.qemu_profile,
        "created_at": run.created_at.isoformat(timespec="seconds") if run.created_at else None,
        "status": run.status,
        "step_count": run.step_count,
        "event_count": run.event_count,
        "scenario": run.scenario,
        "summary": summary,
        "notes": list(run.notes or []),
        "import_info": run.import_info,
        "every_pass": run.every_pass,
        # Where the run was made (revision 0008_run_origin): an uploaded export.json keeps
        # the other server's source and engine_version; only these say it was uploaded.
        "origin": run.origin,
        "uploaded_file_name": run.uploaded_file_name,
        "origin_line": origin_line(run),
    }


def figures_for(
    session: Session,
    run: Run,
    events: list[Any],
    cursor_ms: float | None,
    x_range: list[float] | None = None,
    *,
    label: str = "this run",
) -> dict[str, Any]:
    summary = dict(run.summary)
    total = summary.get("total_time_ms")
    window = None if x_range else charts.story_window(events, total)
    x_range = x_range or window or _lane_range(summary)
    series = run_series(session, run.id, None, None, detail=window)
    figures = {
        "devices": charts.device_chart(series, events, cursor_ms=cursor_ms, x_range=x_range),
        "ram": charts.ram_chart(series, events, cursor_ms=cursor_ms, x_range=x_range),
        "lane": charts.lane_chart(events, cursor_ms=cursor_ms, x_range=x_range),
        "downtime": charts.downtime_chart([(label, summary)]),
    }
    if total:
        # The overview strip: the whole run in miniature under the RAM chart; drag or widen its
        # window to move every time chart.
        figures["ram"]["layout"]["xaxis"]["rangeslider"] = {
            "visible": True,
            "range": [0.0, total * 1.02 / 1000.0],
            "thickness": 0.14,
            "bgcolor": "#f1f5f9",
        }
        figures["ram"]["layout"]["height"] = 440
        figures["ram"]["layout"]["legend"]["y"] = -0.45
    for key in ("devices", "ram", "lane"):
        figures[key]["whole_range"] = [0.0, (total or 0.0) * 1.02 / 1000.0] if total else None
        figures[key]["story_range"] = [window[0] / 1000.0, window[1] / 1000.0] if window else None
    return figures


def _lane_range(summary: dict[str, Any]) -> list[float] | None:
    """Every time chart spans the migration, on one axis (imported logs may hold events from
    before `migrate`: they stay in the data, a zoom-out shows them)."""
    total = summary.get("total_time_ms")
    return [0.0, total * 1.02] if total else None


def clamp_step(step: int | None, count: int) -> int:
    if step is None or count <= 0:
        return 0
    return max(0, min(count - 1, step))


# The key events the timeline lists (each one a button that jumps to its step).
TIMELINE_KINDS = {
    "init_data_sent": "INIT_DATA_SENT",
    "init_data_loaded": "loaded",
    "ack_received": "ACK",
    "switchover_permitted": "switchover permitted",
    "vm_stop": "VM stop",
    "vm_start": "VM start",
    "reinit": "REINIT",
    "error": "failure",
}
TIMELINE_MAX = 60


def event_timeline(events: list[Any]) -> list[dict[str, Any]]:
    """Key events in time order: label, device, time and the step to jump to."""
    out = []
    for event in events:
        kind = event.kind
        if kind not in TIMELINE_KINDS:
            continue
        out.append(
            {
                "kind": kind,
                "label": TIMELINE_KINDS[kind],
                "device": event.device,
                "step": event.step,
                "t_ms": event.t_ms,
                "time": format_ms(event.t_ms),
                "detail": event.detail,
            }
        )
    if (
        len(out) > TIMELINE_MAX
    ):  # a run with many re-inits: keep the first and the decisive last ones
        out = out[: TIMELINE_MAX // 2] + out[-TIMELINE_MAX // 2 :]
    return out


def parse_step(raw: str | None) -> tuple[int | None, str | None]:
    """The `?step=` value, or None and a message saying what was wrong with it."""
    if raw is None or raw == "":
        return None, None
    try:
        return int(raw), None
    except ValueError:
        return None, f"“{raw[:40]}” is not a step number: showing the first step."


@router.get(RUN_PAGE_PATH)
def read_run_page(
    request: Request,
    session: SessionDep,
    urls: UrlsDep,
    run_id: str,
    step: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """A stored run: charts, step controls, explanation, summary (JSON twin with `.json`)."""
    run_id, suffix = strip_json(run_id)
    number, problem = parse_step(step)
    if problem is not None and (suffix or wants_json(request)):
        return JSONResponse(
            {
                "detail": [
                    {
                        "loc": ["query", "step"],
                        "msg": "step must be a whole number",
                        "type": "int_parsing",
                    }
                ],
                "message": f"step: {problem}",
            },
            status_code=422,
        )
    return run_page(request, session, urls, run_id, number, suffix=suffix, notice=problem)


def run_page(
    request: Request,
    session: Session,
    urls: Urls,
    run_id: str,
    step: int | None,
    *,
    suffix: bool = False,
    presentation: dict[str, Any] | None = None,
    notice: str | None = None,
) -> Response:
    """The run page at a step; `presentation` (a presenter session a class follows) turns the
    "Present to a class" button into the follow banner."""
    run = get_run(session, run_id)
    if run is None:
        return not_found(request, f"run {run_id}", suffix)
    index = clamp_step(step, run.step_count)
    fragment = request.headers.get("hx-target") == "step-panel" and not suffix
    if (
        step is not None
        and step != index
        and presentation is None
        and not fragment
        and not wants_json(request, suffix)
    ):
        # Out of range: open the nearest step, with the address bar saying which.
        return RedirectResponse(urls.run_at(run.id, step=index, json=suffix), status_code=302)
    current = load_step(session, run.id, index)
    following = load_step(session, run.id, index + 1) if index + 1 < run.step_count else None
    step_events = load_events(session, run.id, step_from=index, step_to=index + 1)
    explained = explain_step(current, step_events) if current is not None else dict(EMPTY_STEP)
    explained["next"] = next_prompt(current, following) if current is not None else None
    previous = load_step(session, run.id, index - 1) if index > 0 and current is not None else None
    asked = next_prompt(previous, current) if previous is not None else None
    # Teaching mode: the step that answers the previous step's "what happens next?".
    explained["answers"] = (
        {"code": asked["answer"], "text": NEXT_CHOICES[asked["answer"]]}
        if asked is not None
        else None
    )
    explained["branch_now"] = branch_now(run, current)
    if fragment:
        return render(
            request,
            "run.html",
            {"step": explained, "run": run_public(run)},
            twin=explained,
            fragments={"step-panel": "step_panel"},
        )
    events = chart_events(session, run.id)
    cursor = current.end_ms if current is not None else None
    figures = figures_for(session, run, events, cursor)
    public = run_public(run)
    public["passes_shown"] = run_passes_shown(session, run)
    summary = public["summary"]
    over = (summary.get("downtime_ms") or 0) > (summary.get("downtime_limit_ms") or float("inf"))
    exports = {
        "csv": urls.export_csv(run.id),
        "json": urls.export_json(run.id),
        "perfetto": urls.export_perfetto(run.id),
    }
    share = absolute(request, urls.run_at(run.id, step=index))
    twin = {
        "run": public,
        "step": explained,
        "timeline": event_timeline(events),
        "urls": {
            "page": share,
            "json": absolute(request, urls.run_at(run.id, step=index, json=True)),
            "exports": exports,
        },
    }
    context = {
        "nav": "runs",
        "run": public,
        "step": explained,
        "story": summary_story(summary, public["scenario"], public["source"]),
        "timeline": twin["timeline"],
        "figures": figures,
        "exports": exports,
        "share_url": share,
        "over_limit": over,
        "notice": notice,
        "json_url": urls.run_at(run.id, step=index, json=True),
        "series_url": urls.run_chart_series(run.id),
        "simulate_this_url": urls.api_simulate_this(run.id),
        "branch": branch_panel(run, current, urls),
        # Compare switchover-ack on/off and Simulate this run with this server's engine.
        "resimulation_note": resimulation_note(run),
        "presentation": presentation,
        "chart_notes": {
            "devices": "Solid: initial bytes left at the source (thinner for each further device). Dashed: initial "
            "bytes loaded at the destination. Dotted: dirty bytes. The grey band is the downtime (VM stop to VM "
            "start). Click a marker to go to its step.",
        },
    }
    return render(
        request,
        "run.html",
        context,
        twin=twin,
        json_suffix=suffix,
        fragments={"step-panel": "step_panel"},
    )


@router.get(RUN_CHART_SERIES_PATH)
def read_run_series(
    session: SessionDep, run_id: str, from_ms: float | None = None, to_ms: float | None = None
) -> Response:
    """Chart data for the visible time range (the charts re-ask on zoom); JSON only."""
    run = get_run(session, run_id)
    if run is None:
        return JSONResponse({"detail": {"message": f"run {run_id} was not found"}}, status_code=404)
    series = run_series(session, run.id, from_ms, to_ms)
    events = chart_events(session, run.id)
    return JSONResponse(
        {
            "devices": {"data": charts.device_chart(series, events)["data"]},
            "ram": {"data": charts.ram_chart(series, events)["data"]},
        }
    )


@router.get(RUN_STEP_PAGE_PATH)
def read_run_step_page(urls: UrlsDep, run_id: str, n: int) -> Response:
    """`/runs/{id}/steps/{n}` is the run page opened at step n."""
    return RedirectResponse(urls.run_at(run_id, step=n), status_code=307)


def branch_now(run: Run, step: Step | None) -> dict[str, Any] | None:
    """The parameters in force at this step, formatted (branch.js shows them as it follows the
    step; the rule is the server's `params_at`, never re-implemented in the browser)."""
    if run.source == "import":
        return None
    at_ms = step.end_ms if step is not None else 0.0
    state = params_at(run.scenario, at_ms, step.index if step is not None else None)
    params = state["params"]
    summary = run.summary or {}
    until = summary.get("switchover_started_at_ms") or summary.get("total_time_ms")
    return {
        "step": step.index if step is not None else 0,
        "at_ms": at_ms,
        "at": format_ms(at_ms),
        # A hint only: the API decides from the stored phases (and says so in a 422).
        "late": until is not None and at_ms >= until,
        "paused": state["paused"],
        "placeholders": {
            "downtime_limit_ms": f"{params['downtime_limit_ms']:g}",
            "max_bandwidth_bytes_per_s": format_bytes(params["max_bandwidth_bytes_per_s"]),
            "avail_switchover_bandwidth_bytes_per_s": format_bytes(
                params["avail_switchover_bandwidth_bytes_per_s"]
            ),
        },
        "now": {
            "downtime_limit_ms": format_ms(params["downtime_limit_ms"]),
            "max_bandwidth_bytes_per_s": "no limit"
            if not params["max_bandwidth_bytes_per_s"]
            else format_rate(params["max_bandwidth_bytes_per_s"]),
            "avail_switchover_bandwidth_bytes_per_s": "0 (the measured bandwidth is used)"
            if not params["avail_switchover_bandwidth_bytes_per_s"]
            else format_rate(params["avail_switchover_bandwidth_bytes_per_s"]),
        },
    }


def branch_panel(run: Run, step: Step | None, urls: Urls) -> dict[str, Any] | None:
    """What templates/_branch.html needs; None for imported runs (no scenario to branch)."""
    now = branch_now(run, step)
    if now is None:
        return None
    # The branch re-simulates with this server's engine: said before anyone branches (the
    # form goes straight to the comparison), as the API's `warning` says it after.
    return {"url": urls.api_run_branch(run.id), "warning": branch_warning(run), **now}
