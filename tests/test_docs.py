"""The README documents every scenario key, preset and example (as datasette's test_docs)."""

from pathlib import Path

from app.engine.examples import EXAMPLES
from app.engine.presets import PRESETS
from app.engine.profiles import PROFILES
from app.engine.scenario import Destination, DeviceSpec, Guest, Link, Params, Scenario

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_every_scenario_key_is_documented():
    for section, model in (
        ("guest", Guest),
        ("link", Link),
        ("destination", Destination),
        ("params", Params),
    ):
        for key in model.model_fields:
            assert f"`{section}.{key}`" in README, f"{section}.{key} is not in the README"
    for key in Scenario.model_fields:
        assert f"`{key}`" in README or f"`{key}." in README or f"`{key}[]`" in README, key
    for key in DeviceSpec.model_fields:
        assert f"`{key}`" in README, f"device key {key} is not in the README"


def test_every_preset_example_and_profile_is_documented():
    for name in PRESETS:
        assert f"`{name}`" in README
    for name in EXAMPLES:
        assert f"`{name}`" in README
    for name in PROFILES:
        assert name in README
