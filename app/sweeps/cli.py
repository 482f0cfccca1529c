"""`migscope sweep`: a parameter sweep from the command line (docs/sweeps.md)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any

import typer

from .limits import DEFAULT_MAX_STEPS_PER_POINT, MAX_POINTS_CLI


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


class _Bar:
    """Points done, rate and time left, on stderr (stdout stays clean for pipes)."""

    def __init__(self, total: int, already: int = 0, enabled: bool = True) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.start = time.monotonic()
        self.done = 0
        self.progress = Progress(
            TextColumn("sweep"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("points"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=not enabled,
            transient=False,
        )
        self.task = self.progress.add_task("sweep", total=total, completed=already, rate="")

    def __enter__(self) -> _Bar:  # noqa: PYI034
        self.progress.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.__exit__(exc_type, exc, tb)

    def advance(self, n: int) -> None:
        self.done += n
        rate = self.done / max(time.monotonic() - self.start, 1e-9)
        self.progress.update(self.task, advance=n, rate=f"{rate:,.1f} points/s")


def _print_findings(rows: list[tuple[str, str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="What the sweep found", show_lines=False)
    table.add_column("finding")
    table.add_column("detail")
    for finding, detail in rows:
        table.add_row(finding, detail)
    Console().print(table)


def register(cli: typer.Typer) -> None:
    @cli.command("sweep")
    def sweep_command(
        base: Annotated[Path | None, typer.Argument(help="base scenario JSON file")] = None,
        vary: Annotated[
            list[str] | None,
            typer.Option(
                "--vary",
                help="PATH=A..B[:log][:N] or PATH=v1,v2,... (1 to 3 times), e.g. guest.ram_bytes=1GiB..64GiB:log:12",
            ),
        ] = None,
        example: Annotated[
            str | None, typer.Option("--example", help="use a shipped example as the base")
        ] = None,
        compare_ack: Annotated[
            bool,
            typer.Option("--compare-ack", help="run every point with switchover-ack on and off"),
        ] = False,
        workers: Annotated[
            int | None,
            typer.Option(
                "--workers", help="local worker processes (default: every core; 1 = this process)"
            ),
        ] = None,
        executor_name: Annotated[str, typer.Option("--executor", help="local or dask")] = "local",
        scheduler: Annotated[
            str | None, typer.Option("--scheduler", help="Dask scheduler address, tcp://HOST:PORT")
        ] = None,
        out: Annotated[
            Path | None, typer.Option("--out", help="write every point to FILE.csv or FILE.json")
        ] = None,
        max_steps: Annotated[
            int,
            typer.Option(
                "--max-steps",
                help="engine steps per run (a point that reaches it ends as cancelled)",
            ),
        ] = DEFAULT_MAX_STEPS_PER_POINT,
        store: Annotated[
            bool,
            typer.Option(
                "--store",
                help="keep the sweep in the database (DATABASE_URL) so it can be resumed and opened in the browser",
            ),
        ] = False,
        resume: Annotated[
            str | None,
            typer.Option(
                "--resume", help="resume a stored sweep by id (runs the points not stored yet)"
            ),
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
    ) -> None:
        """Simulate a grid of scenarios around a base one and summarise where the ack pays off."""
        from app.engine_cli import load_scenario

        from .executors import make_executor
        from .findings import findings_lines
        from .plan import plan_sweep
        from .run import run_all
        from .vary import VaryError

        if out is not None and out.suffix.lower() not in (".csv", ".json"):
            raise _fail(f"--out {out}: the file name must end in .csv or .json")
        if not 20 <= max_steps <= 200_000:
            raise _fail("--max-steps must be between 20 and 200000")
        if resume is not None:
            if base is not None or example is not None or vary:
                raise _fail("--resume takes no scenario and no --vary (the stored sweep has them)")
            plan, sweep_id = _load_stored(resume)
        else:
            scenario = load_scenario(base, example)
            try:
                plan = plan_sweep(
                    scenario,
                    vary or [],
                    compare_ack=compare_ack,
                    max_points=MAX_POINTS_CLI,
                    max_steps=max_steps,
                )
            except VaryError as error:
                raise _fail(str(error)) from None
            sweep_id = None
        try:
            # fork: this process has the engine loaded and one thread; the workers start now,
            # before the progress bar's thread (LocalExecutor falls back to a fork server).
            executor = make_executor(executor_name, workers, scheduler, start_method="fork")
        except ValueError as error:
            raise _fail(str(error)) from None
        except OSError as error:
            first_line = (str(error).splitlines() or [type(error).__name__])[0]
            raise _fail(f"cannot reach the Dask scheduler {scheduler}: {first_line}") from None
        try:
            if store or resume is not None:
                results = _run_stored(plan, sweep_id, vary or [], executor, quiet)
            else:
                with _Bar(plan.point_count, enabled=not quiet) as bar:
                    results = run_all(plan, executor, progress=bar.advance)
        finally:
            executor.close()
        if out is not None:
            from .output import to_csv, to_json

            out.write_text(
                to_json(plan, results) if out.suffix.lower() == ".json" else to_csv(plan, results)
            )
            typer.echo(f"wrote {len(results)} points to {out}", err=True)
        _print_findings(findings_lines(plan, results))


def _load_stored(sweep_id: str) -> tuple[Any, str]:
    from sqlmodel import Session

    from app.settings import Settings
    from app.store.db import make_engine
    from app.store.migrate import upgrade
    from app.store.sweeps import get_sweep, plan_of

    engine = make_engine(Settings().database_url)
    upgrade(engine)
    with Session(engine) as session:
        sweep = get_sweep(session, sweep_id)
        if sweep is None:
            raise _fail(f"--resume {sweep_id}: no such sweep in the database")
        if sweep.status not in ("queued", "running", "cancelled"):
            raise _fail(f"--resume {sweep_id}: the sweep is {sweep.status}; nothing to resume")
        plan = plan_of(sweep)
    engine.dispose()
    return plan, sweep_id


def _run_stored(
    plan: Any, sweep_id: str | None, vary: list[str], executor: Any, quiet: bool
) -> Any:
    from sqlmodel import Session

    from app.settings import Settings
    from app.store.db import make_engine
    from app.store.migrate import upgrade
    from app.store.sweeps import (
        create_sweep,
        done_indices,
        point_results,
        run_stored_sweep,
        set_status,
    )

    engine = make_engine(Settings().database_url)
    upgrade(engine)
    try:
        if sweep_id is None:
            sweep_id = create_sweep(engine, plan, vary, source="cli")
        else:
            # The user asked for this one: a cancelled or abandoned sweep runs again.
            set_status(engine, sweep_id, "queued", only_from=("running", "cancelled"))
        typer.echo(f"sweep {sweep_id} (resume with: migscope sweep --resume {sweep_id})", err=True)
        with Session(engine) as session:
            already = len(done_indices(session, sweep_id))
        with _Bar(plan.point_count, already=already, enabled=not quiet) as bar:
            status = run_stored_sweep(
                engine, sweep_id, executor, owner=f"cli-{os.getpid()}", progress=bar.advance
            )
        if status != "completed":
            typer.echo(f"sweep {sweep_id} ended {status}", err=True)
        with Session(engine) as session:
            return point_results(session, sweep_id)
    finally:
        engine.dispose()
