"""Engine commands of the CLI: simulate, schema, presets, examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from app.engine import Scenario, simulate
from app.engine.compare import compare_ack
from app.engine.examples import EXAMPLES, load_example
from app.engine.presets import PRESETS
from app.engine.scenario import scenario_json_schema
from app.engine.trace import Summary, Trace
from app.engine.units import format_bytes, format_ms
from app.settings import COLLAPSE_STORED_TRACES


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def validation_message(error: ValidationError, origin: str) -> str:
    lines = [f"{origin}: invalid scenario"]
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {path}: {item['msg']}")
    return "\n".join(lines)


def load_scenario(path: Path | None, example: str | None) -> Scenario:
    if (path is None) == (example is None):
        raise fail("give a scenario file or --example NAME (not both)")
    if example is not None:
        try:
            doc: Any = load_example(example)
        except KeyError as exc:
            raise fail(str(exc.args[0])) from None
        origin = f"example {example}"
    else:
        assert path is not None
        try:
            text = path.read_text()
        except OSError as exc:
            raise fail(f"{path}: cannot read: {exc.strerror}") from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise fail(
                f"{path}: line {exc.lineno} column {exc.colno}: not valid JSON: {exc.msg}"
            ) from None
        origin = str(path)
    try:
        return Scenario.model_validate(doc)
    except ValidationError as exc:
        raise fail(validation_message(exc, origin)) from None


def summary_json(trace: Trace) -> dict[str, Any]:
    return trace.summary.model_dump(mode="json")


def summary_text(trace: Trace) -> str:
    s: Summary = trace.summary
    lines = [
        f"{trace.title}  (QEMU profile {trace.qemu_profile})",
        f"  status            {s.status}: {s.reason}",
        f"  total time        {format_ms(s.total_time_ms)}   setup {format_ms(s.setup_time_ms)}   passes {s.passes}"
        f"   dirty syncs {s.dirty_sync_count}",
        f"  downtime (QEMU)   {format_ms(s.downtime_ms)}   guest-visible {format_ms(s.guest_downtime_ms)}"
        f"   limit {format_ms(s.downtime_limit_ms)}",
        f"  transferred       {format_bytes(s.transferred_bytes)}   of which VFIO device data {format_bytes(s.vfio_transferred_bytes)}",
        f"  ack received      {format_ms(s.ack_received_at_ms) if s.ack_received_at_ms is not None else 'never'}"
        f"   switchover permitted {format_ms(s.switchover_permitted_at_ms) if s.switchover_permitted_at_ms is not None else 'never'}"
        f"   switchover started {format_ms(s.switchover_started_at_ms) if s.switchover_started_at_ms is not None else 'never'}",
    ]
    for dev in s.devices:
        lines.append(
            f"  device {dev.name}: initial {format_bytes(dev.initial_bytes)}, INIT_DATA_SENT sent "
            f"{format_ms(dev.init_data_sent_at_ms) if dev.init_data_sent_at_ms is not None else 'never'}, loaded "
            f"{format_ms(dev.init_data_loaded_at_ms) if dev.init_data_loaded_at_ms is not None else 'never'}, "
            f"pre-copy {format_bytes(dev.precopy_bytes)}, stop-copy {format_bytes(dev.stop_copy_bytes)}"
        )
    if s.downtime_breakdown_ms:
        lines.append("  downtime breakdown:")
        for name, ms in sorted(s.downtime_breakdown_ms.items(), key=lambda kv: -kv[1]):
            lines.append(f"    {name:26s} {format_ms(ms):>10s}")
    for note in trace.notes:
        if not note.startswith("Simplified"):
            lines.append(f"  note: {note}")
    return "\n".join(lines)


def steps_shown(trace: Trace, every_pass: bool) -> str:
    """How the steps show the passes, in the run page's words (app/web/passes.py)."""
    from app.engine.trace import pass_step_count
    from app.web.passes import passes_shown

    return passes_shown(
        every_pass, trace.source, pass_step_count(trace.steps), trace.summary.passes
    )


