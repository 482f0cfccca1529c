"""Invariants over generated scenarios (hypothesis)."""

from __future__ import annotations

import itertools
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine import Scenario, simulate
from app.engine.presets import PRESETS
from app.engine.profiles import PROFILES
from app.engine.simulation import Simulation, simulate_summary

from .helpers import known

MiB = 1024**2
# Generated scenarios can spin ~100,000 passes; the invariants show within the first few
# thousand steps, and a run cut at the step limit ends the same way collapsed or not.
MAX_STEPS = 5_000
PRESET_NAMES = [n for n in PRESETS if n != "grace-hopper-gpu"]


@st.composite
def scenarios(draw: st.DrawFn) -> dict:
    profile = draw(st.sampled_from(list(PROFILES)))
    ram_mib = draw(st.sampled_from([512, 1024, 2048]))
    zero = draw(st.sampled_from([0.0, 0.5, 0.9]))
    ws_mib = draw(st.integers(min_value=0, max_value=int(ram_mib * (1 - zero))))
    n_devices = draw(st.integers(min_value=0, max_value=1 if profile == "8.1" else 3))
    devices = []
    for i in range(n_devices):
        device = {
            "name": f"0000:3b:00.{i}",
            "preset": draw(st.sampled_from(PRESET_NAMES)),
            "p2p": True,
        }
        if draw(st.booleans()):
            device["initial_bytes"] = draw(st.integers(min_value=0, max_value=32 * MiB))
        if draw(st.booleans()):
            device["dest_initial_load_ms"] = draw(st.floats(min_value=0, max_value=2000))
        if draw(st.booleans()):
            device["dirty_rate_bytes_per_s"] = draw(st.integers(min_value=0, max_value=64 * MiB))
        if draw(st.booleans()):
            # 2026: a new initial image to re-ack; before: folded into the stop-copy image.
            device["reinit"] = [
                {"at_ms": draw(st.floats(min_value=0, max_value=3000)), "initial_bytes": 4 * MiB}
            ]
        if draw(st.booleans()):
            device["dest_load_granularity"] = draw(st.sampled_from(["image", "byte"]))
        if draw(st.booleans()):
            device["reported_stop_copy_bytes"] = draw(st.sampled_from([0, 64 * MiB, 300_000_000]))
        if draw(st.booleans()):
            device["setup_saves_initial_image"] = draw(st.booleans())
        devices.append(device)
    caps_choices = [
        [],
        ["return-path"],
        ["return-path", "switchover-ack"],
        ["return-path", "switchover-ack", "pause-before-switchover"],
        ["return-path", "switchover-ack", "multifd"],
    ]
    src = draw(st.sampled_from(caps_choices))
    dst = draw(st.sampled_from(caps_choices[:3]))
    if "multifd" in src:
        dst = src[:]  # one-sided multifd is refused before anything runs; keep the run meaningful
        dst = [c for c in dst if c != "pause-before-switchover"]
    params = {
        "downtime_limit_ms": draw(st.sampled_from([50, 300, 1000])),
        "max_bandwidth_bytes_per_s": draw(st.sampled_from([0, 32 * MiB, 128 * MiB, 1024 * MiB])),
        "pause_before_switchover_ms": draw(st.sampled_from([0.0, 25.0])),
        "multifd_channels": draw(st.sampled_from([1, 2, 4])),
    }
    if PROFILES[profile].avail_switchover_bandwidth and draw(st.booleans()):
        params["avail_switchover_bandwidth_bytes_per_s"] = draw(
            st.sampled_from([100 * MiB, 1250 * MiB])
        )
    return {
        "title": "generated",
        "qemu_profile": profile,
        "guest": {
            "ram_bytes": ram_mib * MiB,
            "dirty_rate_bytes_per_s": draw(st.sampled_from([0, 4 * MiB, 64 * MiB, 512 * MiB])),
            "working_set_bytes": ws_mib * MiB,
            "zero_page_fraction": zero,
            "dirty_pattern": draw(st.sampled_from(["uniform", "sequential", "hot_cold"])),
            "vcpus": draw(st.sampled_from([1, 8, 384])),
        },
        "link": {
            "bandwidth_bytes_per_s": draw(st.sampled_from([100 * MiB, 1250 * 1000**2])),
            "latency_ms": draw(st.sampled_from([0.0, 0.1, 5.0])),
        },
        "params": params,
        "caps": {"source": src, "destination": dst},
        "devices": devices,
        "max_time_ms": draw(st.sampled_from([1000, 4000])),
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=scenarios())
def test_engine_invariants(doc):
    sc = Scenario.model_validate(doc)
    trace = simulate(sc, max_steps=MAX_STEPS)
    steps, evs, s = trace.steps, trace.events, trace.summary

    # Time never goes back: steps, and events in log order.
    for a, b in itertools.pairwise(steps):
        assert a.t_ms <= a.end_ms <= b.t_ms <= b.end_ms
    assert all(a.t_ms <= b.t_ms for a, b in itertools.pairwise(evs))
    assert all(0 <= e.step < len(steps) for e in evs)

    # Bytes written = bytes loaded + bytes in flight, per step and per device.
    for step in steps:
        assert known(step.transferred_bytes) == known(step.loaded_bytes) + known(
            step.in_flight_bytes
        )
        assert known(step.in_flight_bytes) >= 0
        for dev in step.devices:
            assert (
                0
                <= known(dev.init_loaded_bytes)
                <= known(dev.loaded_bytes)
                <= known(dev.sent_bytes)
            )

    src_ack = "switchover-ack" in doc["caps"]["source"]
    stops = [e for e in evs if e.kind == "vm_stop"]
    acks = [e for e in evs if e.kind == "ack_received"]
    # No switchover while the VM runs, the capability is on and no ack was received.
    if stops and src_ack:
        assert acks and min(a.t_ms for a in acks) <= stops[0].t_ms
        assert (
            s.switchover_permitted_at_ms is not None
            and s.switchover_permitted_at_ms <= stops[0].t_ms
        )

    legacy = not PROFILES[doc["qemu_profile"]].reusable_ack
    needing = [d.name for d in sc.resolved_devices() if d.precopy]
    if legacy:
        sent_markers = [e.device for e in evs if e.kind == "init_data_sent"]
        assert len(sent_markers) == len(set(sent_markers)), (
            "INIT_DATA_SENT once per device per migration"
        )
        for ack in [e for e in evs if e.kind == "ack_sent"]:
            loaded = {
                e.device: e.t_ms for e in evs if e.kind == "init_data_loaded" and e.t_ms <= ack.t_ms
            }
            assert set(needing) <= set(loaded), (
                "an ack only after every needing device's INIT_DATA_SENT was loaded"
            )
        assert len([e for e in evs if e.kind == "ack_sent"]) <= 1

    if s.status == "completed":
        assert math.isclose(
            sum(s.downtime_breakdown_ms.values()), known(s.downtime_ms), abs_tol=1e-6
        )
        assert s.guest_downtime_ms is not None
        assert steps[-1].status == "completed" or any(st_.status == "completed" for st_ in steps)
    else:
        assert s.downtime_ms is None

    # Determinism: the same scenario gives the same bytes.
    assert simulate(Scenario.model_validate(doc), max_steps=MAX_STEPS).to_json() == trace.to_json()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=scenarios())
def test_collapsing_alike_passes_changes_no_total(doc):
    # collapse.py advances runs of alike passes on the counters alone: every total, the
    # outcome and its reason are those of the run with one step per pass. The reference keeps
    # no step records (the same summary as a full trace, tests/engine/test_summary_only.py):
    sc = Scenario.model_validate(doc)
    every = Simulation(sc, MAX_STEPS, keep_steps=False, collapse=False).run_summary()
    collapsed = Simulation(sc, MAX_STEPS, collapse=True).run()
    assert collapsed.summary.model_dump_json() == every.model_dump_json()
    assert simulate_summary(sc, MAX_STEPS).model_dump_json() == every.model_dump_json()
