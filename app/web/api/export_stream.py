"""Exports written row by row from the database, in bounded memory (a worker process runs them).

Steps and events are read in keyset batches (app.store.batches: one short query each, no long
transaction) and written out as they come; only a batch is ever held. The bytes are those of
the in-memory exports: `export.json` equals `Trace.to_json()`, `export.perfetto.json` equals
`to_trace_events` as a JSONResponse renders it, the CSV equals `steps_csv`.
"""

from __future__ import annotations

import csv
import heapq
import itertools
import json
import os
from collections.abc import Iterator
from typing import IO, Any

from pydantic import TypeAdapter
from sqlalchemy import Engine
from sqlmodel import Session

from app.engine.trace import Event, Step
from app.store.batches import iter_event_data, iter_step_data
from app.store.models import Run
from app.store.runs import get_run, trace_of

from ..jobs import engine_for
from .perfetto import INSTANT_NAMES, counters, instants, metadata, other_data, phase_slices

_STEP = TypeAdapter(Step)
_EVENT = TypeAdapter(Event)


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _steps(engine: Engine, run_id: str, by_time: bool = False) -> Iterator[Step]:
    for data in iter_step_data(engine, run_id, by_time):
        yield _STEP.validate_python(data)


def _events(
    engine: Engine, run_id: str, by_time: bool = False, kinds: list[str] | None = None
) -> Iterator[Event]:
    for data in iter_event_data(engine, run_id, by_time, kinds):
        yield _EVENT.validate_python(data)


def _run(engine: Engine, run_id: str) -> Run:
    with Session(engine) as session:
        run = get_run(session, run_id)
        if run is None:
            raise LookupError(run_id)
        session.expunge(run)
        return run


def write_json(engine: Engine, run_id: str, out: IO[str]) -> None:
    """`Trace.to_json()` of the stored run, written step by step and event by event."""
    run = _run(engine, run_id)
    head = trace_of(run, [], []).model_dump(mode="json")
    out.write("{")
    for number, key in enumerate(sorted(head)):
        out.write(("," if number else "") + json.dumps(key) + ":")
        if key in ("steps", "events"):
            items = _steps(engine, run_id) if key == "steps" else _events(engine, run_id)
            out.write("[")
            for position, item in enumerate(items):
                out.write(("," if position else "") + _compact(item.model_dump(mode="json")))
            out.write("]")
        else:
            out.write(_compact(head[key]))
    out.write("}")


def write_csv(engine: Engine, run_id: str, out: IO[str]) -> None:
    """`steps_csv` of the stored run: a first pass finds the devices (the columns), a second
    writes the rows."""
    from .exports import csv_header, csv_row

    devices: list[str] = []
    for data in iter_step_data(engine, run_id):
        for device in data.get("devices") or []:
            name = device.get("name")
            if name not in devices:
                devices.append(name)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(csv_header(devices))
    for step in _steps(engine, run_id):
        writer.writerow(csv_row(step, devices))


def _perfetto_json(value: Any) -> str:
    # As Starlette's JSONResponse renders it.
    return json.dumps(
        value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    )


def write_perfetto(engine: Engine, run_id: str, out: IO[str]) -> None:
    """`to_trace_events` of the stored run. Its events are sorted by time (stably); here three
    streams already in that order are merged: the phase slices (few: one per run of equal
    phases), the counters (steps by end_ms) and the instants (events by t_ms)."""
    run = _run(engine, run_id)
    slices = sorted(phase_slices(_steps(engine, run_id)), key=lambda event: event["ts"])

    def counter_stream() -> Iterator[dict[str, Any]]:
        for step in _steps(engine, run_id, by_time=True):
            yield from counters([step])

    def instant_stream() -> Iterator[dict[str, Any]]:
        for event in _events(engine, run_id, by_time=True, kinds=list(INSTANT_NAMES)):
            yield from instants([event])

    out.write('{"traceEvents":[')
    first = True
    merged = heapq.merge(slices, counter_stream(), instant_stream(), key=lambda event: event["ts"])
    for item in itertools.chain(metadata(), merged):
        out.write(("" if first else ",") + _perfetto_json(item))
        first = False
    status = str((run.summary or {}).get("status", ""))
    other = other_data(run_id, run.title, run.engine_version, run.qemu_profile, status)
    out.write('],"displayTimeUnit":"ms","otherData":' + _perfetto_json(other) + "}")


WRITERS = {"json": write_json, "csv": write_csv, "perfetto": write_perfetto}


def export_job(database_url: str, run_id: str, kind: str, path: str) -> int:
    """A worker-process job (app.web.workers): write an export of a stored run to `path`, row
    by row; returns its size in bytes."""
    engine = engine_for(database_url)
    try:
        with open(path, "w", encoding="utf-8", newline="") as out:
            WRITERS[kind](engine, run_id, out)
    except BaseException:
        os.unlink(path)
        raise
    return os.path.getsize(path)
