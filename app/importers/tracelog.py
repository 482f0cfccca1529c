"""QEMU trace logs from the `log` backend (source or destination).

Accepted line shapes (docs/importer.md has the full list):

    <pid>@<seconds>.<microseconds>:<event> <args>      with `-msg timestamp=on`
    <event> <args>                                       without it (no time axis)

VFIO events print two spaces before `(<device>)` (their format strings start with " (%s)").
VFIO sizes are hex (`0x...`) in QEMU 8.1-9.1 and decimal from 9.2; every number field takes
either. QEMU `error_report` lines that ended up in the same file (libvirt's per-VM log mixes
stderr and trace output), optionally prefixed with an ISO time and `qemu-system-*:`, are read
as errors when they carry a program prefix or a known migration error text.

Events we know are parsed into typed fields; a known event whose arguments do not match its
format string raises `ImportFileError` with the line number and the expected shape. Well-formed
lines of other events are counted per name and ignored; other lines are counted as skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import ImportFileError
from .limits import MAX_LINE_CHARS

_N = r"(?:0x[0-9a-fA-F]+|[0-9]+)"
_SN = r"-?[0-9]+"
_DEV = r"\((?P<device>[^()]*)\)"
_VAL = r"(?P<value>0x[0-9a-fA-F]+|[0-9]+)"

# name -> (regex over the stripped arguments, the shape shown to the user when it fails).
# None = the event has no arguments (anything after the name is ignored: formats of these
# argument-less events changed between versions, e.g. migration_return_path_end_after).
_SPECS: dict[str, tuple[str | None, str]] = {
    "migrate_set_state": (r"new state (?P<state>[a-z-]+)", "new state <status>"),
    "migrate_pending_estimate": (
        rf"estimate pending size (?P<pending>{_N}) \(pre = (?P<pre>{_N}) post=(?P<post>{_N})\)",
        "estimate pending size <n> (pre = <n> post=<n>)",
    ),
    "migrate_pending_exact": (
        rf"exact pending size (?P<pending>{_N}) \(pre = (?P<pre>{_N}) post=(?P<post>{_N})\)",
        "exact pending size <n> (pre = <n> post=<n>)",
    ),
    "migration_thread_low_pending": (rf"(?P<pending>{_N})", "<pending bytes>"),
    "migrate_transferred": (
        (
            rf"transferred (?P<transferred>{_N}) time_spent (?P<time_spent>{_N}) bandwidth (?P<bandwidth>{_N})"
            rf"(?: switchover_bw (?P<switchover_bw>{_N}))? max_size (?P<max_size>{_SN})"
        ),
        "transferred <n> time_spent <n> bandwidth <n> [switchover_bw <n>] max_size <n>",
    ),
    "migration_bitmap_sync_start": (None, ""),
    "migration_bitmap_sync_end": (rf"dirty_pages (?P<dirty_pages>{_N})", "dirty_pages <n>"),
    "migration_rate_limit_pre": (rf"(?P<ms>{_SN}) ms", "<n> ms"),
    "savevm_state_setup": (None, ""),
    "savevm_state_iterate": (None, ""),
    "savevm_state_header": (None, ""),
    "savevm_state_cleanup": (None, ""),
    "savevm_section_start": (
        r"(?P<idstr>.+), section_id (?P<section_id>[0-9]+)",
        "<idstr>, section_id <n>",
    ),
    "savevm_section_end": (
        rf"(?P<idstr>.+), section_id (?P<section_id>[0-9]+) -> (?P<ret>{_SN})",
        "<idstr>, section_id <n> -> <ret>",
    ),
    "savevm_send_open_return_path": (None, ""),
    "savevm_send_ping": (_VAL, "<value, e.g. 0x1>"),
    "savevm_send_switchover_start": (None, ""),
    "source_return_path_thread_entry": (None, ""),
    "source_return_path_thread_switchover_acked": (None, ""),
    "source_return_path_thread_pong": (_VAL, "<value, e.g. 0x1>"),
    "source_return_path_thread_shut": (_VAL, "<value, e.g. 0x0>"),
    "source_return_path_thread_bad_end": (None, ""),
    "source_return_path_thread_end": (None, ""),
    "loadvm_state_setup": (None, ""),
    "loadvm_state_cleanup": (None, ""),
    "loadvm_state_switchover_ack_needed": (
        r"Switchover ack pending num=(?P<num>[0-9]+)",
        "Switchover ack pending num=<n>",
    ),
    "loadvm_approve_switchover": (
        r"Switchover ack pending num=(?P<num>[0-9]+)",
        "Switchover ack pending num=<n>",
    ),
    "loadvm_process_command": (
        rf"com=(?P<com>[A-Za-z0-9_]+) len=(?P<len>{_SN})",
        "com=<command> len=<n>",
    ),
    "loadvm_process_command_ping": (_VAL, "<value, e.g. 0x1>"),
    "migrate_send_rp_message": (rf"(?P<msg_type>{_SN}): len (?P<len>{_SN})", "<type>: len <n>"),
    "migration_completion_vm_stop": (rf"ret (?P<ret>{_SN})", "ret <n>"),
    "migration_return_path_end_before": (None, ""),
    "migration_return_path_end_after": (None, ""),
    "migration_thread_setup_complete": (None, ""),
    "migration_thread_after_loop": (None, ""),
    "migration_cancel": (None, ""),
    "vmstate_downtime_checkpoint": (
        r"(?P<checkpoint>[a-z][a-z0-9-]*)",
        "<checkpoint name, e.g. src-downtime-start>",
    ),
    "vmstate_downtime_save": (
        rf"type=(?P<type>[a-z-]+) idstr=(?P<idstr>\S+) instance_id=(?P<instance_id>{_SN}) downtime=(?P<downtime_us>{_SN})",
        "type=<type> idstr=<id> instance_id=<n> downtime=<us>",
    ),
    "vmstate_downtime_load": (
        rf"type=(?P<type>[a-z-]+) idstr=(?P<idstr>\S+) instance_id=(?P<instance_id>{_SN}) downtime=(?P<downtime_us>{_SN})",
        "type=<type> idstr=<id> instance_id=<n> downtime=<us>",
    ),
    "migrate_error": (r"error=(?P<error>.*)", "error=<text>"),
    "migrate_fd_error": (r"error=(?P<error>.*)", "error=<text>"),
    "qemu_loadvm_state_post_main": (rf"(?P<ret>{_SN})", "<ret>"),
    # VFIO (hw/vfio/trace-events); sizes hex up to 9.1, decimal from 9.2.
    "vfio_migration_set_state": (
        rf"{_DEV} (?:state (?P<state>\S+)|new state (?P<new_state>\S+), recover state (?P<recover_state>\S+))",
        "(<device>) state <STATE>  or  (<device>) new state <STATE>, recover state <STATE>",
    ),
    "vfio_migration_set_device_state": (
        rf"{_DEV} state (?P<state>\S+)",
        "(<device>) state <STATE>",
    ),
    "vfio_vmstate_change": (
        rf"{_DEV} running (?P<running>{_SN}) reason (?P<reason>\S+) device state (?P<dev_state>\S+)",
        "(<device>) running <0|1> reason <runstate> device state <STATE>",
    ),
    "vfio_vmstate_change_prepare": (
        rf"{_DEV} running (?P<running>{_SN}) reason (?P<reason>\S+) device state (?P<dev_state>\S+)",
        "(<device>) running <0|1> reason <runstate> device state <STATE>",
    ),
    "vfio_save_setup": (
        rf"{_DEV} data buffer size (?P<buffer_size>{_N})",
        "(<device>) data buffer size <n>",
    ),
    "vfio_save_block": (rf"{_DEV} data_size (?P<data_size>{_SN})", "(<device>) data_size <n>"),
    "vfio_save_iterate": (
        rf"{_DEV} precopy initial size (?P<init>{_N}) precopy dirty size (?P<dirty>{_N})",
        "(<device>) precopy initial size <n> precopy dirty size <n>",
    ),
    "vfio_state_pending_estimate": (
        rf"{_DEV} precopy (?P<precopy>{_N}) postcopy (?P<postcopy>{_N}) precopy initial size (?P<init>{_N}) precopy dirty size (?P<dirty>{_N})",
        "(<device>) precopy <n> postcopy <n> precopy initial size <n> precopy dirty size <n>",
    ),
    "vfio_state_pending_exact": (
        rf"{_DEV} precopy (?P<precopy>{_N}) postcopy (?P<postcopy>{_N}) stopcopy size (?P<stopcopy>{_N}) precopy initial size (?P<init>{_N}) precopy dirty size (?P<dirty>{_N})",
        "(<device>) precopy <n> postcopy <n> stopcopy size <n> precopy initial size <n> precopy dirty size <n>",
    ),
    "vfio_save_complete_precopy": (rf"{_DEV} ret (?P<ret>{_SN})", "(<device>) ret <n>"),
    "vfio_save_cleanup": (rf"{_DEV}", "(<device>)"),
    "vfio_save_device_config_state": (rf"{_DEV}", "(<device>)"),
    "vfio_load_state": (rf"{_DEV} data (?P<data>0x[0-9a-fA-F]+|[0-9]+)", "(<device>) data <tag>"),
    "vfio_load_state_device_data": (
        rf"{_DEV} size (?P<size>{_N}) ret (?P<ret>{_SN})",
        "(<device>) size <n> ret <n>",
    ),
    "vfio_load_device_config_state": (rf"{_DEV}", "(<device>)"),
    "vfio_load_cleanup": (rf"{_DEV}", "(<device>)"),
}
_COMPILED: dict[str, re.Pattern[str] | None] = {
    name: (None if regex is None else re.compile(regex)) for name, (regex, _) in _SPECS.items()
}
KNOWN_EVENTS: frozenset[str] = frozenset(_SPECS)

_STR_FIELDS = frozenset(
    {
        "state",
        "new_state",
        "recover_state",
        "device",
        "idstr",
        "com",
        "checkpoint",
        "type",
        "error",
        "reason",
        "dev_state",
    }
)
# Size fields whose printing changed from hex to decimal in QEMU 9.2.
_VFIO_SIZE_FIELDS = frozenset(
    {"buffer_size", "init", "dirty", "precopy", "postcopy", "stopcopy", "size"}
)

_LINE = re.compile(
    r"^(?:(?P<pid>[0-9]{1,10})@(?P<sec>[0-9]{1,12})\.(?P<usec>[0-9]{1,6}):)?(?P<name>[a-z_][a-z0-9_]*)(?:[ \t](?P<args>.*))?$"
)
_ISO = r"(?P<iso>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?Z)"
_ERROR = re.compile(
    rf"^(?:{_ISO}\s+)?(?P<prog>(?:qemu-system-[A-Za-z0-9_.-]+|qemu-kvm|qemu)(?:\[[0-9]+\])?:\s*)?(?P<msg>.+)$"
)
# error_report texts that matter for migration, recognised even without a program prefix.
_KNOWN_ERROR_TEXTS = (
    "Received INIT_DATA_SENT but switchover ack is not used",
    "Received INIT_DATA_SENT but switchover ack is not needed",
    "load of migration failed",
    "error while loading state section",
    "failed to save SaveStateEntry",
    "qemu_loadvm_approve_switchover failed",
    "Unable to write to socket",
    "Capability 'switchover-ack' requires capability 'return-path'",
)
INIT_DATA_SENT_ERROR = "Received INIT_DATA_SENT but switchover ack is not used"


@dataclass(frozen=True)
class TraceRecord:
    """One parsed line. `t_us` is the host's realtime clock in microseconds (None without timestamps)."""

    line: int
    t_us: int | None
    pid: int | None
    name: str
    fields: dict[str, Any]


