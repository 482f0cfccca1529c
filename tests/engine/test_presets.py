from app.engine.presets import PRESETS


def test_every_preset_field_is_tagged_with_a_source():
    for preset in PRESETS.values():
        for key, item in preset.fields.items():
            assert item.tag in {"published", "derived", "estimate"}, (preset.name, key)
            assert item.source, (preset.name, key)


def test_headline_numbers():
    mlx5 = PRESETS["mlx5-cx7-vf-300mb"].fields
    assert mlx5["dest_initial_load_ms"].value == 1480.0 and mlx5["dest_initial_load_ms"].tag == "published"
    assert mlx5["stop_copy_bytes"].value + mlx5["initial_bytes"].value == 300_000_000
    assert PRESETS["amd-pensando-vf"].fields["precopy"].value is False
    assert PRESETS["amd-pensando-vf"].fields["stop_copy_bytes"].value == 64 * 1024
    assert PRESETS["grace-hopper-gpu"].fields["migratable"].value is False
