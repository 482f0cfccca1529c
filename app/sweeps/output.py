"""Sweep results as CSV or JSON: rows sorted by point index, so the bytes depend only on the
plan and the engine (never on workers, executor or finishing order)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

from .plan import SweepPlan
from .point import OUTPUT_FIELDS, PointResult


def csv_header(paths: Iterable[str]) -> list[str]:
    return ["index", *paths, *OUTPUT_FIELDS]


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def csv_rows(rows: Iterable[tuple[int, tuple[Any, ...], PointResult]]) -> Iterable[list[str]]:
    for index, values, result in rows:
        data = result.as_dict()
        yield [
            str(index),
            *(_cell(v) for v in values),
            *(_cell(data[name]) for name in OUTPUT_FIELDS),
        ]


def to_csv(plan: SweepPlan, results: Mapping[int, PointResult]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_header(plan.paths))
    writer.writerows(csv_rows((i, plan.values_at(i), results[i]) for i in sorted(results)))
    return buffer.getvalue()


def to_json(plan: SweepPlan, results: Mapping[int, PointResult]) -> str:
    document = {
        "format": "migscope-sweep",
        "format_version": 1,
        "base_scenario": plan.base,
        **plan.as_dict(),
        "points": [
            {
                "index": i,
                "values": dict(zip(plan.paths, plan.values_at(i), strict=True)),
                **results[i].as_dict(),
            }
            for i in sorted(results)
        ],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n"
