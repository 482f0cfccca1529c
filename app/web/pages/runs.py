"""The Runs page: stored runs, newest first, with their highlights (JSON twin with `.json`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.engine.units import format_bytes
from app.store.models import Run
from app.store.runs import list_runs

from ..deps import SessionDep, UrlsDep
from ..urls import RUNS_PAGE_PATH
from .render import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25


def highlights(run: Run) -> str:
    """One line of what the scenario is about: devices, RAM, caps."""
    scenario = run.scenario or {}
    devices = scenario.get("devices") or []
    names = [d.get("preset") or d.get("name") for d in devices if isinstance(d, dict)]
    parts = []
    if devices:
        parts.append(
            f"{len(devices)} device{'s' if len(devices) != 1 else ''} ({', '.join(str(n) for n in names[:3])}{'…' if len(names) > 3 else ''})"
        )
    else:
        parts.append("no VFIO device")
    ram = (scenario.get("guest") or {}).get("ram_bytes")
    if ram is not None:
        parts.append(f"RAM {format_bytes(ram) if isinstance(ram, int) else ram}")
    caps = scenario.get("caps")
    if isinstance(caps, dict):
        on = "switchover-ack" in (caps.get("source") or []) and "switchover-ack" in (
            caps.get("destination") or []
        )
        parts.append("ack on" if on else "ack off")
    parts.append(f"QEMU {run.qemu_profile}")
    return " · ".join(parts)


@router.get(RUNS_PAGE_PATH)
@router.get(RUNS_PAGE_PATH + ".json")
def read_runs_page(request: Request, session: SessionDep, urls: UrlsDep, page: int = 1) -> Response:
    """Stored runs, newest first, with titles, scenario highlights and status."""
    page = max(1, page)
    rows, total = list_runs(session, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    runs = [
        {
            "id": r.id,
            "title": r.title,
            "source": r.source,
            "status": r.status,
            "qemu_profile": r.qemu_profile,
            "highlights": highlights(r),
            "downtime_ms": (r.summary or {}).get("downtime_ms"),
            "every_pass": r.every_pass,
            "origin": r.origin,
            "engine_version": r.engine_version,
            "created_at": r.created_at.strftime("%Y-%m-%d %H:%M UTC") if r.created_at else None,
            "url": urls.run(r.id),
        }
        for r in rows
    ]
    prev_url = urls.runs(page=page - 1) if page > 1 else None
    next_url = urls.runs(page=page + 1) if page * PAGE_SIZE < total else None
    twin = {"runs": runs, "total": total, "page": page, "next": next_url, "prev": prev_url}
    context = {
        "nav": "runs",
        "runs": runs,
        "total": total,
        "prev_url": prev_url,
        "next_url": next_url,
        "json_url": urls.runs(page=page if page > 1 else None, json=True),
    }
    return render(request, "runs.html", context, twin=twin, fragments={"runs-table": "runs_table"})
