"""The browser dashboard: every HTML page, each with a JSON twin (static files: app.py mounts them).

`create_app` includes `router`; the pages themselves live in pages_new, pages_run, pages_compare.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.engine.units import format_bytes
from app.store.runs import list_runs
from app.web import pages_compare, pages_new, pages_run
from app.web.pages_common import db_session, render, urls_for
from app.web.urls import ABOUT_PAGE_PATH, RUNS_PAGE_PATH

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25


def highlights(run: Any) -> str:
    """One line of what the scenario is about: devices, RAM, caps."""
    scenario = run.scenario or {}
    devices = scenario.get("devices") or []
    names = [d.get("preset") or d.get("name") for d in devices if isinstance(d, dict)]
    parts = []
    if devices:
        parts.append(f"{len(devices)} device{'s' if len(devices) != 1 else ''} ({', '.join(str(n) for n in names[:3])}{'…' if len(names) > 3 else ''})")
    else:
        parts.append("no VFIO device")
    ram = (scenario.get("guest") or {}).get("ram_bytes")
    if ram is not None:
        parts.append(f"RAM {format_bytes(ram) if isinstance(ram, int) else ram}")
    caps = scenario.get("caps")
    if isinstance(caps, dict):
        on = "switchover-ack" in (caps.get("source") or []) and "switchover-ack" in (caps.get("destination") or [])
        parts.append("ack on" if on else "ack off")
    parts.append(f"QEMU {run.qemu_profile}")
    return " · ".join(parts)


@router.get(RUNS_PAGE_PATH)
@router.get(RUNS_PAGE_PATH + ".json")
def read_runs_page(request: Request, page: int = 1) -> Response:
    """Stored runs, newest first, with titles, scenario highlights and status."""
    page = max(1, page)
    urls = urls_for(request)
    with db_session(request) as session:
        rows, total = list_runs(session, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        runs = [
            {
                "id": r.id, "title": r.title, "source": r.source, "status": r.status,
                "qemu_profile": r.qemu_profile, "highlights": highlights(r),
                "downtime_ms": (r.summary or {}).get("downtime_ms"),
                "created_at": r.created_at.strftime("%Y-%m-%d %H:%M UTC") if r.created_at else None,
                "url": urls.run(r.id),
            }
            for r in rows
        ]
    prev_url = urls.runs(page=page - 1) if page > 1 else None
    next_url = urls.runs(page=page + 1) if page * PAGE_SIZE < total else None
    twin = {"runs": runs, "total": total, "page": page, "next": next_url, "prev": prev_url}
    context = {"nav": "runs", "runs": runs, "total": total, "prev_url": prev_url, "next_url": next_url,
               "json_url": urls.runs(page=page if page > 1 else None, json=True)}
    return render(request, "runs.html", context, twin=twin, fragments={"runs-table": "runs_table"})


@router.get(ABOUT_PAGE_PATH)
@router.get(ABOUT_PAGE_PATH + ".json")
def read_about_page(request: Request) -> Response:
    """How the engine works and what it simplifies."""
    from app.engine.profiles import PROFILES

    profiles = [{"name": p.name, "description": p.description, "proposed": p.proposed} for p in PROFILES.values()]
    twin = {
        "title": "About the model",
        "sections": ["the loop", "switchover-ack", "VFIO devices", "downtime", "what it simplifies", "QEMU versions"],
        "profiles": profiles,
    }
    return render(request, "about.html", {"nav": "about", "profiles": profiles,
                                          "json_url": urls_for(request).about(json=True)}, twin=twin)


router.include_router(pages_new.router)
router.include_router(pages_compare.router)
router.include_router(pages_run.router)
