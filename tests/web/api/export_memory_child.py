"""Child process for the export memory test: `python -m tests.web.api.export_memory_child URL
RUN_ID SMALL_RUN_ID KIND PATH` prints three numbers: the peak RSS growth (bytes) of streaming
one export of RUN_ID, the export's size, and the peak growth of building the same JSON in memory
(Trace.to_json) afterwards, for comparison."""

from __future__ import annotations

import resource
import sys

from sqlmodel import Session

from app.store.runs import load_trace
from app.web.api.export_stream import export_job
from app.web.jobs import engine_for


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def main() -> None:
    url, run_id, small_id, kind, path = sys.argv[1:6]
    # Warm up imports, the connection and the validators on a small run: only the streaming
    # of the big one is measured.
    export_job(url, small_id, kind, path)
    before = peak_rss_bytes()
    size = export_job(url, run_id, kind, path)
    streamed = peak_rss_bytes() - before
    with Session(engine_for(url)) as session:
        trace = load_trace(session, run_id)
        assert trace is not None
        text = trace.to_json()
    in_memory = peak_rss_bytes() - before
    print(f"{streamed} {size} {in_memory} {len(text)}", flush=True)


if __name__ == "__main__":
    main()
