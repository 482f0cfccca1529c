"""`migscope import SRC.log [DST.log] [...]`: store a real QEMU migration and print its URL.

The importers sit below the web layer and beside the engine's CLI: app/cli.py passes in the
two things this command needs from them (the run page's path, the summary printer).

`migscope import RUN.json` (a file whose first character is `{`: no QEMU trace log starts so)
stores a migscope trace (a run's export.json) back as it is, as `POST /api/imports` field
`migscope_trace` does (app/importers/migscope_trace.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from app.engine.trace import Trace
from app.engine.units import format_bytes

from .errors import ImportFileError
from .importer import InputFile, import_files
from .limits import MAX_FILE_BYTES, trace_file_limit_bytes
from .migscope_trace import TraceFileError, read_trace

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def _read(path: Path | None, role: str, limit_bytes: int = MAX_FILE_BYTES) -> InputFile | None:
    if path is None:
        return None
    try:
        size = path.stat().st_size
        if size > limit_bytes:
            raise ImportFileError(
                str(path),
                None,
                f"a {role} of at most {format_bytes(limit_bytes)}; it has {size:,} bytes",
            )
        return InputFile(str(path), path.read_bytes())
    except OSError as error:
        raise ImportFileError(
            str(path), None, f"a readable {role} file ({error.strerror or error})"
        ) from None


def store_trace(trace: Trace) -> str:
    """Store through the store module (the same database the web app uses); returns the run id."""
    from app.settings import Settings
    from app.store.db import make_engine
    from app.store.migrate import upgrade
    from app.store.runs import save_trace

    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        if settings.migrate_on_start:
            upgrade(engine)
        return save_trace(engine, trace, max_steps=settings.max_steps_per_run)
    finally:
        engine.dispose()


def _is_json(path: Path) -> bool:
    """The file starts with `{` (after a byte-order mark and white space): a migscope trace,
    never a QEMU trace log. False for a file that cannot be read (the log reader says why)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{")


def store_migscope_trace(path: Path) -> tuple[str, Trace, dict[str, object]]:
    """Read a migscope trace file and store it as a new run, unlisted, as the web upload does;
    returns the id, the trace and what it said about itself. TraceFileError or ImportFileError
    for a file that cannot be stored (nothing is stored then)."""
    from app.settings import Settings
    from app.store.db import make_engine
    from app.store.migrate import upgrade
    from app.store.runs import save_traces

    settings = Settings()
    # The stored-bytes budget per run bounds it too.
    read = _read(path, "migscope trace", trace_file_limit_bytes(settings.max_run_stored_bytes))
    assert read is not None
    upload = read_trace(str(path), read.data)
    trace = upload.trace
    if len(trace.steps) > settings.max_steps_per_run:
        raise ImportFileError(
            str(path),
            None,
            f"at most {settings.max_steps_per_run} steps per run (MIGSCOPE_MAX_STEPS_PER_RUN); "
            f"the trace has {len(trace.steps)}",
        )
    engine = make_engine(settings.database_url)
    try:
        if settings.migrate_on_start:
            upgrade(engine)
        [run_id] = save_traces(
            engine,
            [trace],
            max_steps=settings.max_steps_per_run,
            visibility="unlisted",
            every_pass=upload.every_pass,
            uploaded_file_name=path.name[:200],
        )
    finally:
        engine.dispose()
    origin: dict[str, object] = {
        "format": trace.format,
        "format_version": trace.format_version,
        "engine_version": trace.engine_version,
        "source": trace.source,
        "canonical": upload.canonical,
        "every_pass": upload.every_pass,
    }
    return run_id, trace, origin


def register(
    cli: typer.Typer, *, run_path: Callable[[str], str], summary_text: Callable[[Trace], str]
) -> None:
    """Add `migscope import`; `run_path(id)` is the run page's path, `summary_text(trace)` the
    readable summary `migscope simulate` prints."""

    @cli.command("import")
    def import_command(
        src: Annotated[Path, typer.Argument(help="source trace log (QEMU -trace ... -D file)")],
        dst: Annotated[Path | None, typer.Argument(help="destination trace log")] = None,
        query_migrate: Annotated[
            Path | None,
            typer.Option("--query-migrate", help="query-migrate samples, one JSON object per line"),
        ] = None,
        events: Annotated[
            Path | None, typer.Option("--events", help="source QMP events, one per line")
        ] = None,
        dst_events: Annotated[
            Path | None, typer.Option("--dst-events", help="destination QMP events, one per line")
        ] = None,
        info_migrate: Annotated[
            Path | None, typer.Option("--info-migrate", help="HMP `info migrate` text")
        ] = None,
        title: Annotated[
            str | None, typer.Option("--title", help="run title (default: from the file name)")
        ] = None,
        clock_offset_ms: Annotated[
            float | None,
            typer.Option(
                "--clock-offset-ms",
                help="destination clock minus source clock, if known (default: from messages seen on both sides)",
            ),
        ] = None,
        base_url: Annotated[
            str, typer.Option("--base-url", help="where `migscope serve` answers")
        ] = DEFAULT_BASE_URL,
        as_json: Annotated[
            bool, typer.Option("--json", help='print {"id", "url", "summary"} as JSON')
        ] = False,
    ) -> None:
        """Import a real QEMU migration (trace logs, query-migrate, QMP events, info migrate) and store it.
        A migscope trace (a run's export.json) given alone as SRC is stored back as the same run."""
        if _is_json(src):
            others = [
                name
                for name, value in (
                    ("DST", dst),
                    ("--query-migrate", query_migrate),
                    ("--events", events),
                    ("--dst-events", dst_events),
                    ("--info-migrate", info_migrate),
                    ("--title", title),
                    ("--clock-offset-ms", clock_offset_ms),
                )
                if value is not None
            ]
            if others:
                typer.echo(
                    f"migscope import: {src}: a migscope trace is imported alone (it carries its "
                    f"own title and times); leave out {', '.join(others)}",
                    err=True,
                )
                raise typer.Exit(code=2)
            try:
                run_id, trace, origin = store_migscope_trace(src)
            except (TraceFileError, ImportFileError) as error:
                hint = ""
                if isinstance(error, TraceFileError) and error.problems[0].kind in (
                    "json_invalid",
                    "not_a_trace",
                ):
                    # JSON lines as SRC are most likely samples or events given in the wrong place.
                    hint = (
                        " (SRC is a QEMU trace log, or a migscope trace given alone; query-migrate "
                        "samples and QMP events go in --query-migrate, --events, --dst-events)"
                    )
                typer.echo(f"migscope import: {error.message()}{hint}", err=True)
                raise typer.Exit(code=2) from None
            url = base_url.rstrip("/") + run_path(run_id)
            if as_json:
                summary = trace.summary.model_dump(mode="json")
                body = {"id": run_id, "url": url, "summary": summary, "trace": origin}
                typer.echo(json.dumps(body, indent=2))
                return
            typer.echo(summary_text(trace))
            typer.echo(
                f"  migscope trace    format {origin['format_version']}, engine "
                f"{origin['engine_version']}, source {origin['source']}"
                + ("" if origin["canonical"] else " (edited: not the export's exact bytes)")
            )
            typer.echo(url)
            return
        try:
            trace = import_files(
                src_trace=_read(src, "source trace log"),
                dst_trace=_read(dst, "destination trace log"),
                query_migrate=_read(query_migrate, "query-migrate file"),
                src_events=_read(events, "QMP event log"),
                dst_events=_read(dst_events, "QMP event log"),
                info_migrate=_read(info_migrate, "`info migrate` text"),
                title=title,
                clock_offset_ms=clock_offset_ms,
            )
        except ImportFileError as error:
            typer.echo(f"migscope import: {error.message()}", err=True)
            raise typer.Exit(code=2) from None
        from app.store.runs import TraceTooLarge

        try:
            run_id = store_trace(trace)
        except TraceTooLarge as error:
            typer.echo(f"migscope import: {src}: {error}", err=True)
            raise typer.Exit(code=2) from None
        url = base_url.rstrip("/") + run_path(run_id)
        if as_json:
            typer.echo(
                json.dumps(
                    {"id": run_id, "url": url, "summary": trace.summary.model_dump(mode="json")},
                    indent=2,
                )
            )
            return
        typer.echo(summary_text(trace))
        info = trace.import_info or {}
        clock = info.get("clock")
        if clock is not None:
            typer.echo(
                f"  clock offset      {clock['offset_ms']:+.3f} ms (destination - source): {clock['method']}"
            )
        typer.echo(
            f"  skipped lines     {info.get('skipped_lines_total', 0)}   ignored event lines {info.get('ignored_event_lines_total', 0)}"
        )
        typer.echo(url)
