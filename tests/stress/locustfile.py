"""Load for `make stress` (tests/stress/run_stress.py starts the server and reads the results).

Creators make mixed runs and comparisons; readers read pages and the API; followers follow a
presenter session's event stream while a presenter moves its step. Every 201 is written to
MIGSCOPE_STRESS_CREATED (one id per line) so the runner can check nothing was lost.
"""

from __future__ import annotations

import os
import random
import time

from locust import HttpUser, between, events, task

EXAMPLES = [
    "zero-devices",
    "mlx5-300mb-ack",
    "two-mlx5-vfs",
    "pensando-no-precopy",
    "busy-guest-8.1",
    "mlx5-300mb-default-params",
]
CREATED_PATH = os.environ.get("MIGSCOPE_STRESS_CREATED", "/tmp/migscope-stress-created.txt")
SEED_RUN = os.environ.get("MIGSCOPE_STRESS_RUN", "")
SESSION = os.environ.get("MIGSCOPE_STRESS_SESSION", "")
PRESENTER_KEY = os.environ.get("MIGSCOPE_STRESS_KEY", "")
STEPS = int(os.environ.get("MIGSCOPE_STRESS_STEPS", "50"))
FOLLOW_S = 15.0
_created = open(CREATED_PATH, "a", buffering=1)  # noqa: SIM115  one file for the whole run


def _record(response: object) -> None:
    if getattr(response, "status_code", 0) == 201:
        body = response.json()  # type: ignore[attr-defined]
        ids = [body["id"]] if "id" in body else [body["a"]["id"], body["b"]["id"]]
        for run_id in ids:
            _created.write(run_id + "\n")


class Creator(HttpUser):
    fixed_count = int(os.environ.get("MIGSCOPE_STRESS_CREATORS", "50"))
    abstract = fixed_count == 0  # left out of this run
    wait_time = between(0.5, 2.0)

    @task(4)
    def create_run(self) -> None:
        body = {"example": random.choice(EXAMPLES)}
        _record(self.client.post("/api/runs", json=body, name="POST /api/runs", timeout=600))

    @task(1)
    def compare(self) -> None:
        body = {"example": random.choice(EXAMPLES[:3])}
        _record(self.client.post("/api/compare", json=body, name="POST /api/compare", timeout=600))


class Reader(HttpUser):
    fixed_count = int(os.environ.get("MIGSCOPE_STRESS_READERS", "200"))
    abstract = fixed_count == 0  # left out of this run
    wait_time = between(0.5, 1.5)

    @task(3)
    def run_page(self) -> None:
        self.client.get(f"/runs/{SEED_RUN}?step={random.randrange(STEPS)}", name="page /runs/ID")

    @task(2)
    def runs_page(self) -> None:
        self.client.get("/runs", name="page /runs")

    @task(1)
    def new_page(self) -> None:
        self.client.get("/new", name="page /new")

    @task(2)
    def api_steps(self) -> None:
        start = random.randrange(STEPS)
        self.client.get(
            f"/api/runs/{SEED_RUN}/steps?from={start}&to={start + 20}", name="api steps"
        )

    @task(1)
    def api_list(self) -> None:
        self.client.get("/api/runs", name="api /api/runs")


class Follower(HttpUser):
    fixed_count = int(os.environ.get("MIGSCOPE_STRESS_FOLLOWERS", "200"))
    abstract = fixed_count == 0  # left out of this run
    wait_time = between(0.0, 1.0)

    @task
    def follow(self) -> None:
        url = f"/api/presentations/{SESSION}/events"
        with self.client.get(
            url, stream=True, name="follow (stream open)", catch_response=True, timeout=30
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return
            deadline = time.monotonic() + FOLLOW_S
            for line in response.iter_lines():
                if line.startswith(b"id:"):
                    events.request.fire(
                        request_type="SSE",
                        name="follow (event)",
                        response_time=0,
                        response_length=len(line),
                        exception=None,
                        context={},
                    )
                if time.monotonic() > deadline:
                    break
            response.success()


class Presenter(HttpUser):
    fixed_count = 1
    wait_time = between(1.0, 1.0)

    @task
    def move(self) -> None:
        self.client.post(
            f"/api/presentations/{SESSION}/step",
            json={"step": random.randrange(STEPS)},
            headers={"X-Presenter-Key": PRESENTER_KEY},
            name="presenter step",
        )
