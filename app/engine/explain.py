"""Sentences a student can read: why a gate holds, why the thread did what it did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .trace import Gate
from .units import format_bytes as fmt_b

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .devices import DeviceRuntime
    from .simulation import Simulation
    from .stream import Record

__all__ = [
    "GateInputs",
    "ack_gate_detail",
    "fmt_b",
    "gate_inputs",
    "gate_texts",
    "ram_gate_detail",
    "stall_text",
]


@dataclass(frozen=True)
class GateInputs:
    """What the gate texts of one pass read, taken when the gates are checked: a
    summary-only run keeps these and writes the texts only if the run ends on them."""

    t: float
    estimate: int
    exact: int | None
    thr: float
    ram_ok: bool
    can: bool
    ram_bytes: int
    vm_running: bool
    ack_arrival_ms: float | None
    # Per device: (ack arrival, initial bytes loaded at, INIT_DATA_SENT written, init_est,
    # initial bytes in total).
    devices: tuple[tuple[float | None, float | None, bool, int, int], ...]
    loading: Record | None


def gate_inputs(
    sim: Simulation, estimate: int, exact: int | None, thr: float, ram_ok: bool, can: bool
) -> GateInputs:
    t = sim.t
    return GateInputs(
        t,
        estimate,
        exact,
        thr,
        ram_ok,
        can,
        sim.ram.remaining_bytes,
        sim.src.vm_running,
        sim.rp.ack_arrival_ms,
        device_gate_inputs(sim.devs),
        sim.main.loading_at(t) if sim.devs else None,
    )


def device_gate_inputs(
    devs: Sequence[DeviceRuntime],
) -> tuple[tuple[float | None, float | None, bool, int, int], ...]:
    """What the gates read of each device (GateInputs.devices); init_est is QEMU's cached
    estimate, the one the last pass's gates saw."""
    return tuple(
        (
            d.ack_arrival_ms,
            d.init_data_loaded_at_ms,
            d.initial_data_sent,
            d.init_est,
            d.initial_total_bytes,
        )
        for d in devs
    )


def ram_gate_detail(sim: Simulation, g: GateInputs) -> str:
    estimate, exact, thr, ok = g.estimate, g.exact, g.thr, g.ram_ok
    le = sim.profile.complete_le
    if thr <= 0 and estimate > 0:
        return (
            f"threshold is 0 (no bandwidth measured yet): estimate {fmt_b(estimate)} cannot fit; "
            "the first window closes 100 ms after migrate"
        )
    if exact is None:
        op = "<=" if sim.profile.exact_trigger_le else "<"
        if ok:
            return f"estimate {fmt_b(estimate)} is 0: nothing pending"
        return (
            f"pending estimate {fmt_b(estimate)} is not {op} threshold {fmt_b(thr)}: the exact query is not taken "
            "(estimate = RAM bitmap + VFIO pre-copy init+dirty, no stop-copy size)"
        )
    ram = g.ram_bytes
    devices = exact - ram
    parts = f"RAM {fmt_b(ram)}" + (
        f" + devices {fmt_b(devices)} (stop_copy_length"
        + (
            " + init + dirty, the 8.1-9.1 double count"
            if sim.profile.vfio_exact_double_count
            else ""
        )
        + ")"
        if sim.devs
        else ""
    )
    if ok:
        return (
            f"exact pending {fmt_b(exact)} ({parts}) {'<=' if le else '<'} threshold {fmt_b(thr)}"
        )
    text = f"exact pending {fmt_b(exact)} ({parts}) > threshold {fmt_b(thr)}: keep iterating"
    if devices > thr and not sim.window.avail_bw_bytes_per_s:
        text += (
            f"; the devices' reported stop-copy size alone ({fmt_b(devices)}) exceeds a threshold taken from the "
            "measured bandwidth, so unless more is sent per window this never converges: set "
            "avail-switchover-bandwidth to the bandwidth really available at switchover"
        )
    return text


