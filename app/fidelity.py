"""How far to trust the engine: every check of the engine against something outside it.

`fidelity_rows()` runs the checks and returns one `FidelityRow` per check: what is checked,
the reference value and where it comes from (a real QEMU fixture run, a published figure,
or a mechanism QEMU's and the drivers' code imply), the engine's value, and whether the
engine is within the stated tolerance. Each row carries the scenario(s) it ran, so another
layer can store the runs behind a row. Pure and deterministic: no I/O but reading the
fixture files.

`migscope fidelity` prints the rows as one table and exits non-zero when a row fails;
tests/test_fidelity.py fails `make test` the same way.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from app.engine import Scenario, simulate
from app.engine.compare import scenario_with_ack
from app.engine.devices import DeviceRuntime
from app.engine.examples import load_example
from app.engine.scenario import DeviceSpec, resolve_device
from app.engine.trace import Summary

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "qemu"
KERNEL_FOOTPRINT_MIB = 70  # fixtures README: "the kernel and initramfs add roughly 60-75 MiB"
SourceKind = Literal["fixture run", "published figure", "mechanism"]

_COVER = "switchover-ack cover letter, qemu-devel, Jun 2023"
_ORACLE = "Oracle downtime breakdown, qemu-devel, Jul 2024"
_REDHAT = "Red Hat QE downtime breakdown, 2024"


@dataclass(frozen=True)
class FidelityRow:
    check: str
    source_kind: SourceKind
    source: str
    reference: str
    engine: str
    passed: bool
    scenario: dict[str, Any]
    # A second scenario when the check compares two runs (e.g. switchover-ack off).
    compare_scenario: dict[str, Any] | None = None
    reference_value: float | None = None
    engine_value: float | None = None
    tolerance: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "source_kind": self.source_kind,
            "source": self.source,
            "reference": self.reference,
            "engine": self.engine,
            "passed": self.passed,
            "tolerance": self.tolerance,
            "reference_value": self.reference_value,
            "engine_value": self.engine_value,
            "scenario": self.scenario,
            "compare_scenario": self.compare_scenario,
        }


def _run(doc: dict[str, Any]) -> Summary:
    return simulate(Scenario.model_validate(doc)).summary


def _within(value: float | None, reference: float, rel: float) -> bool:
    return value is not None and abs(value - reference) <= rel * abs(reference)


# ----------------------------------------------------------------- fixture runs
def fixture_scenario(info: dict[str, Any]) -> dict[str, Any]:
    """The engine scenario that replicates one real run (fixtures README): a TCG guest
    cycling one write per page through W MiB at R pages/s, on loopback TCP."""
    w = info["dirtier_working_set_mib"]
    return {
        "title": f"replica of real QEMU run {info.get('name', '')}".strip(),
        "qemu_profile": "10.0",
        "guest": {
            "ram_bytes": f"{info['guest_ram_mib']} MiB",
            "dirty_rate_bytes_per_s": info["dirtier_rate_pages_per_s"] * 4096,
            "working_set_bytes": f"{w} MiB",
            "zero_page_fraction": 1 - (w + KERNEL_FOOTPRINT_MIB) / info["guest_ram_mib"],
            "dirty_pattern": "sequential",
            # A 1-vCPU TCG guest without devices stops and starts in about a millisecond.
            "vm_stop_ms": 1.0,
            "vm_stop_ms_per_vcpu": 0.0,
            "vm_start_ms": 1.0,
        },
        "link": {"bandwidth_bytes_per_s": "10 Gbit", "latency_ms": 0.05},
        "params": {
            "downtime_limit_ms": info["downtime_limit_ms"],
            "max_bandwidth_bytes_per_s": info["max_bandwidth_bytes_per_s"],
        },
        "caps": {
            "source": info["capabilities_both_sides"],
            "destination": info["capabilities_both_sides"],
        },
        "max_time_ms": 30000,
    }


def _replies(fixtures: Path, name: str) -> list[dict[str, Any]]:
    lines = (fixtures / f"{name}.query-migrate.jsonl").read_text().strip().splitlines()
    return [json.loads(line)["return"] for line in lines]


def fixture_rows(fixtures: Path = FIXTURES) -> list[FidelityRow]:
    rows: list[FidelityRow] = []
    for info_path in sorted(fixtures.glob("*.info.json")):
        name = info_path.name[: -len(".info.json")]
        info = json.loads(info_path.read_text())
        doc = fixture_scenario({**info, "name": name})
        s = _run(doc)
        replies = _replies(fixtures, name)
        final = replies[-1]
        # A cancelled run's last reply has no counters: use the last one that has.
        last_ram = next(r for r in reversed(replies) if "ram" in r)
        src = f"{name} (QEMU 10.0.2)"

        def row(
            check: str,
            ref: str,
            eng: str,
            ok: bool,
            tol: str,
            rv: float | None,
            ev: float | None,
            _doc: dict[str, Any] = doc,
            _src: str = src,
        ) -> FidelityRow:
            return FidelityRow(check, "fixture run", _src, ref, eng, ok, _doc, None, rv, ev, tol)

        rows.append(
            row(
                f"{name}: outcome",
                final["status"],
                s.status,
                s.status == final["status"],
                "equal",
                None,
                None,
            )
        )
        if final["status"] == "completed":
            real_ms = float(final["total-time"])
            rows.append(
                row(
                    f"{name}: total time",
                    f"{real_ms:.0f} ms",
                    f"{s.total_time_ms:.0f} ms",
                    _within(s.total_time_ms, real_ms, 0.15),
                    "15%",
                    real_ms,
                    s.total_time_ms,
                )
            )
        else:
            real_ms = float(last_ram["total-time"])
            rows.append(
                row(
                    f"{name}: ran until cancelled",
                    f"{real_ms:.0f} ms",
                    f"{s.total_time_ms:.0f} ms",
                    s.total_time_ms is not None and s.total_time_ms >= 30000,
                    ">= 30000 ms",
                    real_ms,
                    s.total_time_ms,
                )
            )
        syncs = int(last_ram["ram"]["dirty-sync-count"])
        rows.append(
            row(
                f"{name}: dirty syncs",
                str(syncs),
                str(s.dirty_sync_count),
                s.dirty_sync_count is not None and abs(s.dirty_sync_count - syncs) <= 1,
                "within 1",
                float(syncs),
                float(s.dirty_sync_count or 0),
            )
        )
        sent = float(last_ram["ram"]["transferred"])
        rows.append(
            row(
                f"{name}: bytes sent",
                f"{sent / 2**20:.1f} MiB",
                f"{(s.transferred_bytes or 0) / 2**20:.1f} MiB",
                _within(s.transferred_bytes, sent, 0.10),
                "10%",
                sent,
                float(s.transferred_bytes or 0),
            )
        )
    return rows


# ----------------------------------------------------------------- published figures
def mlx5_scenario(ram: str, link: str, avail: str | None = "10 Gbit") -> dict[str, Any]:
    """The mechanism scenario of issue 8: one mlx5 300 MB VF, a guest writing 16 MiB/s."""
    params: dict[str, Any] = {"max_bandwidth_bytes_per_s": "10 GiB", "downtime_limit_ms": 300}
    if avail is not None:
        params["avail_switchover_bandwidth_bytes_per_s"] = avail
    return {
        "title": f"mlx5 300 MB VF, {ram} guest, {link}",
        "qemu_profile": "10.1",
        "guest": {
            "ram_bytes": ram,
            "zero_page_fraction": 0.5,
            "dirty_rate_bytes_per_s": "16 MiB",
            "working_set_bytes": "64 MiB" if ram == "256 MiB" else "256 MiB",
        },
        "link": {"bandwidth_bytes_per_s": link},
        "params": params,
        "devices": [{"name": "0000:3b:00.1", "preset": "mlx5-cx7-vf-300mb"}],
        "max_time_ms": 30000,
    }


def _on_off_docs(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    sc = Scenario.model_validate(doc)
    on = scenario_with_ack(sc, True).model_dump(mode="json")
    off = scenario_with_ack(sc, False).model_dump(mode="json")
    return on, off


def published_rows() -> list[FidelityRow]:
    rows: list[FidelityRow] = []
    on_doc, off_doc = _on_off_docs(mlx5_scenario("2 GiB", "25 Gbit"))
    on, off = _run(on_doc), _run(off_doc)
    moved = (off.downtime_ms or 0.0) - (on.downtime_ms or 0.0)
    rows.append(
        FidelityRow(
            "ack moves the mlx5 300 MB initial-image load out of downtime (off-on)",
            "published figure",
            _COVER,
            "1480 ms",
            f"{moved:.0f} ms",
            _within(moved, 1480.0, 0.25),
            on_doc,
            off_doc,
            1480.0,
            moved,
            "25%",
        )
    )

    vf100 = {"name": "0000:3b:00.1", "preset": "mlx5-cx7-vf-100mib"}
    dev = DeviceRuntime.create(resolve_device(DeviceSpec.model_validate(vf100)), p2p_states=True)
    dev.start_final_save(0.0)
    save_ms = dev.final_ready_ms or 0.0
    one_vf = copy.deepcopy(load_example("multifd-1-vf"))
    for side in ("source", "destination"):
        one_vf["caps"][side] = [c for c in one_vf["caps"][side] if c != "multifd"]
    s = _run(one_vf)
    rows.append(
        FidelityRow(
            "stop-copy SAVE of a ~100 MiB mlx5 VF",
            "published figure",
            _ORACLE,
            "125-225 ms",
            f"{save_ms:.0f} ms",
            125.0 <= save_ms <= 225.0,
            one_vf,
            None,
            175.0,
            save_ms,
            "in range",
        )
    )
    load_ms = s.downtime_breakdown_ms.get("dest_load_device_data", 0.0)
    rows.append(
        FidelityRow(
            "stop-copy LOAD of a ~100 MiB mlx5 VF, inside the downtime",
            "published figure",
            _ORACLE,
            "214-240 ms",
            f"{load_ms:.0f} ms",
            214.0 <= load_ms <= 240.0,
            one_vf,
            None,
            227.0,
            load_ms,
            "in range",
        )
    )
    config_ms = s.downtime_breakdown_ms.get("dest_load_device_config", 0.0)
    rows.append(
        FidelityRow(
            "loading a VF's config (non-iterable) state",
            "published figure",
            _ORACLE,
            "~110 ms",
            f"{config_ms:.0f} ms",
            _within(config_ms, 110.0, 0.10),
            one_vf,
            None,
            110.0,
            config_ms,
            "10%",
        )
    )

    two_vfs = copy.deepcopy(load_example("multifd-2-vfs"))
    two_vfs["guest"]["vcpus"] = 8
    s = _run(two_vfs)
    stop_ms = s.downtime_breakdown_ms.get("vm_stop", 0.0)
    rows.append(
        FidelityRow(
            "VM stop, guest with two VFs (8 vCPUs assumed)",
            "published figure",
            _ORACLE,
            "~128 ms",
            f"{stop_ms:.0f} ms",
            _within(stop_ms, 128.0, 0.15),
            two_vfs,
            None,
            128.0,
            stop_ms,
            "15%",
        )
    )
    big = {
        "title": "384-vCPU guest without devices",
        "qemu_profile": "10.1",
        "guest": {
            "ram_bytes": "64 GiB",
            "vcpus": 384,
            "working_set_bytes": "1 GiB",
            "dirty_rate_bytes_per_s": "16 MiB",
        },
        "params": {"max_bandwidth_bytes_per_s": "10 GiB"},
        "link": {"bandwidth_bytes_per_s": "100 Gbit"},
        "max_time_ms": 60000,
    }
    s = _run(big)
    stop_ms = s.downtime_breakdown_ms.get("vm_stop", 0.0)
    rows.append(
        FidelityRow(
            "VM stop, 384-vCPU guest",
            "published figure",
            _REDHAT,
            "~268 ms",
            f"{stop_ms:.0f} ms",
            _within(stop_ms, 268.0, 0.15),
            big,
            None,
            268.0,
            stop_ms,
            "15%",
        )
    )
    return rows


# ----------------------------------------------------------------- mechanisms
def _mechanism(
    check: str,
    source: str,
    reference: str,
    measure: Callable[[], tuple[str, bool, float | None]],
    doc: dict[str, Any],
    other: dict[str, Any] | None = None,
    ref_value: float | None = None,
    tol: str = "",
) -> FidelityRow:
    engine, ok, value = measure()
    return FidelityRow(
        check, "mechanism", source, reference, engine, ok, doc, other, ref_value, value, tol
    )


def mechanism_rows() -> list[FidelityRow]:
    rows: list[FidelityRow] = []
    on_doc, off_doc = _on_off_docs(mlx5_scenario("16 GiB", "25 Gbit"))

    def ram_round_longer() -> tuple[str, bool, float | None]:
        on, off = _run(on_doc), _run(off_doc)
        a, b = on.downtime_ms or 0.0, off.downtime_ms or 0.0
        return f"on {a:.0f} ms, off {b:.0f} ms", _within(a, b, 0.10), a - b

    rows.append(
        _mechanism(
            "16 GiB guest: the RAM round outlasts the image load, ack changes nothing",
            "mlx5vf_cmd_load_vhca_state",
            "downtime on = off (10%)",
            ram_round_longer,
            on_doc,
            off_doc,
            0.0,
            "10%",
        )
    )

    never_doc = load_example("ack-without-avail-bw-never-converges")

    def never() -> tuple[str, bool, float | None]:
        s = _run(never_doc)
        return s.status, s.status == "cancelled" and "avail-switchover-bandwidth" in s.reason, None

    rows.append(
        _mechanism(
            "ack on, no avail-switchover-bandwidth: stall, never converges",
            "migration_update_counters",
            "cancelled",
            never,
            never_doc,
        )
    )

    four = load_example("multifd-4-vfs")
    serial_four = copy.deepcopy(four)
    for side in ("source", "destination"):
        serial_four["caps"][side] = [c for c in serial_four["caps"][side] if c != "multifd"]

    def multifd() -> tuple[str, bool, float | None]:
        a, b = _run(four).downtime_ms or 0.0, _run(serial_four).downtime_ms or 0.0
        return f"multifd {a:.0f} ms, main channel {b:.0f} ms", a < 0.5 * b, a / b if b else None

    rows.append(
        _mechanism(
            "4 VFs: multifd loads in parallel, the main channel one by one",
            "vfio_multifd_save_complete_precopy_thread",
            "multifd < half",
            multifd,
            four,
            serial_four,
            0.5,
            "< 0.5x",
        )
    )

    old_doc, new_doc = load_example("reinit-10.2"), load_example("reinit-2026")

    def reinit() -> tuple[str, bool, float | None]:
        diff = (_run(old_doc).downtime_ms or 0.0) - (_run(new_doc).downtime_ms or 0.0)
        return f"{diff:.0f} ms", _within(diff, 900.0, 0.10), diff

    rows.append(
        _mechanism(
            "REINIT: 10.2 loads the new state in the downtime, 2026 re-acks it",
            "VFIO_PRECOPY_INFO_REINIT",
            "900 ms",
            reinit,
            old_doc,
            new_doc,
            900.0,
            "10%",
        )
    )

    loop_doc = mlx5_scenario("256 MiB", "100 Gbit")
    loop_doc["devices"][0]["initial_bytes"] = "1 MiB"

    def no_zero_time_loop() -> tuple[str, bool, float | None]:
        s = _run(loop_doc)
        ok = s.status == "completed" and (s.passes or 0) < 5000
        return f"{s.status}, {s.passes} passes", ok, float(s.passes or 0)

    rows.append(
        _mechanism(
            "marker-only passes advance time (1 MiB initial image)",
            "migration_thread busy loop",
            "completes after the ack",
            no_zero_time_loop,
            loop_doc,
        )
    )
    return rows


def fidelity_rows(fixtures: Path = FIXTURES) -> list[FidelityRow]:
    """Every fidelity check, in table order."""
    return fixture_rows(fixtures) + published_rows() + mechanism_rows()


def format_table(rows: list[FidelityRow]) -> str:
    headers = ("check", "reference", "source", "engine", "result")
    body = [
        (
            r.check,
            r.reference,
            f"{r.source_kind}: {r.source}",
            r.engine,
            "pass" if r.passed else "FAIL",
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(headers), line(tuple("-" * w for w in widths))]
    out += [line(b) for b in body]
    failed = sum(1 for r in rows if not r.passed)
    out.append(
        f"{len(rows) - failed} of {len(rows)} checks pass" + (f"; {failed} FAIL" if failed else "")
    )
    return "\n".join(out)


def exit_code(rows: list[FidelityRow]) -> int:
    return 0 if all(r.passed for r in rows) else 1
