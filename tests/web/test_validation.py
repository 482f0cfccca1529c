"""422 messages: a violated range is stated in the field's unit (MiB, ms, bytes/s), with the
exact number beside it, on the New-run form's stream and the API alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.engine.scenario import LIMITS
from app.web.urls import Urls
from app.web.validation import human_limit

URLS = Urls()
MiB = 1024**2
TiB = 1024**4


@pytest.mark.parametrize(
    ("field", "limit", "shown"),
    [
        ("ram_bytes", 64 * MiB, "64.0 MiB (67,108,864 bytes)"),
        ("ram_bytes", 16 * TiB, "16.0 TiB (17,592,186,044,416 bytes)"),
        ("initial_bytes", 0, "0 bytes"),
        ("max_bandwidth_bytes_per_s", 1 * TiB, "1.0 TiB/s (1,099,511,627,776 bytes/s)"),
        ("downtime_limit_ms", 1.0, "1 ms"),
        ("latency_ms", 0.5, "0.5 ms"),
        ("max_time_ms", 3_600_000.0, "3600 s (3,600,000 ms)"),
        ("zero_page_fraction", 0.99, None),
        ("multifd_channels", 16, None),
    ],
)
def test_a_bound_reads_in_its_unit_and_stays_exact(
    field: str, limit: float, shown: str | None
) -> None:
    assert human_limit(field, limit) == shown


def _messages(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {".".join(map(str, item["loc"][1:])): item["msg"] for item in response.json()["detail"]}


def test_range_errors_of_the_new_run_form_are_in_human_units(api_client: TestClient) -> None:
    low_ram, high_rate = LIMITS["ram_bytes"][0], LIMITS["rate_bytes_per_s"][1]
    body = {
        "guest": {"ram_bytes": low_ram - 1, "zero_page_fraction": 2},
        "params": {"downtime_limit_ms": 0, "max_bandwidth_bytes_per_s": high_rate + 1},
    }
    form = api_client.post(URLS.new_run_progress("run"), json=body)
    api = api_client.post(URLS.api_runs(), json=body)
    # The form shows what the API says: one rule for both.
    assert _messages(form) == _messages(api)
    messages = _messages(form)
    assert messages["guest.ram_bytes"] == (
        "Input should be greater than or equal to 64.0 MiB (67,108,864 bytes)"
    )
    assert messages["params.max_bandwidth_bytes_per_s"] == (
        "Input should be less than or equal to 1.0 TiB/s (1,099,511,627,776 bytes/s)"
    )
    assert messages["params.downtime_limit_ms"] == "Input should be greater than or equal to 1 ms"
    # A plain number has no unit to add: pydantic's own words.
    assert messages["guest.zero_page_fraction"].startswith("Input should be less than")
    assert "67108864" not in form.text
    # The whole-request message (the form's banner) says the same.
    assert "64.0 MiB" in form.json()["message"]


def test_the_servers_simulated_time_limit_reads_in_seconds(
    app_with: Callable[..., FastAPI],
) -> None:
    body = {"example": "mlx5-300mb-ack", "overrides": {"max_time_ms": 3_600_000}}
    with TestClient(app_with(max_sim_time_ms=600_000)) as client:
        messages = _messages(client.post(URLS.new_run_progress("run"), json=body))
    assert messages["max_time_ms"] == (
        "at most 600 s (600,000 ms) of simulated time per run on this server "
        "(MIGSCOPE_MAX_SIM_TIME_MS); asked for 3600 s (3,600,000 ms)"
    )