def ack_gate_detail(sim: Simulation, g: GateInputs) -> str:
    t, can = g.t, g.can
    if not sim.src_ack:
        return "switchover-ack is off on the source: nothing to wait for"
    if not g.vm_running:
        return "the guest is not running: migration_can_switchover does not wait for the ack"
    if can:
        if sim.profile.reusable_ack and any(d.needs_ack for d in sim.devs):
            return "every device needing an ack has a valid ack (per-device acks, proposed 2026)"
        return f"ack received at {g.ack_arrival_ms or 0.0:.1f} ms (latched until the end)"
    if not sim.dst_ack:
        return "waiting for the ack, but the destination does not have switchover-ack on: it never acks"
    needing = [(d, state) for d, state in zip(sim.devs, g.devices, strict=True) if d.needs_ack]
    if not needing:
        return "waiting for the ack the destination sends when it opens the return path"
    waiting = []
    for dev, (ack_arrival_ms, loaded_at_ms, initial_data_sent, init_est, initial_total) in needing:
        if sim.profile.reusable_ack and ack_arrival_ms is not None and ack_arrival_ms <= t:
            continue
        _, init_loaded = sim.device_loaded(dev.name, t)
        not_loaded = initial_total - init_loaded
        if loaded_at_ms is not None and loaded_at_ms <= t:
            waiting.append(
                f"{dev.name} has loaded its initial bytes; its ack is on the return path"
            )
        elif not initial_data_sent:
            waiting.append(
                f"{dev.name} has {fmt_b(not_loaded)} of initial bytes not yet loaded at the destination "
                f"({fmt_b(init_est)} not yet sent, as QEMU counts)"
            )
        elif (
            (loading := g.loading) is not None
            and loading.device == dev.name
            and loading.kind == "vfio_init"
        ):
            done_ms = t - loading.load_start_ms
            waiting.append(
                f"{dev.name}'s initial image is complete at the destination and being loaded "
                f"({done_ms:.0f} of {loading.load_end_ms - loading.load_start_ms:.0f} ms, one synchronous "
                "mlx5vf_cmd_load_vhca_state); INIT_DATA_SENT is queued behind it"
            )
        else:
            waiting.append(
                f"{dev.name} has {fmt_b(not_loaded)} of initial bytes not yet loaded at the destination "
                "(all sent; INIT_DATA_SENT queued behind them)"
            )
    return "waiting for the ack: " + "; ".join(waiting)


def gate_texts(gates: list[Gate], switch: bool) -> str:
    if switch:
        return (
            "Both gates open ("
            + "; ".join(g.detail for g in gates)
            + "): stop the VM and switch over."
        )
    closed = [g for g in gates if not g.open]
    opened = [g for g in gates if g.open]
    text = "Switchover held: " + "; ".join(g.detail for g in closed) + "."
    if opened:
        text += " Open: " + "; ".join(g.detail for g in opened) + "."
    return text


def stall_text(sim: Simulation, can: bool) -> str:
    """When the destination is busy with a long image load while the source waits for the
    ack, say what that does to the source and to the threshold (the surprising part)."""
    if can:
        return ""
    record = sim.main.loading_at(sim.t)
    if (
        record is None
        or not record.kind.startswith("vfio_")
        or record.load_end_ms - record.load_start_ms < 50.0
    ):
        return ""
    text = (
        f"The destination is loading {record.device}'s image ({record.load_end_ms - record.load_start_ms:.0f} ms "
        "in one synchronous mlx5vf_cmd_load_vhca_state): its load loop is blocked, the channel backs up, the "
        "source's writes block, and the bandwidth QEMU measures falls towards the guest's dirty rate."
    )
    if not sim.window.avail_bw_bytes_per_s:
        text += (
            " The threshold follows that collapsed bandwidth, so after the ack the reported stop-copy size may "
            "never fit again: this is what avail-switchover-bandwidth is for."
        )
    return text
