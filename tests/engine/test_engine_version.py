"""The version stamped into every trace (`engine_version`, `app.__version__`) names the engine's
output: equal versions mean the same traces. Uploaded runs and branches rely on it to say when
a run was made by another engine (docs/api.md, "Where a run was made")."""

from __future__ import annotations

import hashlib
import json

from app import __version__
from app.engine.examples import EXAMPLES, load_example
from app.engine.scenario import Scenario
from app.engine.simulation import simulate

# The digest of every example's collapsed trace (engine_version left out), per version. A
# change of the engine's output fails this test: raise the version (app/__init__.py and
# pyproject.toml) and add its digest here; never edit a recorded one.
OUTPUT_DIGESTS = {
    # Step figures as of each step's end: ram_dirty_unsynced_bytes (2084bb0) and the devices'
    # dirty, initial and stop-copy bytes (6269bcb). 0.1.0 covered every engine before them.
    "0.2.0": "307f3122f3607ed1cdd45e8f65e26768a882b13bcd0766d131acfc390c6a041c",
    # Passes cut by the 50 ms slice collapse when alike (collapse.merge_slice_cut): only
    # busy-guest-8.1's collapsed trace changed (401 -> 43 steps); full traces did not.
    "0.3.0": "11d9b6172b7fcb3f0f9e899297609552922d3f5d5046d6439331c0595261a558",
}


def output_digest() -> str:
    digest = hashlib.sha256()
    for name in sorted(EXAMPLES):
        trace = simulate(Scenario.model_validate(load_example(name)), collapse=True)
        document = json.loads(trace.to_json())
        document["engine_version"] = ""
        digest.update(name.encode())
        digest.update(json.dumps(document, sort_keys=True).encode())
    return digest.hexdigest()


def test_the_version_names_the_engines_output() -> None:
    assert __version__ in OUTPUT_DIGESTS, f"record the output digest of version {__version__}"
    assert output_digest() == OUTPUT_DIGESTS[__version__], (
        f"the engine's output changed under version {__version__}: raise app.__version__ "
        "(and pyproject.toml's version) and record the new digest in OUTPUT_DIGESTS"
    )
