"""Stage 1 of building a trace: the parsed files (ImportInputs), checked for something usable,
cut to the last migration of each file, and the time base (time zero, timed or line order)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import ImportFileError
from .infomigrate import InfoMigrate
from .qmpevents import QmpEventLog
from .querymigrate import QueryMigrateSeries
from .tracelog import TraceLog, TraceRecord


@dataclass
class ImportInputs:
    src_trace: TraceLog | None = None
    dst_trace: TraceLog | None = None
    query: QueryMigrateSeries | None = None
    src_events: QmpEventLog | None = None
    dst_events: QmpEventLog | None = None
    info: InfoMigrate | None = None
    title: str | None = None
    clock_offset_us: int | None = None  # user override: destination minus source

    @property
    def has_destination(self) -> bool:
        return self.dst_trace is not None or self.dst_events is not None


def untimed(log: TraceLog | None) -> bool:
    return log is not None and bool(log.records) and not log.timestamped


def time_zero_us(inputs: ImportInputs) -> tuple[int, str]:
    src = inputs.src_trace
    if src is not None and src.timestamped:
        for r in src.records:
            if (
                r.name == "migrate_set_state"
                and r.fields.get("state") == "setup"
                and r.t_us is not None
            ):
                return r.t_us, "source trace: migrate_set_state new state setup"
    if inputs.src_events is not None:
        for e in inputs.src_events.events:
            if e.name == "MIGRATION" and e.data.get("status") == "setup":
                return e.t_us, "source QMP event MIGRATION setup"
    if inputs.query is not None:
        for s in inputs.query.samples:
            if s.total_time_ms is not None:
                return s.t_us - int(
                    s.total_time_ms * 1000
                ), "first query-migrate sample minus its total-time"
    if src is not None and src.timestamped:
        first = next(r.t_us for r in src.records if r.t_us is not None)
        return first, "first timestamped line of the source trace"
    if inputs.src_events is not None and inputs.src_events.events:
        return inputs.src_events.events[0].t_us, "first source QMP event"
    if inputs.query is not None and inputs.query.samples:
        return inputs.query.samples[0].t_us, "first query-migrate sample"
    for log in (inputs.dst_trace,):
        if log is not None and log.timestamped:
            first = next(r.t_us for r in log.records if r.t_us is not None)
            return first, "first timestamped line of the destination trace"
    if inputs.dst_events is not None and inputs.dst_events.events:
        return inputs.dst_events.events[0].t_us, "first destination QMP event"
    return 0, "no timestamps: line order"


def _last_setup_index(records: list[TraceRecord]) -> int:
    starts = [
        i
        for i, r in enumerate(records)
        if r.name == "migrate_set_state" and r.fields.get("state") == "setup"
    ]
    return starts[-1] if starts else 0


def last_migration(inputs: ImportInputs) -> tuple[ImportInputs, dict[str, int]]:
    """A log appended over several migrations (libvirt's per-VM log is): keep the last one of
    each file, from its `new state setup` on, and say how many earlier ones were left out."""
    earlier: dict[str, int] = {}
    out = replace(inputs)
    for attr in ("src_trace", "dst_trace"):
        log: TraceLog | None = getattr(inputs, attr)
        if log is None:
            continue
        setups = sum(
            1
            for r in log.records
            if r.name == "migrate_set_state" and r.fields.get("state") == "setup"
        )
        if setups > 1:
            earlier[log.file] = setups - 1
            setattr(out, attr, replace(log, records=log.records[_last_setup_index(log.records) :]))
    for attr in ("src_events", "dst_events"):
        events: QmpEventLog | None = getattr(inputs, attr)
        if events is None:
            continue
        starts = [
            i
            for i, e in enumerate(events.events)
            if e.name == "MIGRATION" and e.data.get("status") == "setup"
        ]
        if len(starts) > 1:
            earlier[events.file] = len(starts) - 1
            setattr(out, attr, replace(events, events=events.events[starts[-1] :]))
    src = out.src_trace
    if (
        inputs.query is not None
        and src is not None
        and src.timestamped
        and inputs.src_trace is not src
    ):
        start = next((r.t_us for r in src.records if r.t_us is not None), None)
        if start is not None:
            kept = [s for s in inputs.query.samples if s.t_us >= start]
            if len(kept) < len(inputs.query.samples) and kept:
                out.query = replace(inputs.query, samples=kept)
    return out, earlier


def check_usable(inputs: ImportInputs) -> None:
    usable = False
    for log in (inputs.src_trace, inputs.dst_trace):
        if log is None:
            continue
        if not log.records:
            raise ImportFileError(
                log.file,
                None,
                "QEMU trace lines of migration events (e.g. `<pid>@<s>.<us>:migrate_set_state new state setup`); "
                f"none found in {log.lines_total} lines",
            )
        usable = True
    if inputs.query is not None:
        if not inputs.query.samples:
            raise ImportFileError(
                inputs.query.file,
                None,
                'query-migrate replies, one per line: {"timestamp": {...}, "return": {"status": ...}}',
            )
        usable = True
    for events in (inputs.src_events, inputs.dst_events):
        if events is None:
            continue
        if not events.events:
            raise ImportFileError(
                events.file,
                None,
                "QMP events MIGRATION, MIGRATION_PASS, VFIO_MIGRATION, STOP or RESUME, one per line",
            )
        usable = True
    if inputs.info is not None:
        usable = True
    if not usable:
        raise ImportFileError(
            "(no file)",
            None,
            "at least one input file (a source trace log, query-migrate samples, QMP events or `info migrate`)",
        )
