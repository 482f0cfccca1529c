"""The New run page: the scenario form (presets, devices added and removed in place) and the
upload form for real QEMU logs. Submitting goes to the JSON API; its 422s are shown inline."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response, StreamingResponse

from app.engine.presets import PRESETS
from app.engine.scenario import Scenario
from app.engine.units import format_bytes

from ..comparison import ack_pair
from ..deps import SettingsDep, UrlsDep
from ..run_requests import RunRequest, scenario_to_run, wants_every_pass
from ..runner import run_with_progress
from ..urls import INDEX_PATH, NEW_DEVICE_ROW_PATH, NEW_PAGE_PATH, NEW_PROGRESS_PATH
from . import form
from .render import render

router = APIRouter(include_in_schema=False)
DEFAULT_EXAMPLE = "mlx5-300mb-ack"


def import_limits(max_run_stored_bytes: int) -> dict[str, Any]:
    try:
        from app.importers import limits
    except ImportError:  # pragma: no cover - the importer ships with the app
        return {
            "max_file_bytes": 0,
            "max_file_human": "unknown",
            "max_total_human": "unknown",
            "max_trace_bytes": 0,
            "max_trace_human": "unknown",
            "max_steps": "?",
        }
    trace_bytes = limits.trace_file_limit_bytes(max_run_stored_bytes)
    return {
        "max_file_bytes": limits.MAX_FILE_BYTES,
        "max_file_human": format_bytes(limits.MAX_FILE_BYTES),
        "max_total_bytes": limits.MAX_TOTAL_BYTES,
        "max_total_human": format_bytes(limits.MAX_TOTAL_BYTES),
        # What this server takes of a migscope trace (the stored-bytes budget bounds it too).
        "max_trace_bytes": trace_bytes,
        "max_trace_human": format_bytes(trace_bytes),
        "max_steps": limits.MAX_STEPS,
    }


def form_context(scenario: dict[str, Any]) -> dict[str, Any]:
    values, defaults = {}, {}
    model_defaults = Scenario().model_dump(mode="json")
    for _, fields in form.SCENARIO_SECTIONS:
        for f in fields:
            values[f.path] = form.display_value(f, form.value_at(scenario, f.path))
            defaults[f.path] = form.display_value(f, form.value_at(model_defaults, f.path))
    scenario.setdefault("caps", {"source": [], "destination": []})
    return {
        "sections": form.SCENARIO_SECTIONS,
        "values": values,
        "defaults": defaults,
        "scenario": scenario,
        "capabilities": form.CAPABILITIES,
        "devices": [form.device_row(i, d) for i, d in enumerate(scenario.get("devices") or [])],
        "presets": form.presets_for_form(),
    }


@router.get(INDEX_PATH)
@router.get(NEW_PAGE_PATH)
@router.get(NEW_PAGE_PATH + ".json")
def read_new_page(
    request: Request, urls: UrlsDep, settings: SettingsDep, example: str | None = None
) -> Response:
    """The scenario form; `?example=NAME` fills it from an example scenario."""
    examples = form.examples()
    if example is None and DEFAULT_EXAMPLE in examples:
        example = (
            DEFAULT_EXAMPLE  # the headline case; `?example=` (empty) gives migscope's defaults
        )
    scenario = dict(examples[example]) if example in examples else {}
    scenario = {**form.default_scenario(), **scenario}
    context = {
        "nav": "new",
        "examples": list(examples),
        "example": example,
        "import_limits": import_limits(settings.max_run_stored_bytes),
        "json_url": urls.new_run(json=True),
        # The "Show every pass" checkbox says where a never-converging run then ends.
        "max_steps_per_run": f"{settings.max_steps_per_run:,}",
        **form_context(scenario),
    }
    twin = {
        "scenario": scenario,
        "examples": list(examples),
        "presets": {name: p.as_dict() for name, p in PRESETS.items()},
        "import_limits": import_limits(settings.max_run_stored_bytes),
        "submit": {
            "run": urls.api_runs(),
            "compare": urls.api_compare(),
            "with_progress": urls.new_run_progress(),
            "import": urls.api_imports(),
        },
    }
    return render(
        request, "new.html", context, twin=twin, fragments={"scenario-form": "scenario_form"}
    )


@router.get(NEW_DEVICE_ROW_PATH)
def read_device_row(request: Request, index: int = 0, preset: str | None = None) -> Response:
    """One device row of the form (HTMX: added in place, or re-rendered when its preset changes)."""
    params = request.query_params
    name = params.get(f"devices.{index}.name", params.get("name", ""))
    chosen = params.get(f"devices.{index}.preset", preset or "")
    if chosen not in PRESETS:
        chosen = ""
    if not name and f"devices.{index}.name" not in params:
        name = f"0000:3b:00.{index + 1}"
    row = form.device_row(index, {"name": name, "preset": chosen or None})
    context = {"row": row, "presets": form.presets_for_form()}
    return render(
        request,
        "_device.html",
        context,
        twin={"index": index, "name": name, "preset": chosen or None},
    )


@router.post(NEW_PROGRESS_PATH)
async def create_run_with_progress(
    settings: SettingsDep,
    urls: UrlsDep,
    body: Annotated[
        RunRequest, Body(description="a scenario, or {example, overrides}: as POST /api/runs")
    ],
    action: Literal["run", "compare"] = "run",
) -> StreamingResponse:
    """What the form's Run and Compare buttons call: the same request and 422s as POST /api/runs
    (or /api/compare), but the answer streams progress lines (NDJSON) while the engine runs, then
    one line with the new run's page. The engine runs in a worker process, off the event loop."""
    scenario = scenario_to_run(body, settings)
    scenarios = ack_pair(scenario) if action == "compare" else [scenario]
    # The engine runs in a worker process of the shared pool (app.web.runner): a full pool is
    # a 503 with Retry-After here, before the stream starts.
    updates = run_with_progress(settings, scenarios, every_pass=wants_every_pass(body))

    async def lines() -> AsyncIterator[bytes]:
        async for update in updates:
            if "progress" in update:
                yield _line({"progress": update["progress"]})
                continue
            ids = [stored.id for stored in update["done"]]
            page = urls.compare(ids[0], ids[1]) if len(ids) == 2 else urls.run(ids[0])
            yield _line({"done": {"ids": ids, "page": page}})

    return StreamingResponse(
        lines(), media_type="application/x-ndjson", headers={"Cache-Control": "no-store"}
    )


def _line(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj) + "\n").encode()