@dataclass
class TraceLog:
    file: str
    records: list[TraceRecord] = field(default_factory=list)
    lines_total: int = 0
    skipped_lines: int = 0  # not a trace line at all
    ignored_events: dict[str, int] = field(
        default_factory=dict
    )  # well-formed lines of events we do not use
    timestamped_lines: int = 0
    vfio_size_format: str | None = None  # "hex" (QEMU 8.1-9.1) or "decimal" (9.2+)

    @property
    def timestamped(self) -> bool:
        return self.timestamped_lines > 0

    def named(self, *names: str) -> list[TraceRecord]:
        wanted = set(names)
        return [r for r in self.records if r.name in wanted]

    def info(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "lines": self.lines_total,
            "events_used": len(self.records),
            "skipped_lines": self.skipped_lines,
            "ignored_events": dict(sorted(self.ignored_events.items())),
            "ignored_event_lines": sum(self.ignored_events.values()),
            "timestamps": self.timestamped,
            "vfio_size_format": self.vfio_size_format,
        }


def _number(text: str) -> int:
    return int(text, 16) if text[:2] in ("0x", "0X") else int(text, 10)


def _iso_to_us(text: str) -> int | None:
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return round(stamp.timestamp() * 1_000_000)


def _error_record(text: str, line_no: int, last_t_us: int | None) -> TraceRecord | None:
    match = _ERROR.match(text)
    if match is None:
        return None
    message = match.group("msg").strip()
    if match.group("prog") is None and not any(known in message for known in _KNOWN_ERROR_TEXTS):
        return None
    t_us = _iso_to_us(match.group("iso")) if match.group("iso") else None
    level = "warning" if message.lower().startswith("warning:") else "error"
    fields: dict[str, Any] = {"message": message, "level": level, "device": None}
    for known in (
        "Received INIT_DATA_SENT",
        "qemu_loadvm_approve_switchover failed",
        "SETUP STATE",
        "Unknown tag",
    ):
        position = message.find(": " + known)
        if position > 0:
            fields["device"] = message[:position]
            break
    return TraceRecord(
        line=line_no,
        t_us=t_us if t_us is not None else last_t_us,
        pid=None,
        name="error_report",
        fields=fields,
    )


