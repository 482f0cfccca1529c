from app.engine.presets import PRESETS


def test_every_preset_field_is_tagged_with_a_source():
    for preset in PRESETS.values():
        for key, item in preset.fields.items():
            assert item.tag in {"published", "derived", "estimate"}, (preset.name, key)
            assert item.source, (preset.name, key)


def test_headline_numbers():
    mlx5 = PRESETS["mlx5-cx7-vf-300mb"].fields
    assert (
        mlx5["dest_initial_load_ms"].value == 1480.0
        and mlx5["dest_initial_load_ms"].tag == "published"
    )
    # mlx5 reports its full state size; the final image is an incremental delta.
    assert (
        mlx5["reported_stop_copy_bytes"].value == 300_000_000
        and mlx5["reported_stop_copy_bytes"].tag == "published"
    )
    assert mlx5["stop_copy_bytes"].value < 300_000_000 and mlx5["stop_copy_bytes"].tag == "estimate"
    assert mlx5["dest_load_granularity"].value == "image"
    assert "mlx5vf_cmd_load_vhca_state" in mlx5["dest_load_granularity"].source
    assert PRESETS["amd-pensando-vf"].fields["precopy"].value is False
    assert PRESETS["amd-pensando-vf"].fields["stop_copy_bytes"].value == 64 * 1024
    assert PRESETS["grace-hopper-gpu"].fields["migratable"].value is False
