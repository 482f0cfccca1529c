"""The compare page: `/compare?a=&b=`, two runs on aligned time axes with their differences."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.engine.trace import Summary
from app.engine.units import format_ms
from app.store.runs import get_run, list_runs

from ..branching import branch_points, branch_sentence
from ..charts import figures as charts
from ..charts.components import component, ordered
from ..charts.run_series import chart_events, run_series
from ..comparison import ack_sentence, compare_summaries
from ..deps import SessionDep, UrlsDep
from ..explain import summary_story
from ..provenance import engine_note
from ..urls import COMPARE_PAGE_PATH, absolute
from .errors import not_found
from .render import render
from .run import run_public

router = APIRouter(include_in_schema=False)


def ack_on(run: dict[str, Any]) -> bool | None:
    """Whether switchover-ack was on at both ends (None when the run does not say)."""
    caps = (run.get("scenario") or {}).get("caps")
    if not isinstance(caps, dict):
        return None
    src, dst = caps.get("source"), caps.get("destination")
    if src is None and dst is None:
        return None
    return "switchover-ack" in (src or []) and "switchover-ack" in (dst or [])


def differences(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The compare API's differences (app.web.comparison.compare_summaries, A - B as the engine
    reads a pair) as the page's rows: per summary figure, per downtime component (labelled,
    in the charts' order) and per device."""
    diff = compare_summaries(
        Summary.model_validate(a["summary"]), Summary.model_validate(b["summary"])
    )
    components = diff.downtime_components_ms
    summary: list[dict[str, Any]] = [
        {"field": "status", "a": diff.status["a"], "b": diff.status["b"], "diff": None}
    ]
    summary += [
        {"field": key, "a": m.a, "b": m.b, "diff": m.delta} for key, m in diff.summary.items()
    ]
    return {
        "summary": summary,
        "components": [
            {
                "component": key,
                "label": component(key).label,
                "a": components[key].a,
                "b": components[key].b,
                "diff": components[key].delta,
            }
            for key in ordered(sorted(components))
        ],
        "devices": [
            {
                "name": device.name,
                "fields": [
                    {"field": key, "a": m.a, "b": m.b, "diff": m.delta}
                    for key, m in device.metrics.items()
                ],
            }
            for device in diff.devices
        ],
    }


def headline(a: dict[str, Any], b: dict[str, Any]) -> str:
    da, db = a["summary"].get("downtime_ms"), b["summary"].get("downtime_ms")
    if a["source"] == "import" and b["source"] != "import":
        return (
            f"The real migration's downtime was {format_ms(da)}; a simulation of the same settings gives "
            f"{format_ms(db)}."
        )
    on_a, on_b = ack_on(a), ack_on(b)
    if on_a is not None and on_b is not None and on_a != on_b:
        # The engine's own reading of an on/off pair, so the page and the CLI agree.
        with_ack, without = (a, b) if on_a else (b, a)
        return ack_sentence(
            Summary.model_validate(with_ack["summary"]), Summary.model_validate(without["summary"])
        )
    if da is None or db is None:
        return f"Run A downtime {format_ms(da)}, run B downtime {format_ms(db)}."
    return f"Run A downtime {format_ms(da)}, run B downtime {format_ms(db)}: B is {format_ms(db - da)} {'longer' if db >= da else 'shorter'}."


def default_pair(ids: list[str], a: str | None, b: str | None) -> tuple[str | None, str | None]:
    """Two different runs to preselect: the newest as B and the one before it as A, unless the
    reader named one of them already."""
    if not a:
        a = next((i for i in ids[1:] + ids[:1] if i != b), None)
    if not b:
        b = next((i for i in ids if i != a), None)
    return a, b


def _label(run: dict[str, Any], letter: str) -> str:
    on = ack_on(run)
    if run["source"] == "import":
        return f"{letter}: real (imported)"
    if on is None:
        return f"{letter}: simulated"
    return f"{letter}: ack {'on' if on else 'off'}"


