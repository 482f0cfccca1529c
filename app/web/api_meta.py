"""/api/limits and /api/examples: what a client may send."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.engine.scenario import LIMITS

from . import urls as paths
from .api_models import ERROR_RESPONSES, LimitsOut
from .api_runner import example_names
from .deps import SettingsDep

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
            "page_size_default": settings.page_size_default,
            "page_size_max": settings.page_size_max,
            "steps_window_max": settings.steps_window_max,
            "max_points_default": settings.max_points_default,
            "max_points_max": settings.max_points_max,
        },
    )


@router.get(paths.API_EXAMPLES_PATH, response_model=list[str])
def read_examples() -> list[str]:
    """Names of the example scenarios that POST /api/runs accepts as {"example": name}."""
    return example_names()