def register(cli: typer.Typer) -> None:
    @cli.command("simulate")
    def simulate_command(
        scenario: Annotated[Path | None, typer.Argument(help="scenario JSON file")] = None,
        example: Annotated[
            str | None, typer.Option("--example", help="run a shipped example by name")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
        compare_ack_flag: Annotated[
            bool, typer.Option("--compare-ack", help="run with switchover-ack on and off")
        ] = False,
        steps: Annotated[
            bool, typer.Option("--steps", help="also print every step's decision")
        ] = False,
        trace_out: Annotated[
            Path | None, typer.Option("--trace", help="write the whole trace JSON here")
        ] = None,
        every_pass: Annotated[
            bool,
            typer.Option(
                "--every-pass",
                help="one step per pre-copy pass in --steps and --trace (default: runs of alike "
                "passes are one step that says how many it stands for; the summary is the same)",
            ),
        ] = False,
    ) -> None:
        """Simulate a migration scenario and print its summary."""
        if compare_ack_flag and (steps or trace_out is not None):
            raise fail(
                "--compare-ack prints the difference of two runs; --steps and --trace take one run "
                "(leave out --compare-ack, or run once with each setting)"
            )
        sc = load_scenario(scenario, example)
        if compare_ack_flag:
            on, off, diff = compare_ack(sc)
            if as_json:
                typer.echo(
                    json.dumps(
                        {
                            "ack_on": summary_json(on),
                            "ack_off": summary_json(off),
                            "difference": diff,
                        },
                        indent=2,
                    )
                )
            else:
                typer.echo("== switchover-ack ON ==\n" + summary_text(on))
                typer.echo(
                    "\n== switchover-ack OFF (capability removed at both ends) ==\n"
                    + summary_text(off)
                )
                typer.echo("\n== difference (on - off) ==")
                typer.echo(diff["sentence"])
            return
        trace = simulate(sc, collapse=COLLAPSE_STORED_TRACES and not every_pass)
        if trace_out is not None:
            trace_out.write_text(trace.to_json())
        if as_json:
            typer.echo(json.dumps(summary_json(trace), indent=2))
            return
        if steps:
            for step in trace.steps:
                typer.echo(
                    f"#{step.index:<5d} {step.t_ms:>10.1f} ms  {step.phase:15s} {step.decision.code:15s} "
                    f"{step.decision.reason}  [{step.decision.qemu_function}]"
                )
        typer.echo(summary_text(trace))
        typer.echo(f"  steps             {len(trace.steps):,}: {steps_shown(trace, every_pass)}")

    @cli.command("schema")
    def schema_command() -> None:
        """Print the scenario JSON Schema."""
        typer.echo(json.dumps(scenario_json_schema(), indent=2))

    @cli.command("presets")
    def presets_command(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        """List the device presets with the published/derived/estimate tag of every field."""
        if as_json:
            typer.echo(json.dumps({name: p.as_dict() for name, p in PRESETS.items()}, indent=2))
            return
        for preset in PRESETS.values():
            typer.echo(f"{preset.name}: {preset.title} [{preset.driver}]")
            for key, item in preset.fields.items():
                value = item.value
                shown = (
                    format_bytes(value)
                    if key.endswith("_bytes")
                    else (f"{format_bytes(value)}/s" if key.endswith("_bytes_per_s") else value)
                )
                typer.echo(f"    {key:24s} {shown!s:>14s}  {item.tag:9s} {item.source}")

    @cli.command("examples")
    def examples_command() -> None:
        """List the shipped example scenarios."""
        for name, doc in EXAMPLES.items():
            typer.echo(f"{name:28s} {doc.get('title', '')}")

    @cli.command("fidelity")
    def fidelity_command(
        as_json: Annotated[bool, typer.Option("--json", help="print the rows as JSON")] = False,
    ) -> None:
        """Check the engine against real QEMU runs, published figures and mechanisms; exit 1 if a check fails."""
        from app.fidelity import exit_code, fidelity_rows, format_table

        rows = fidelity_rows()
        if as_json:
            typer.echo(json.dumps([row.as_dict() for row in rows], indent=2))
        else:
            typer.echo(format_table(rows))
        code = exit_code(rows)
        if code:
            raise typer.Exit(code=code)
