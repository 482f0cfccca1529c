from .helpers import events, run, run_example, scenario


def test_reasons_name_the_gate_and_the_numbers():
    t = run_example("mlx5-300mb-ack")
    waiting = [s for s in t.steps if s.decision.code == "wait_for_ack"]
    assert waiting, "the run waits for the ack at some point"
    reason = waiting[0].decision.reason
    assert (
        "waiting for the ack: 0000:3b:00.1 has" in reason
        and "MiB of initial bytes not yet loaded" in reason
    )
    assert "exact pending" in reason and "threshold" in reason
    held = [s for s in t.steps if s.decision.code == "keep_iterating"]
    assert any("is not < threshold" in s.decision.reason for s in held)
    final = next(s for s in t.steps if s.decision.code == "switchover")
    assert (
        "Both gates open" in final.decision.reason
        and final.decision.qemu_function == "migration_iteration_run"
    )
    for step in t.steps:
        for gate in step.gates:
            assert gate.detail


def test_ack_off_explains_there_is_nothing_to_wait_for():
    t = run(scenario(caps={"source": ["return-path"], "destination": ["return-path"]}))
    ack_gate = next(g for s in t.steps for g in s.gates if g.name == "switchover_ack")
    assert ack_gate.open and "off on the source" in ack_gate.detail


def test_waiting_on_the_image_load_says_so():
    # The ack waits for one synchronous load of the complete initial image (1480 ms).
    t = run_example("mlx5-300mb-ack")
    loading = [
        s
        for s in t.steps
        if "initial image is complete at the destination and being loaded" in s.decision.reason
    ]
    assert loading and "of 1480 ms" in loading[0].decision.reason
    assert "mlx5vf_cmd_load_vhca_state" in loading[0].decision.reason


def test_an_ack_arriving_mid_pass_counts_from_the_next_gate_check() -> None:
    trace = run_example("mlx5-300mb-ack")
    (ack,) = events(trace, "ack_received")
    late = [s for s in trace.steps if "An ack arrived during this pass" in s.decision.reason]
    assert [s.index for s in late] == [ack.step]
    step = late[0]
    assert step.decision.code == "wait_for_ack" and step.t_ms < ack.t_ms <= step.end_ms
    assert f"at {ack.t_ms:.1f} ms" in step.decision.reason
    following = trace.steps[step.index + 1]
    assert following.decision.code == "switchover"
    assert "during the previous pass: this pass's gate check is the first to see it" in (
        following.decision.reason
    )
