"""Documented sweep limits (docs/sweeps.md); the CLI and the API enforce the same names."""

from __future__ import annotations

from typing import Final

MAX_VARIED_FIELDS: Final = 3
# The server keeps every point as a row and draws them in the browser: 10,000 stays quick.
MAX_POINTS_API: Final = 10_000
# The command line only writes a file; a million points is hours of engine time, not memory.
MAX_POINTS_CLI: Final = 1_000_000
DEFAULT_POINTS_PER_RANGE: Final = 10
MAX_VARY_CHARS: Final = 400
# Every point is one run (two with --compare-ack): the per-run step budget applies to each.
DEFAULT_MAX_STEPS_PER_POINT: Final = 50_000
