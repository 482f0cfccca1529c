"""The run summary: the keys of `migscope simulate --json`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .trace import DeviceSummary, Summary

if TYPE_CHECKING:
    from .simulation import Simulation


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def build_summary(sim: Simulation) -> Summary:
    result = sim.result
    acks = [e.t_ms for e in sim.log.events if e.kind == "ack_received"]
    started = result.get("switchover_started_at_ms")
    before = [t for t in acks if started is None or t <= started + 1e-9]
    permitted = [e.t_ms for e in sim.log.events if e.kind == "switchover_permitted"]
    permitted_before = [t for t in permitted if started is None or t <= started + 1e-9]
    total = result.get("total_time_ms", sim.t)
    return Summary(
        status=result["status"],
        reason=result["reason"],
        total_time_ms=_r(total),
        setup_time_ms=_r(sim.src.setup_time_ms),
        downtime_ms=_r(result.get("downtime_ms")),
        guest_downtime_ms=_r(result.get("guest_downtime_ms")),
        downtime_limit_ms=sim.downtime_limit_ms,
        downtime_breakdown_ms=result.get("downtime_breakdown_ms", {}),
        dirty_sync_count=sim.src.dirty_sync_count,
        transferred_bytes=sim.src.transferred,
        vfio_transferred_bytes=sim.src.vfio_transferred,
        ack_received_at_ms=(before[-1] if before else None),
        switchover_permitted_at_ms=(permitted_before[-1] if permitted_before else None),
        switchover_started_at_ms=_r(started),
        passes=sim.src.passes,
        devices=[
            DeviceSummary(
                name=dev.name,
                preset=dev.spec.preset,
                precopy=dev.spec.precopy,
                initial_bytes=dev.spec.initial_bytes if dev.spec.precopy else 0,
                init_data_sent_at_ms=_r(dev.init_data_sent_at_ms),
                init_data_loaded_at_ms=_r(dev.init_data_loaded_at_ms)
                if dev.init_data_loaded_at_ms is not None
                and dev.init_data_loaded_at_ms <= total + 1e-9
                else None,
                precopy_bytes=dev.precopy_sent_bytes,
                stop_copy_bytes=dev.stopcopy_sent_bytes,
            )
            for dev in sim.devs
        ],
        actions_at_ms=[_r(t) for t in sim.actions_at_ms],
    )
