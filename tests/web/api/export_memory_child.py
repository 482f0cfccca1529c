"""Child process for the export memory test: `python -m tests.web.api.export_memory_child URL
RUN_ID SMALL_RUN_ID KIND PATH [in-memory]` prints four numbers: the peak RSS growth (bytes) of
streaming one export of RUN_ID, the export's size, and, with `in-memory`, the peak growth of
building the same JSON in memory (Trace.to_json) afterwards and its length, for comparison
(else 0 0: that figure does not depend on KIND, so the test measures it once)."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlmodel import Session

from app.store.runs import load_trace
from app.web.api.export_stream import export_job
from app.web.jobs import engine_for


def _status_bytes(field: str) -> int:
    """A memory figure of this process from /proc/self/status (given there in kB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def start_peak() -> int:
    """Reset the peak-RSS mark to the current RSS and return that RSS.

    Not `getrusage().ru_maxrss`: Linux keeps it across execve, so this child would start with
    the peak of the (large) pytest worker that launched it and never show any growth. VmHWM
    belongs to the new address space and `clear_refs` 5 resets it.
    """
    Path("/proc/self/clear_refs").write_text("5")
    return _status_bytes("VmRSS")


def peak_growth(start: int) -> int:
    return max(0, _status_bytes("VmHWM") - start)


def main() -> None:
    url, run_id, small_id, kind, path = sys.argv[1:6]
    compare = sys.argv[6:7] == ["in-memory"]
    # Warm up imports, the connection and the validators on a small run: only the streaming
    # of the big one is measured.
    export_job(url, small_id, kind, path)
    start = start_peak()
    size = export_job(url, run_id, kind, path)
    streamed = peak_growth(start)
    if not compare:
        print(f"{streamed} {size} 0 0", flush=True)
        return
    start = start_peak()
    with Session(engine_for(url)) as session:
        trace = load_trace(session, run_id)
        assert trace is not None
        text = trace.to_json()
    in_memory = peak_growth(start)
    print(f"{streamed} {size} {in_memory} {len(text)}", flush=True)


if __name__ == "__main__":
    main()
