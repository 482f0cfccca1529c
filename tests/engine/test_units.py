import pytest

from app.engine.units import format_bytes, format_ms, parse_bytes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8 GiB", 8 * 1024**3),
        ("300 MB", 300_000_000),
        ("128 MiB", 128 * 1024**2),
        ("10 Gbit", 1_250_000_000),
        ("1.5 KiB", 1536),
        ("4096", 4096),
        (4096, 4096),
        ("64 MiB/s", 64 * 1024**2),
    ],
)
def test_parse_bytes_accepts_units(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("bad", ["8 XB", "lots", "", "-5 MiB", True, [1]])
def test_parse_bytes_rejects_with_a_reason(bad):
    with pytest.raises(ValueError) as info:
        parse_bytes(bad)
    assert str(info.value)


def test_format_uses_binary_units_and_ms():
    assert format_bytes(300_000_000) == "286 MiB"
    assert format_bytes(16 * 1024**2) == "16.0 MiB"
    assert format_bytes(None) == "unknown"
    assert format_ms(1480.0) == "1480 ms"
    assert format_ms(62.875) == "62.9 ms"
    assert format_ms(61975.9) == "61.98 s"


@pytest.mark.parametrize("bad", ["1e400", float("inf"), float("nan"), "1e30 TiB"])
def test_non_finite_or_huge_numbers_are_errors_not_crashes(bad):
    with pytest.raises(ValueError):
        parse_bytes(bad)


def test_nan_is_refused_for_float_fields():
    from pydantic import ValidationError

    from app.engine.scenario import Scenario

    with pytest.raises(ValidationError) as info:
        Scenario.model_validate({"link": {"latency_ms": float("nan")}})
    assert "link.latency_ms" in str(info.value)
