"""A writer process for the kill test: `python -m tests.store.writer_child URL STEPS [pause]`.

With `pause`, it stops at the first insert of events (in the second write transaction, after
the first one committed the run and BATCH_ROWS steps) and says so on stdout, so the test can
kill it at exactly that point.
The pause is a SQLAlchemy cursor hook: the store code itself runs unchanged.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from sqlalchemy import event

from app.store.db import make_engine
from app.store.runs import save_trace
from tests.store.factories import make_trace


def main() -> None:
    url, steps = sys.argv[1], int(sys.argv[2])
    pause = len(sys.argv) > 3 and sys.argv[3] == "pause"
    engine = make_engine(url)
    trace = make_trace(n_steps=steps)
    if pause:

        @event.listens_for(engine, "before_cursor_execute")
        def _hold(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO EVENTS"):
                print("MID-WRITE", flush=True)
                time.sleep(120)

    print("START", flush=True)
    run_id = save_trace(engine, trace)
    print(f"COMMITTED {run_id}", flush=True)


if __name__ == "__main__":
    main()
