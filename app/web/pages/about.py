"""About the model: how the engine works, what it simplifies, the QEMU profiles."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.engine.profiles import PROFILES

from ..deps import UrlsDep
from ..urls import ABOUT_PAGE_PATH
from .render import render

router = APIRouter(include_in_schema=False)


@router.get(ABOUT_PAGE_PATH)
@router.get(ABOUT_PAGE_PATH + ".json")
def read_about_page(request: Request, urls: UrlsDep) -> Response:
    """How the engine works and what it simplifies."""
    profiles = [
        {"name": p.name, "description": p.description, "proposed": p.proposed}
        for p in PROFILES.values()
    ]
    twin = {
        "title": "About the model",
        "sections": [
            "the loop",
            "switchover-ack",
            "VFIO devices",
            "downtime",
            "what it simplifies",
            "QEMU versions",
        ],
        "profiles": profiles,
    }
    return render(
        request,
        "about.html",
        {"nav": "about", "profiles": profiles, "json_url": urls.about(json=True)},
        twin=twin,
    )
