"""The Evidence page: every check of the engine against something outside it (app.fidelity):
the reference value and its source, the engine's value, pass or fail; each row opens the run
behind it, simulated and stored on first view, the same stored run (a permalink) after."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app import __version__ as ENGINE_VERSION
from app import fidelity
from app.engine.scenario import LIMITS, Scenario
from app.store.runs import first_complete_run_with_description

from ..deps import SessionDep, SettingsDep, UrlsDep
from ..runner import run_and_store
from ..urls import EVIDENCE_PAGE_PATH, EVIDENCE_RUN_PATH
from .errors import not_found
from .render import render

router = APIRouter(include_in_schema=False)


@cache
def rows() -> tuple[fidelity.FidelityRow, ...]:
    """The checks run once per process: they are pure and deterministic (a few seconds)."""
    return tuple(fidelity.fidelity_rows())


def row_key(row: fidelity.FidelityRow) -> str:
    """Names the runs stored for a row: same scenarios and engine, same runs."""
    text = json.dumps([row.scenario, row.compare_scenario, ENGINE_VERSION], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _description(row: fidelity.FidelityRow, which: str) -> str:
    return f"evidence {row_key(row)} {which}: {row.check}"[: LIMITS["description_chars"]]


def public_row(n: int, row: fidelity.FidelityRow, urls: Any) -> dict[str, Any]:
    return {
        "n": n,
        "check": row.check,
        "source_kind": row.source_kind,
        "source": row.source,
        "reference": row.reference,
        "engine": row.engine,
        "tolerance": row.tolerance,
        "passed": row.passed,
        "reference_value": row.reference_value,
        "engine_value": row.engine_value,
        "compares": row.compare_scenario is not None,
        "run_url": urls.evidence_run(n),
    }


@router.get(EVIDENCE_PAGE_PATH)
@router.get(EVIDENCE_PAGE_PATH + ".json")
def read_evidence_page(request: Request, urls: UrlsDep) -> Response:
    """Every fidelity check with its reference, source, engine value and verdict (JSON twin)."""
    listed = [public_row(n, row, urls) for n, row in enumerate(rows())]
    passed = sum(1 for row in listed if row["passed"])
    twin = {
        "checks": listed,
        "passed": passed,
        "failed": len(listed) - passed,
        "engine_version": ENGINE_VERSION,
    }
    context = {
        "nav": "evidence",
        "checks": listed,
        "passed": passed,
        "json_url": urls.evidence(json=True),
    }
    return render(
        request, "evidence.html", context, twin=twin, json_suffix=request.url.path.endswith(".json")
    )


def _scenario(doc: dict[str, Any], row: fidelity.FidelityRow, which: str) -> Scenario:
    titled = {
        **doc,
        "title": f"Evidence: {row.check}"[: LIMITS["title_chars"]],
        "description": _description(row, which),
    }
    return Scenario.model_validate(titled)


@router.get(EVIDENCE_RUN_PATH)
async def open_evidence_run(
    request: Request, session: SessionDep, settings: SettingsDep, urls: UrlsDep, n: int
) -> Response:
    """The stored run (or comparison) behind check n: simulated and stored on first view."""
    checks = rows()
    if not 0 <= n < len(checks):
        return not_found(request, f"evidence check {n}")
    row = checks[n]
    docs = [("a", row.scenario)] + (
        [("b", row.compare_scenario)] if row.compare_scenario is not None else []
    )
    ids = [
        first_complete_run_with_description(session, _description(row, which)) for which, _ in docs
    ]
    if any(i is None for i in ids):
        stored = await run_and_store(
            settings, [_scenario(doc, row, which) for which, doc in docs], visibility="unlisted"
        )
        ids = [s.id for s in stored]
    target = urls.compare(ids[0], ids[1]) if len(ids) == 2 else urls.run(ids[0])  # type: ignore[arg-type]
    return RedirectResponse(target, status_code=303)
