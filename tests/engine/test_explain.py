from .helpers import run, run_example, scenario


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
