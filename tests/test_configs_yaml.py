"""YAML configs read floats the YAML 1.2 way, and keep every other rule."""

from __future__ import annotations

import math

import pytest
import yaml

from tracker.configs import ConfigLoader, diff, load_config_file
from tracker.errors import InvalidConfig


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3e-4", 3e-4),
        ("1E5", 1e5),
        ("+1e3", 1e3),
        (".5", 0.5),
        ("-.5", -0.5),
        ("-2.5e-3", -2.5e-3),
        ("1.0e5", 1e5),
        ("1.5e-3", 1.5e-3),
        ("1_000.5", 1000.5),
        ("1.", 1.0),
    ],
)
def test_yaml_float_forms(tmp_path, text, expected):
    path = tmp_path / "config.yaml"
    path.write_text(f"value: {text}\n")

    value = load_config_file(path)["value"]

    assert isinstance(value, float)
    assert value == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        ("-7", -7),
        ("0x1f", 31),
        ("1_000", 1000),
        ("true", True),
        ("null", None),
        ("'3e-4'", "3e-4"),
        ("1e", "1e"),
        ("e5", "e5"),
        ("3e-4x", "3e-4x"),
        ("v1.2.3", "v1.2.3"),
    ],
)
def test_yaml_non_floats_unchanged(tmp_path, text, expected):
    path = tmp_path / "config.yaml"
    path.write_text(f"value: {text}\n")

    assert load_config_file(path)["value"] == expected


def test_yaml_infinity_still_loads():
    data = yaml.load("a: .inf\nb: -.inf\nc: .nan\n", Loader=ConfigLoader)

    assert data["a"] == math.inf
    assert data["b"] == -math.inf
    assert math.isnan(data["c"])


def test_yaml_infinity_still_rejected_in_config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("lr: .inf\n")

    with pytest.raises(InvalidConfig, match="cannot be stored"):
        load_config_file(path)


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        ("lr: 1e400\n", "lr", "inf"),
        ("optimizer:\n  eps: -1e400\n", "optimizer.eps", "-inf"),
        ("schedule:\n  warmup: 10\n  floor: .nan\n", "schedule.floor", "nan"),
        ("betas: [0.9, 1e999]\n", "betas[1]", "inf"),
        ("layers:\n  - {width: 64, scale: 1e400}\n", "layers[0].scale", "inf"),
    ],
)
def test_non_finite_config_names_key(tmp_path, text, path, value):
    config = tmp_path / "config.yaml"
    config.write_text(text)

    with pytest.raises(InvalidConfig) as raised:
        load_config_file(config)

    message = str(raised.value)
    assert f"`{path}` is {value}," in message
    assert str(config) in message
    assert "finite number" in message


def test_json_overflow_config_names_key(tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"model": {"lr": 1e400}}')

    with pytest.raises(InvalidConfig, match=r"`model\.lr` is inf, .* 1e400"):
        load_config_file(config)


def test_safe_loader_left_unchanged():
    # Other code in the process that calls yaml.safe_load keeps YAML 1.1.
    assert yaml.safe_load("lr: 3e-4") == {"lr": "3e-4"}


def test_config_loader_stays_safe():
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.load("x: !!python/object/apply:os.getcwd []", Loader=ConfigLoader)


def test_yaml_and_json_configs_match(tracker, tmp_path):
    yaml_path = tmp_path / "config.yaml"
    yaml_path.write_text("lr: 3e-4\nwd: 1E-2\n")
    json_path = tmp_path / "config.json"
    json_path.write_text('{"lr": 0.0003, "wd": 0.01}')

    from_yaml = tracker.track(
        "sci-yaml", researcher="alice", config=load_config_file(yaml_path)
    )
    from_json = tracker.track(
        "sci-json", researcher="alice", config=load_config_file(json_path)
    )
    stored = {
        "yaml": tracker.get(from_yaml.id).config,
        "json": tracker.get(from_json.id).config,
    }

    assert stored["yaml"] == {"lr": 0.0003, "wd": 0.01}
    assert diff(stored) == {}
