import json

import pytest
from pydantic import ValidationError

from app.engine.scenario import LIMITS, Scenario, scenario_json_schema

from .helpers import scenario


def errors(doc):
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate(doc)
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in info.value.errors()}


def test_issue_example_validates_with_units():
    sc = Scenario.model_validate(
        scenario(
            guest={"ram_bytes": "8 GiB"},
            devices=[{"name": "0000:3b:00.1", "preset": "mlx5-cx7-vf-300mb"}],
        )
    )
    assert sc.guest.ram_bytes == 8 * 1024**3
    dev = sc.resolved_devices()[0]
    assert dev.initial_bytes == 16 * 1024**2
    assert dev.dest_initial_load_ms == 1480.0
    assert dev.sources["dest_initial_load_ms"] == "published"
    assert dev.sources["initial_bytes"] == "estimate"


def test_override_beats_preset_and_is_marked_user():
    sc = Scenario.model_validate(
        scenario(devices=[{"name": "d", "preset": "mlx5-cx7-vf-300mb", "initial_bytes": "4 MiB"}])
    )
    dev = sc.resolved_devices()[0]
    assert dev.initial_bytes == 4 * 1024**2
    assert dev.sources["initial_bytes"] == "user"


def test_errors_name_the_field_path():
    errs = errors(scenario(guest={"ram_bytes": "8 XB"}))
    assert "guest.ram_bytes" in errs and "XB" in errs["guest.ram_bytes"]
    errs = errors(scenario(params={"downtime_limit_ms": 0}))
    assert "params.downtime_limit_ms" in errs
    errs = errors(scenario(devices=[{"name": "d", "preset": "no-such"}]))
    assert "devices.0.preset" in errs and "unknown preset" in errs["devices.0.preset"]
    errs = errors(scenario(caps={"source": ["postcopy-ram"]}))
    assert "caps.source.0" in errs


def test_device_without_preset_must_give_the_essentials():
    errs = errors(scenario(devices=[{"name": "custom"}]))
    assert any("precopy, initial_bytes, stop_copy_bytes" in m for m in errs.values())


def test_duplicate_device_names_are_refused():
    errs = errors(
        scenario(
            devices=[{"name": "d", "preset": "hisi-acc-vf"}, {"name": "d", "preset": "hisi-acc-vf"}]
        )
    )
    assert any("used twice" in m for m in errs.values())


def test_limits_are_enforced():
    too_many = [
        {"name": f"d{i}", "preset": "hisi-acc-vf"} for i in range(LIMITS["devices_per_run"] + 1)
    ]
    assert "devices" in errors(scenario(devices=too_many))
    assert "max_time_ms" in errors(scenario(max_time_ms=LIMITS["max_time_ms"] + 1))
    assert "guest.ram_bytes" in errors(scenario(guest={"ram_bytes": "32 TiB"}))
    assert "extra" in errors(scenario(unknown_key=1)) or errors(scenario(unknown_key=1))


def test_working_set_must_fit_non_zero_ram():
    errs = errors(
        scenario(
            guest={"ram_bytes": "1 GiB", "working_set_bytes": "900 MiB", "zero_page_fraction": 0.5}
        )
    )
    assert any("working_set_bytes" in m for m in errs.values())


def test_avail_switchover_bandwidth_needs_8_2():
    errs = errors(
        scenario(qemu_profile="8.1", params={"avail_switchover_bandwidth_bytes_per_s": "1 GiB"})
    )
    assert any("8.2" in m for m in errs.values())


def test_schema_documents_sizes_as_int_or_string():
    schema = scenario_json_schema()
    ram = schema["$defs"]["Guest"]["properties"]["ram_bytes"]
    assert {
        "type": "integer",
        "minimum": LIMITS["ram_bytes"][0],
        "maximum": LIMITS["ram_bytes"][1],
    } in ram["anyOf"]


def test_control_characters_are_refused_in_text_fields():
    errs = errors(scenario(title="a\x00b"))
    assert "title" in errs and "control character" in errs["title"]
    errs = errors(scenario(devices=[{"name": "vf\x07", "preset": "hisi-acc-vf"}]))
    assert "devices.0.name" in errs
    ok = Scenario.model_validate(
        scenario(title="<script>alert(1)</script>", description="line one\nline two\ttab")
    )
    assert ok.title.startswith("<script>")


def test_new_knobs_are_in_the_schema_with_their_limits():

    text = json.dumps(scenario_json_schema())
    defs = scenario_json_schema()["$defs"]
    guest, params, device = (
        defs["Guest"]["properties"],
        defs["Params"]["properties"],
        defs["DeviceSpec"]["properties"],
    )
    assert guest["vcpus"]["minimum"] == 1 and guest["vcpus"]["maximum"] == 4096
    assert guest["vm_stop_ms_per_vcpu"]["maximum"] == 600_000
    assert (
        guest["hot_set_fraction"]["maximum"] == 1.0
        and guest["hot_write_fraction"]["minimum"] == 0.0
    )
    assert "hot_cold" in json.dumps(guest["dirty_pattern"])
    assert (
        params["multifd_channels"]["minimum"] == 1 and params["multifd_channels"]["maximum"] == 64
    )
    assert params["multifd_channels"]["default"] == 2  # QEMU's default
    for key in (
        "reported_stop_copy_bytes",
        "dest_load_granularity",
        "dest_write_bytes_per_s",
        "setup_saves_initial_image",
    ):
        assert key in device, key
    assert "dest_load_ms" in json.dumps(defs["Reinit"])
    assert "mlx5vf_resume_write" in text  # the description says where the behaviour comes from


def test_scenarios_written_before_the_new_knobs_stay_valid():
    old = {
        "guest": {"ram_bytes": "4 GiB", "dirty_pattern": "sequential", "vm_stop_ms": 20},
        "params": {"max_bandwidth_bytes_per_s": "1 GiB"},
        "devices": [
            {
                "name": "vf",
                "preset": "mlx5-cx7-vf-300mb",
                "reinit": [{"at_ms": 100, "initial_bytes": 1024}],
            }
        ],
    }
    sc = Scenario.model_validate(old)
    assert sc.guest.vcpus == 1 and sc.params.multifd_channels == 2
    [dev] = sc.resolved_devices()
    assert dev.reported_stop_copy_bytes == 300_000_000 and dev.dest_load_granularity == "image"
    assert dev.reinit[0].dest_load_ms is None
