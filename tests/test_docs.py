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


ARCHITECTURE = Path(__file__).parent.parent / "docs" / "architecture.md"


def test_architecture_doc_names_real_modules_and_the_whole_data_path() -> None:
    """docs/architecture.md: one diagram of the layers and the data path, and every module,
    folder and dotted name it cites exists (a renamed module fails this test)."""
    import re

    text = ARCHITECTURE.read_text()
    root = ARCHITECTURE.parent.parent
    paths = set(re.findall(r"\b((?:app|tests|static|templates)/[\w./-]*)", text))
    assert len(paths) >= 30, "the map should name where things live"
    for path in paths:
        assert (root / path.rstrip(".")).exists(), (
            f"docs/architecture.md names {path}, which does not exist"
        )
    for dotted in set(re.findall(r"`(app(?:\.\w+)+)`", text)):
        module = root / dotted.replace(".", "/")
        assert module.with_suffix(".py").exists() or module.is_dir(), f"{dotted} is not a module"
    path_line = "scenario -> engine -> trace -> store -> series -> chart"
    assert path_line in text
    for stage in path_line.split(" -> "):
        assert re.search(rf"^ {stage}\s", text, re.MULTILINE), (
            f"the data path diagram has no {stage} row"
        )
    for layer in (
        "app/engine/",
        "app/store/",
        "app/importers/",
        "app/web/",
        "app/web/api/",
        "app/web/pages/",
    ):
        assert layer in text
