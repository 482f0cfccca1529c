"""--vary parsing and the grid: values, units, bounds, order, and one-line errors naming the field."""

from __future__ import annotations

import pytest

from app.engine import Scenario
from app.engine.examples import load_example
from app.sweeps.plan import plan_sweep
from app.sweeps.point import point_document
from app.sweeps.vary import VaryError, parse_vary

GiB = 1024**3
MiB = 1024**2


@pytest.fixture(scope="module")
def base() -> Scenario:
    return Scenario.model_validate(load_example("mlx5-300mb-ack"))


def axis(spec: str, base: Scenario) -> tuple[object, ...]:
    return parse_vary(spec, base.model_dump(mode="json")).values


def test_linear_range_with_units_keeps_the_ends_exact(base: Scenario) -> None:
    assert axis("guest.dirty_rate_bytes_per_s=0..1GiB:5", base) == (
        0,
        GiB // 4,
        GiB // 2,
        3 * GiB // 4,
        GiB,
    )


def test_log_range_is_geometric_and_integer_for_byte_fields(base: Scenario) -> None:
    values = axis("guest.ram_bytes=1GiB..64GiB:log:7", base)
    assert values == tuple(GiB * 2**i for i in range(7))
    assert all(isinstance(v, int) for v in values)


def test_options_in_any_order_and_default_count(base: Scenario) -> None:
    assert axis("guest.ram_bytes=1GiB..64GiB:7:log", base) == axis(
        "guest.ram_bytes=1GiB..64GiB:log:7", base
    )
    assert len(axis("link.latency_ms=0..10", base)) == 10


def test_explicit_list_durations_and_plain_numbers(base: Scenario) -> None:
    assert axis("params.downtime_limit_ms=100,1s,300ms", base) == (100.0, 1000.0, 300.0)
    assert axis("guest.zero_page_fraction=0..1:3", base) == (0.0, 0.5, 1.0)
    assert axis("link.bandwidth_bytes_per_s=10Gbit,25 Gbit", base) == (1_250_000_000, 3_125_000_000)


def test_float_steps_are_rounded_the_same_everywhere(base: Scenario) -> None:
    assert axis("guest.zero_page_fraction=0.1..0.3:3", base) == (0.1, 0.2, 0.3)


def test_device_fields_by_index(base: Scenario) -> None:
    assert axis("devices.0.stop_copy_bytes=100MiB,1GiB", base) == (100 * MiB, GiB)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("guest.nope=1..2", "guest.nope: unknown field 'nope' in guest"),
        ("nothing=1", "nothing: unknown field 'nothing' in the scenario"),
        ("guest.ram_bytes=1GiB..2Gibb", "guest.ram_bytes: unknown unit 'Gibb'"),
        ("guest.ram_bytes=2GiB..1GiB", "guest.ram_bytes: empty range"),
        ("guest.ram_bytes=2GiB..2GiB:4", "guest.ram_bytes: empty range"),
        ("guest.ram_bytes=1GiB..2GiB:0", "guest.ram_bytes: empty range (0 points)"),
        (
            "guest.ram_bytes=1MiB..2GiB",
            "guest.ram_bytes: 1.0 MiB (1048576 bytes) is out of range (must be >= 64.0 MiB",
        ),
        (
            "link.latency_ms=0..2000",
            "link.latency_ms: 2000 ms is out of range (must be <= 1000 ms)",
        ),
        ("max_time_ms=0..10", "max_time_ms: 0 ms is out of range (must be > 0 ms)"),
        ("devices.1.initial_bytes=1..2", "devices.1.initial_bytes: devices has 1 entries"),
        ("devices.0.preset=1,2", "devices.0.preset: not a numeric field"),
        ("guest.dirty_pattern=1..2", "guest.dirty_pattern: not a numeric field"),
        ("guest=1", "guest: is a group of fields"),
        (
            "guest.zero_page_fraction=0..1:log",
            "guest.zero_page_fraction: a log range must start above 0",
        ),
        ("guest.ram_bytes=1GiB..2GiB:cubic", "guest.ram_bytes: unknown range option 'cubic'"),
        ("guest.ram_bytes=1GiB,1GiB", "guest.ram_bytes: a value is listed twice"),
        ("guest.ram_bytes", "expected PATH=A..B"),
        ("guest.seed=1", "guest.seed: unknown field"),
        ("seed=0..3:10", "seed: 10 points do not fit in 0..3"),
    ],
)
def test_bad_vary_is_one_line_naming_the_field(spec: str, message: str, base: Scenario) -> None:
    with pytest.raises(VaryError) as error:
        parse_vary(spec, base.model_dump(mode="json"))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_plan_limits(base: Scenario) -> None:
    with pytest.raises(VaryError, match=r"too many points \(100 x 101 = 10100; the limit is 10000"):
        plan_sweep(
            base,
            ["guest.ram_bytes=1GiB..64GiB:100", "link.latency_ms=0..100:101"],
            compare_ack=False,
            max_points=10_000,
        )
    with pytest.raises(VaryError, match="at most 3 fields"):
        plan_sweep(
            base,
            ["seed=1,2", "link.latency_ms=1,2", "guest.setup_ms=1,2", "guest.vm_stop_ms=1,2"],
            compare_ack=False,
            max_points=10_000,
        )
    with pytest.raises(VaryError, match="seed: varied twice"):
        plan_sweep(base, ["seed=1,2", "seed=3,4"], compare_ack=False, max_points=10_000)
    with pytest.raises(VaryError, match="at least one --vary"):
        plan_sweep(base, [], compare_ack=False, max_points=10_000)


def test_grid_is_row_major_with_the_first_axis_slowest(base: Scenario) -> None:
    plan = plan_sweep(
        base,
        ["seed=1,2", "link.latency_ms=0..2:3", "guest.setup_ms=5,6"],
        compare_ack=False,
        max_points=100,
    )
    assert plan.shape == (2, 3, 2) and plan.point_count == 12
    assert [plan.values_at(i) for i in (0, 1, 2, 11)] == [
        (1, 0.0, 5.0),
        (1, 0.0, 6.0),
        (1, 1.0, 5.0),
        (2, 2.0, 6.0),
    ]
    assert len({plan.values_at(i) for i in range(12)}) == 12
    doc = point_document(plan.base, plan.paths, plan.values_at(11))
    assert (doc["seed"], doc["link"]["latency_ms"], doc["guest"]["setup_ms"]) == (2, 2.0, 6.0)
    assert plan.base["seed"] == 1  # the base is never changed in place
