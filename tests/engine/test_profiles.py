from app.engine.profiles import PROFILES


def test_version_switches_follow_the_table():
    p = PROFILES
    assert (
        p["8.1"].serialize_iterate and p["8.2"].serialize_iterate and not p["9.0"].serialize_iterate
    )
    assert p["8.2"].exact_trigger_le and not p["9.0"].exact_trigger_le
    assert p["9.1"].vfio_exact_double_count and not p["9.2"].vfio_exact_double_count
    assert not p["10.0"].complete_le and p["10.1"].complete_le
    assert not p["9.2"].device_state_always and p["10.0"].device_state_always
    assert not p["8.1"].avail_switchover_bandwidth and p["8.2"].avail_switchover_bandwidth
    assert p["2026"].reusable_ack and p["2026"].proposed and "PROPOSED" in p["2026"].description
    assert not any(p[name].reusable_ack for name in ("8.1", "9.0", "10.2"))