def parse_trace_log(text: str, file: str) -> TraceLog:
    """Parse one trace log. Raises ImportFileError for a malformed line of a known event."""
    log = TraceLog(file=file)
    last_t_us: int | None = None
    hex_seen = decimal_seen = False
    for line_no, raw in enumerate(text.splitlines(), start=1):
        log.lines_total += 1
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        if len(line) > MAX_LINE_CHARS or "\x00" in line:
            log.skipped_lines += 1
            continue
        match = _LINE.match(line)
        if match is None or (
            match.group("pid") is None and match.group("name") not in KNOWN_EVENTS
        ):
            # Not a (known) trace line: maybe an error_report line, else skipped.
            record = _error_record(line.strip(), line_no, last_t_us)
            if record is not None:
                log.records.append(record)
            elif match is not None and "_" in match.group("name"):
                log.ignored_events[match.group("name")] = (
                    log.ignored_events.get(match.group("name"), 0) + 1
                )
            else:
                log.skipped_lines += 1
            continue
        name = match.group("name")
        t_us: int | None = None
        pid: int | None = None
        if match.group("pid") is not None:
            t_us = int(match.group("sec")) * 1_000_000 + int(match.group("usec").ljust(6, "0"))
            pid = int(match.group("pid"))
            log.timestamped_lines += 1
            last_t_us = t_us
        if name not in _SPECS:
            log.ignored_events[name] = log.ignored_events.get(name, 0) + 1
            continue
        pattern = _COMPILED[name]
        args = (match.group("args") or "").strip()
        fields: dict[str, Any] = {}
        if pattern is not None:
            parsed = pattern.fullmatch(args)
            if parsed is None:
                raise ImportFileError(file, line_no, f"`{name} {_SPECS[name][1]}`", line)
            for key, value in parsed.groupdict().items():
                if value is None:
                    fields[key] = None
                elif key in _STR_FIELDS:
                    fields[key] = value
                else:
                    fields[key] = _number(value)
                    if name.startswith("vfio_") and key in _VFIO_SIZE_FIELDS:
                        if value.startswith("0x"):
                            hex_seen = True
                        else:
                            decimal_seen = True
        log.records.append(
            TraceRecord(
                line=line_no,
                t_us=t_us if pid is not None else last_t_us,
                pid=pid,
                name=name,
                fields=fields,
            )
        )
    if hex_seen or decimal_seen:
        log.vfio_size_format = (
            "mixed" if hex_seen and decimal_seen else ("hex" if hex_seen else "decimal")
        )
    return log
