"""/api/limits and /api/examples: what a client may send."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.engine.scenario import LIMITS

from .. import urls as paths
from ..deps import SettingsDep
from ..run_requests import example_names
from .models import (
    ERROR_RESPONSES,
    MAX_POINTS_DEFAULT,
    MAX_POINTS_MAX,
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    STEPS_WINDOW_DEFAULT,
    STEPS_WINDOW_MAX,
    LimitsOut,
)

router = APIRouter(tags=["meta"], responses=ERROR_RESPONSES)


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@router.get(paths.API_LIMITS_PATH, response_model=LimitsOut)
def read_limits(settings: SettingsDep) -> LimitsOut:
    """The documented limits: scenario ranges, steps per run, request size, page and point caps."""
    return LimitsOut(
        scenario={key: _jsonable(value) for key, value in LIMITS.items()},
        store={
            "max_steps_per_run": settings.max_steps_per_run,
            "max_request_bytes": settings.max_request_bytes,
            "page_size_default": PAGE_SIZE_DEFAULT,
            "page_size_max": PAGE_SIZE_MAX,
            "steps_window_default": STEPS_WINDOW_DEFAULT,
            "steps_window_max": STEPS_WINDOW_MAX,
            "max_points_default": MAX_POINTS_DEFAULT,
            "max_points_max": MAX_POINTS_MAX,
        },
    )


@router.get(paths.API_EXAMPLES_PATH, response_model=list[str])
def read_examples() -> list[str]:
    """Names of the example scenarios that POST /api/runs accepts as {"example": name}."""
    return example_names()
