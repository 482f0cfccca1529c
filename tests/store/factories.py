"""Hand-built traces for store and API tests that must not depend on engine behaviour."""

from __future__ import annotations

from app.engine.trace import (
    Decision,
    DeviceStep,
    DeviceSummary,
    Event,
    Gate,
    Step,
    Summary,
    Trace,
)

MiB = 1024**2


def make_device_step(name: str, index: int, n_steps: int) -> DeviceStep:
    left = max(n_steps - index - 1, 0)
    return DeviceStep(
        name=name,
        src_state="PRE_COPY" if left else "STOP_COPY",
        dst_state="RESUMING",
        init_est_bytes=left * MiB,
        dirty_est_bytes=(index % 3) * MiB,
        init_kernel_bytes=left * MiB,
        dirty_kernel_bytes=(index % 3) * MiB,
        stop_copy_length_bytes=16 * MiB,
        sent_bytes=index * MiB,
        loaded_bytes=index * MiB,
        init_loaded_bytes=index * MiB,
        init_data_sent=left == 0,
        init_data_loaded=left == 0,
    )


def make_step(index: int, n_steps: int, devices: tuple[str, ...]) -> Step:
    last = index == n_steps - 1
    return Step(
        index=index,
        t_ms=index * 100.0,
        end_ms=index * 100.0 + 100.0,
        phase="setup" if index == 0 else ("completed" if last else "iterate"),
        status="completed" if last else "active",
        vm_running=not last,
        dst_vm_running=last,
        ram_remaining_bytes=(n_steps - index) * 10 * MiB + (index % 7) * 1000,
        ram_dirty_unsynced_bytes=index * 4096,
        dirty_sync_count=index,
        bandwidth_bytes_per_s=None if index == 0 else 125_000_000.0 + index,
        threshold_bytes=None if index == 0 else 37_500_000.0,
        pending_estimate_bytes=(n_steps - index) * 11 * MiB,
        pending_exact_bytes=None,
        expected_downtime_ms=300.0 / (index + 1),
        can_switchover=last,
        switchover_acked=index > n_steps // 2,
        transferred_bytes=index * 12 * MiB,
        ram_transferred_bytes=index * 10 * MiB,
        vfio_transferred_bytes=index * 2 * MiB,
        loaded_bytes=index * 12 * MiB,
        in_flight_bytes=4096,
        pass_sent_bytes=12 * MiB,
        devices=[make_device_step(name, index, n_steps) for name in devices],
        gates=[
            Gate(
                name="ram_threshold", open=last, detail="RAM above threshold" if not last else "ok"
            ),
            Gate(name="switchover_ack", open=index > n_steps // 2, detail="waiting for ack"),
        ],
        decision=Decision(
            code="switchover" if last else "keep_iterating",
            reason=f"step {index}: pending above threshold",
            qemu_function="migration_iteration_run",
        ),
    )


def make_events(n_steps: int, devices: tuple[str, ...]) -> list[Event]:
    events: list[Event] = [
        Event(
            t_ms=0.0,
            step=0,
            kind="status",
            side="source",
            detail="setup",
            data={"from": "none", "to": "setup"},
        )
    ]
    for step in range(1, n_steps):
        events.append(
            Event(
                t_ms=step * 100.0 + 100.0,
                step=step,
                kind="window",
                side="source",
                detail="bandwidth window closed",
                data={"bandwidth_bytes_per_s": 125_000_000.0, "threshold_bytes": 37_500_000.0},
            )
        )
    half = max(n_steps // 2, 0)
    # Each device sends INIT_DATA_SENT, then the destination's ack arrives, halfway through.
    per_device = (
        (10.0, "init_data_sent", "INIT_DATA_SENT", "vfio_save_iterate"),
        (20.0, "ack_received", "ack", "loadvm_process_command"),
    )
    for name in devices:
        for offset_ms, kind, what, function in per_device:
            events.append(
                Event(
                    t_ms=half * 100.0 + offset_ms,
                    step=half,
                    kind=kind,
                    side="source",
                    device=name,
                    detail=f"{name}: {what}",
                    qemu_function=function,
                )
            )
    last = n_steps - 1
    events.append(
        Event(t_ms=last * 100.0 + 5, step=last, kind="vm_stop", side="source", detail="vm stopped")
    )
    events.append(
        Event(
            t_ms=last * 100.0 + 90,
            step=last,
            kind="vm_start",
            side="destination",
            detail="vm started",
        )
    )
    return sorted(events, key=lambda ev: (ev.step, ev.t_ms))


def make_trace(
    n_steps: int = 12, devices: tuple[str, ...] = ("gpu0", "nic1"), title: str = "factory run"
) -> Trace:
    """A small, internally consistent trace: n_steps steps of 100 ms, one switchover."""
    assert n_steps >= 2
    total_ms = n_steps * 100.0
    return Trace(
        engine_version="test-factory",
        title=title,
        qemu_profile="10.1",
        scenario={
            "title": title,
            "description": "built by tests/store/factories.py",
            "devices": [],
        },
        resolved={"title": title, "devices": [{"name": name} for name in devices]},
        profile={"name": "10.1"},
        summary=Summary(
            status="completed",
            reason="switchover finished",
            total_time_ms=total_ms,
            setup_time_ms=100.0,
            downtime_ms=85.0,
            guest_downtime_ms=90.0,
            downtime_limit_ms=300.0,
            downtime_breakdown_ms={"vm_stop": 20.0, "ram_complete": 40.0, "device_complete": 25.0},
            dirty_sync_count=n_steps - 1,
            transferred_bytes=(n_steps - 1) * 12 * MiB,
            vfio_transferred_bytes=(n_steps - 1) * 2 * MiB,
            ack_received_at_ms=(n_steps // 2) * 100.0 + 20,
            switchover_permitted_at_ms=(n_steps // 2) * 100.0 + 20,
            switchover_started_at_ms=(n_steps - 1) * 100.0 + 5,
            passes=n_steps - 2,
            devices=[
                DeviceSummary(
                    name=name,
                    preset=None,
                    precopy=True,
                    initial_bytes=n_steps * MiB,
                    precopy_bytes=(n_steps - 1) * MiB,
                    stop_copy_bytes=16 * MiB,
                )
                for name in devices
            ],
        ),
        steps=[make_step(i, n_steps, devices) for i in range(n_steps)],
        events=make_events(n_steps, devices),
        notes=["built by a test factory"],
    )
