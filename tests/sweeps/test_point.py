"""One sweep point: the cheap path (documents validated straight, no deep copies) builds the
same models and gives the same results as validating the point and switching the ack on the
model, and a bad value is still an error."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from app.engine import Scenario
from app.engine.compare import scenario_with_ack
from app.engine.examples import EXAMPLES, load_example
from app.sweeps.point import (
    ENGINE_ERROR,
    INVALID,
    PointResult,
    _run_point_checked,
    ack_documents,
    point_document,
    run_point,
)

GiB = 1024**3


def base_doc(name: str) -> dict[str, Any]:
    return Scenario.model_validate(load_example(name)).model_dump(mode="json")


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_ack_documents_validate_to_what_scenario_with_ack_makes(name: str) -> None:
    doc = base_doc(name)
    variants = [doc]
    # Caps without return-path, with other capabilities before and after the ack, and none.
    for caps in (["events"], ["switchover-ack", "multifd"], []):
        variants.append({**doc, "caps": {"source": caps, "destination": list(reversed(caps))}})
    for variant in variants:
        on_doc, off_doc = ack_documents(variant)
        scenario = Scenario.model_validate(variant)
        for on, made in ((True, on_doc), (False, off_doc)):
            expected = scenario_with_ack(scenario, on)
            got = Scenario.model_validate(made)
            assert got == expected, (name, variant["caps"], on)
            assert got.model_dump_json() == expected.model_dump_json()
    assert variants[1]["caps"]["source"] == ["events"]  # the input is left as it was


def test_point_document_copies_only_the_paths_it_sets() -> None:
    base = base_doc("two-mlx5-vfs")
    before = json.dumps(base, sort_keys=True)
    paths = ("guest.ram_bytes", "guest.dirty_rate_bytes_per_s", "devices.1.stop_copy_bytes")
    doc = point_document(base, paths, (8 * GiB, 12345, 777))
    assert json.dumps(base, sort_keys=True) == before  # the base is never changed
    assert (doc["guest"]["ram_bytes"], doc["guest"]["dirty_rate_bytes_per_s"]) == (8 * GiB, 12345)
    assert doc["devices"][1]["stop_copy_bytes"] == 777
    assert doc["devices"][0] is base["devices"][0]  # untouched parts are shared, not copied
    assert doc["link"] is base["link"]
    expected = copy.deepcopy(base)
    expected["guest"].update(ram_bytes=8 * GiB, dirty_rate_bytes_per_s=12345)
    expected["devices"][1]["stop_copy_bytes"] = 777
    assert doc == expected


@pytest.mark.parametrize(
    ("values", "status"),
    [
        ((8 * GiB, 64 * 1024**2), "completed"),
        # 1 GiB with 80% zero pages cannot hold the 256 MiB working set.
        ((1 * GiB, 0), INVALID),
        # Below the documented minimum guest size.
        ((1024**2, 0), INVALID),
    ],
)
def test_cheap_path_gives_what_the_checked_path_gives(values: tuple[int, int], status: str) -> None:
    base = base_doc("mlx5-300mb-ack")
    doc = point_document(base, ("guest.ram_bytes", "guest.dirty_rate_bytes_per_s"), values)
    fast = run_point(doc, compare_ack=True, max_steps=5_000)
    assert fast == _run_point_checked(doc, 5_000)
    assert fast.status == status
    if status == INVALID:
        assert fast.reason.startswith("guest")  # the point's own error, naming the field
        assert fast.downtime_ms is None
    else:
        on = Scenario.model_validate(doc)
        assert fast.off_status is not None and fast.ack_saves_ms is not None
        assert isinstance(fast, PointResult) and on.guest.ram_bytes == values[0]


def test_a_title_too_long_for_the_ack_suffix_is_an_engine_error_as_before() -> None:
    doc = {**base_doc("zero-devices"), "title": "t" * 195}  # valid; with " [switchover-ack on]" not
    fast = run_point(doc, compare_ack=True, max_steps=5_000)
    assert fast.status == ENGINE_ERROR and "title" in fast.reason
    assert fast == _run_point_checked(doc, 5_000)
    assert run_point(doc, compare_ack=False, max_steps=5_000).status == "completed"


def test_caps_that_are_not_a_dict_are_the_points_own_error() -> None:
    doc = {**base_doc("zero-devices"), "caps": ["return-path"]}
    fast = run_point(doc, compare_ack=True, max_steps=5_000)
    assert fast.status == INVALID and fast.reason.startswith("caps")
    assert fast == _run_point_checked(doc, 5_000)