@router.get(COMPARE_PAGE_PATH)
@router.get(COMPARE_PAGE_PATH + ".json")
def read_compare_page(
    request: Request, session: SessionDep, urls: UrlsDep, a: str | None = None, b: str | None = None
) -> Response:
    """Two runs side by side: headline, downtime bars, aligned charts, differences."""
    suffix = request.url.path.endswith(".json")
    if not a or not b:
        recent, _ = list_runs(session, offset=0, limit=50)
        choices = [{"id": r.id, "title": r.title, "status": r.status} for r in recent]
        a, b = default_pair([c["id"] for c in choices], a, b)
        return render(
            request,
            "compare_pick.html",
            {
                "nav": "runs",
                "choices": choices,
                "a": a,
                "b": b,
                "json_url": urls.compare_page(json=True),
            },
            twin={"detail": {"message": "give two run ids: /compare?a=ID&b=ID"}, "recent": choices},
            json_suffix=suffix,
            status_code=200,
        )
    found = [get_run(session, a), get_run(session, b)]
    runs = [run for run in found if run is not None]
    if len(runs) < 2:
        missing = a if found[0] is None else b
        return not_found(request, f"run {missing}", suffix)
    pub = [run_public(r) for r in runs]
    events = [chart_events(session, r.id) for r in runs]
    series = [run_series(session, r.id, None, None) for r in runs]
    end = max((p["summary"].get("total_time_ms") or 0.0) for p in pub) or 1.0
    x_range = [0.0, end * 1.02]
    labels = [_label(pub[0], "A"), _label(pub[1], "B")]
    figures = {
        "downtime": charts.downtime_chart(
            [(labels[0], pub[0]["summary"]), (labels[1], pub[1]["summary"])]
        ),
    }
    for i, key in enumerate(("a", "b")):
        figures[f"devices-{key}"] = charts.device_chart(
            series[i], events[i], x_range=x_range, title=f"{labels[i]}: initial bytes per device"
        )
        figures[f"ram-{key}"] = charts.ram_chart(series[i], events[i], x_range=x_range)
        figures[f"ram-{key}"]["layout"]["title"]["text"] = f"{labels[i]}: RAM pending vs threshold"
        figures[f"lane-{key}"] = charts.lane_chart(events[i], x_range=x_range)
        figures[f"lane-{key}"]["layout"]["title"]["text"] = f"{labels[i]}: message lane"
    # A what-if branch and its parent: mark where they part on every time chart.
    points = branch_points(pub[0], pub[1])
    for key, figure in figures.items():
        if key != "downtime":
            charts.add_branch_lines(figure, points)
    diffs = differences(pub[0], pub[1])
    sentence = headline(pub[0], pub[1])
    sentence = " ".join(part for part in (branch_sentence(points), sentence) if part)
    note = engine_note(pub[0].get("engine_version"), pub[1].get("engine_version"))
    twin = {
        "headline": sentence,
        "a": {
            "id": pub[0]["id"],
            "title": pub[0]["title"],
            "label": labels[0],
            "summary": pub[0]["summary"],
            "switchover_ack": ack_on(pub[0]),
            "url": absolute(request, urls.run(pub[0]["id"])),
        },
        "b": {
            "id": pub[1]["id"],
            "title": pub[1]["title"],
            "label": labels[1],
            "summary": pub[1]["summary"],
            "switchover_ack": ack_on(pub[1]),
            "url": absolute(request, urls.run(pub[1]["id"])),
        },
        "differences": diffs,
        "time_axis_ms": x_range,
        "branch_points": points,
        "engine_note": note,
    }
    context = {
        "nav": "runs",
        "a": pub[0],
        "b": pub[1],
        "labels": labels,
        "stories": [summary_story(p["summary"], p["scenario"], p["source"]) for p in pub],
        "headline": sentence,
        "engine_note": note,
        "diffs": diffs,
        "figures": figures,
        "json_url": urls.compare_page(a, b, json=True),
        "share_url": absolute(request, urls.compare_page(a, b)),
    }
    return render(request, "compare.html", context, twin=twin, json_suffix=suffix)
