"""The one place that knows route paths (as datasette's url_builder does).

Routers register the `*_PATH` templates below; everything that links somewhere (API answers,
pages, templates) calls a `Urls` method. No route path is typed twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

# API paths (registered by app/web/api/*.py).
API_RUNS_PATH = "/api/runs"
API_RUN_PATH = "/api/runs/{run_id}"
API_RUN_STEPS_PATH = "/api/runs/{run_id}/steps"
API_RUN_STEP_PATH = "/api/runs/{run_id}/steps/{n}"
API_RUN_SERIES_PATH = "/api/runs/{run_id}/series"
API_COMPARE_PATH = "/api/compare"
API_LIMITS_PATH = "/api/limits"
API_EXAMPLES_PATH = "/api/examples"
EXPORT_CSV_PATH = "/api/runs/{run_id}/export.csv"
EXPORT_JSON_PATH = "/api/runs/{run_id}/export.json"
EXPORT_PERFETTO_PATH = "/api/runs/{run_id}/export.perfetto.json"

# Page paths (registered by app/web/pages/*.py).
INDEX_PATH = "/"
RUN_PAGE_PATH = "/runs/{run_id}"
RUN_JSON_PATH = "/runs/{run_id}.json"
RUN_STEP_PAGE_PATH = "/runs/{run_id}/steps/{n}"
COMPARE_PAGE_PATH = "/compare"
STATIC_PATH = "/static"
# Dashboard pages; each has a JSON twin with the `.json` suffix.
NEW_PAGE_PATH = "/new"
NEW_DEVICE_ROW_PATH = "/new/device"
NEW_PROGRESS_PATH = "/new/progress"
RUNS_PAGE_PATH = "/runs"
ABOUT_PAGE_PATH = "/about"
EVIDENCE_PAGE_PATH = "/evidence"
EVIDENCE_RUN_PATH = "/evidence/{n}/run"
RUN_CHART_SERIES_PATH = "/runs/{run_id}/series"
# Importer endpoints (app/web/api/imports.py).
API_IMPORTS_PATH = "/api/imports"
API_SIMULATE_THIS_PATH = "/api/runs/{run_id}/simulate-this"
# "What if?" branches (app/web/api/branch.py).
API_RUN_BRANCH_PATH = "/api/runs/{run_id}/branch"
DOCS_PATH = "/docs"
OPENAPI_PATH = "/openapi.json"
# Presenter sessions (app/web/api/presentations.py, app/web/pages/present.py).
API_RUN_PRESENTATIONS_PATH = "/api/runs/{run_id}/presentations"
API_PRESENTATION_PATH = "/api/presentations/{session_id}"
API_PRESENTATION_STEP_PATH = "/api/presentations/{session_id}/step"
API_PRESENTATION_EVENTS_PATH = "/api/presentations/{session_id}/events"
PRESENT_PAGE_PATH = "/present/{session_id}"
# Parameter sweeps (app/web/api/sweeps.py, app/web/pages/sweep.py).
API_SWEEPS_PATH = "/api/sweeps"
API_SWEEP_PATH = "/api/sweeps/{sweep_id}"
API_SWEEP_POINTS_PATH = "/api/sweeps/{sweep_id}/points"
API_SWEEP_POINT_RUN_PATH = "/api/sweeps/{sweep_id}/points/{index}/run"
API_SWEEP_EXPORT_CSV_PATH = "/api/sweeps/{sweep_id}/export.csv"
API_SWEEP_EVENTS_PATH = "/api/sweeps/{sweep_id}/events"
API_SWEEP_CANCEL_PATH = "/api/sweeps/{sweep_id}/cancel"
SWEEP_PAGE_PATH = "/sweeps/{sweep_id}"
SWEEP_JSON_PATH = "/sweeps/{sweep_id}.json"
SWEEP_POINT_PAGE_PATH = "/sweeps/{sweep_id}/points/{index}"


def absolute(request: HTTPConnection, path: str) -> str:
    """A full URL for sharing: the configured public base URL (settings.public_base_url), else
    the address this server listens on. Never the request's Host header, which a client
    chooses (a forged one would put an attacker's host into share and follow links)."""
    settings = getattr(request.app.state, "settings", None)
    base = getattr(settings, "public_base_url", "") or ""
    if not base:
        host, port = request.scope.get("server") or ("127.0.0.1", 8000)
        scheme = request.scope.get("scheme", "http")
        host = f"[{host}]" if ":" in str(host) else host
        default_port = (scheme == "http" and port == 80) or (scheme == "https" and port == 443)
        base = f"{scheme}://{host}" + ("" if default_port or port is None else f":{port}")
    return f"{base.rstrip('/')}{path}"


def _seg(value: str) -> str:
    return quote(value, safe="")


def _with_query(path: str, params: Mapping[str, object | None]) -> str:
    kept = {key: value for key, value in params.items() if value is not None}
    return f"{path}?{urlencode(kept, doseq=True)}" if kept else path


class Urls:
    """Root-relative URLs; `prefix` is the app's mount point (request.scope["root_path"])."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix.rstrip("/")

    def _p(self, path: str) -> str:
        return f"{self.prefix}{path}"

    # Pages.
    def index(self) -> str:
        return self._p(INDEX_PATH)

    def run(self, run_id: str) -> str:
        return self._p(RUN_PAGE_PATH.format(run_id=_seg(run_id)))

    def run_json(self, run_id: str) -> str:
        return self._p(RUN_JSON_PATH.format(run_id=_seg(run_id)))

    def run_step(self, run_id: str, n: int) -> str:
        return self._p(RUN_STEP_PAGE_PATH.format(run_id=_seg(run_id), n=int(n)))

    def compare(self, a: str, b: str) -> str:
        return self._p(_with_query(COMPARE_PAGE_PATH, {"a": a, "b": b}))

    def static(self, path: str) -> str:
        return self._p(f"{STATIC_PATH}/{path.lstrip('/')}")

    def docs(self) -> str:
        return self._p(DOCS_PATH)

    def openapi(self) -> str:
        return self._p(OPENAPI_PATH)

    # API.
    def api_runs(
        self,
        page: int | None = None,
        per_page: int | None = None,
        status: str | None = None,
        source: str | None = None,
    ) -> str:
        query = {"page": page, "per_page": per_page, "status": status, "source": source}
        return self._p(_with_query(API_RUNS_PATH, query))

    def api_run(self, run_id: str) -> str:
        return self._p(API_RUN_PATH.format(run_id=_seg(run_id)))

    def api_run_steps(self, run_id: str, start: int | None = None, stop: int | None = None) -> str:
        path = API_RUN_STEPS_PATH.format(run_id=_seg(run_id))
        return self._p(_with_query(path, {"from": start, "to": stop}))

    def api_run_step(self, run_id: str, n: int) -> str:
        return self._p(API_RUN_STEP_PATH.format(run_id=_seg(run_id), n=int(n)))

    def api_run_series(
        self,
        run_id: str,
        fields: list[str] | None = None,
        max_points: int | None = None,
        from_ms: float | None = None,
        to_ms: float | None = None,
    ) -> str:
        path = API_RUN_SERIES_PATH.format(run_id=_seg(run_id))
        query = {
            "fields": ",".join(fields) if fields else None,
            "max_points": max_points,
            "from_ms": from_ms,
            "to_ms": to_ms,
        }
        return self._p(_with_query(path, query))

    def api_compare(self, a: str | None = None, b: str | None = None) -> str:
        return self._p(_with_query(API_COMPARE_PATH, {"a": a, "b": b}))

    def api_limits(self) -> str:
        return self._p(API_LIMITS_PATH)

    def api_examples(self) -> str:
        return self._p(API_EXAMPLES_PATH)

    def export_csv(self, run_id: str) -> str:
        return self._p(EXPORT_CSV_PATH.format(run_id=_seg(run_id)))

    def export_json(self, run_id: str) -> str:
        return self._p(EXPORT_JSON_PATH.format(run_id=_seg(run_id)))

    def export_perfetto(self, run_id: str) -> str:
        return self._p(EXPORT_PERFETTO_PATH.format(run_id=_seg(run_id)))

    # Dashboard pages.
    def new_run(self, json: bool = False) -> str:
        return self._p(NEW_PAGE_PATH + (".json" if json else ""))

    def new_device_row(self) -> str:
        return self._p(NEW_DEVICE_ROW_PATH)

    def new_run_progress(self, action: str | None = None) -> str:
        return self._p(_with_query(NEW_PROGRESS_PATH, {"action": action}))

    def runs(self, page: int | None = None, json: bool = False) -> str:
        return self._p(_with_query(RUNS_PAGE_PATH + (".json" if json else ""), {"page": page}))

    def about(self, json: bool = False) -> str:
        return self._p(ABOUT_PAGE_PATH + (".json" if json else ""))

    def evidence(self, json: bool = False) -> str:
        return self._p(EVIDENCE_PAGE_PATH + (".json" if json else ""))

    def evidence_run(self, n: int) -> str:
        return self._p(EVIDENCE_RUN_PATH.format(n=int(n)))

    def run_at(self, run_id: str, step: int | None = None, json: bool = False) -> str:
        path = (RUN_JSON_PATH if json else RUN_PAGE_PATH).format(run_id=_seg(run_id))
        return self._p(_with_query(path, {"step": None if step is None else int(step)}))

    def run_chart_series(self, run_id: str) -> str:
        return self._p(RUN_CHART_SERIES_PATH.format(run_id=_seg(run_id)))

    def compare_page(self, a: str | None = None, b: str | None = None, json: bool = False) -> str:
        return self._p(_with_query(COMPARE_PAGE_PATH + (".json" if json else ""), {"a": a, "b": b}))

    # Importer.
    def api_imports(self) -> str:
        return self._p(API_IMPORTS_PATH)

    def api_simulate_this(self, run_id: str) -> str:
        return self._p(API_SIMULATE_THIS_PATH.format(run_id=_seg(run_id)))

    # "What if?" branches.
    def api_run_branch(self, run_id: str) -> str:
        return self._p(API_RUN_BRANCH_PATH.format(run_id=_seg(run_id)))

    # Presenter sessions.
    def api_run_presentations(self, run_id: str) -> str:
        return self._p(API_RUN_PRESENTATIONS_PATH.format(run_id=_seg(run_id)))

    def api_presentation(self, session_id: str) -> str:
        return self._p(API_PRESENTATION_PATH.format(session_id=_seg(session_id)))

    def api_presentation_step(self, session_id: str) -> str:
        return self._p(API_PRESENTATION_STEP_PATH.format(session_id=_seg(session_id)))

    def api_presentation_events(self, session_id: str) -> str:
        return self._p(API_PRESENTATION_EVENTS_PATH.format(session_id=_seg(session_id)))

    def present(self, session_id: str) -> str:
        return self._p(PRESENT_PAGE_PATH.format(session_id=_seg(session_id)))

    def presenter(self, run_id: str, session_id: str, step: int) -> str:
        """The run page in presenter mode (the key stays in the teacher's sessionStorage)."""
        path = RUN_PAGE_PATH.format(run_id=_seg(run_id))
        return self._p(_with_query(path, {"step": int(step), "present": session_id}))

    # Parameter sweeps.
    def api_sweeps(self) -> str:
        return self._p(API_SWEEPS_PATH)

    def api_sweep(self, sweep_id: str) -> str:
        return self._p(API_SWEEP_PATH.format(sweep_id=_seg(sweep_id)))

    def api_sweep_points(
        self, sweep_id: str, offset: int | None = None, limit: int | None = None
    ) -> str:
        path = API_SWEEP_POINTS_PATH.format(sweep_id=_seg(sweep_id))
        return self._p(_with_query(path, {"offset": offset, "limit": limit}))

    def api_sweep_point_run(self, sweep_id: str, index: int) -> str:
        return self._p(API_SWEEP_POINT_RUN_PATH.format(sweep_id=_seg(sweep_id), index=int(index)))

    def api_sweep_export_csv(self, sweep_id: str) -> str:
        return self._p(API_SWEEP_EXPORT_CSV_PATH.format(sweep_id=_seg(sweep_id)))

    def api_sweep_events(self, sweep_id: str) -> str:
        return self._p(API_SWEEP_EVENTS_PATH.format(sweep_id=_seg(sweep_id)))

    def api_sweep_cancel(self, sweep_id: str) -> str:
        return self._p(API_SWEEP_CANCEL_PATH.format(sweep_id=_seg(sweep_id)))

    def sweep(self, sweep_id: str, json: bool = False) -> str:
        return self._p(
            (SWEEP_JSON_PATH if json else SWEEP_PAGE_PATH).format(sweep_id=_seg(sweep_id))
        )

    def sweep_point(self, sweep_id: str, index: int) -> str:
        return self._p(SWEEP_POINT_PAGE_PATH.format(sweep_id=_seg(sweep_id), index=int(index)))
