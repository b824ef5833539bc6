"""TrainConfig: defaults, validation messages, TOML files filling the same dataclasses."""

from __future__ import annotations

import pytest

from hiergenre.errors import ConfigError
from hiergenre.train import TrainConfig, config_from_dict, config_to_dict, load_config
from hiergenre.train.config import validate_config


def test_toml_fills_nested_dataclasses(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        'epochs = 20\nbatch_size = 64\nbalance = "sampler"\n'
        '[model]\nname = "koenig-singlelabel"\nlabel_space = "koenig12"\n'
        "[model.options]\nwidth = 0.5\n"
        '[data]\nimage_size = 128\nsplit = "koenig-singlelabel"\n'
        '[optim]\noptimizer = "sgd"\nlr = 1\nschedule = "step"\n'
    )
    cfg = load_config(path)
    assert cfg.epochs == 20 and cfg.batch_size == 64 and cfg.balance == "sampler"
    assert cfg.model.name == "koenig-singlelabel" and cfg.model.options == {"width": 0.5}
    assert cfg.data.image_size == 128 and cfg.data.split == "koenig-singlelabel"
    assert cfg.optim.optimizer == "sgd" and cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float)
    assert cfg.optim.weight_decay == TrainConfig().optim.weight_decay  # untouched default


def test_json_round_trip_is_exact():
    cfg = config_from_dict({"epochs": 3, "model": {"name": "tiny", "options": {"channels": [4]}}})
    assert config_from_dict(config_to_dict(cfg)) == cfg


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("epoch = 3\n", "unknown key epoch; valid keys are kind, model"),
        ("[data]\nimg_size = 3\n", r"\[data\]: unknown key img_size"),
        ('epochs = "ten"\n', "epochs = 'ten' should be of type int"),
        ("epochs = 0\n", "`epochs` must be at least 1"),
        ("[data]\nimage_size = 7\n", "at least 32 pixels"),
        ('[optim]\nschedule = "linear"\n', "unknown schedule 'linear'"),
        ("epochs = [\n", "not valid TOML"),
        ("model = 3\n", "model must be a table"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        load_config(path)
    assert "\n" not in str(info.value)


def test_missing_file_and_defaults_validate(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    assert validate_config(TrainConfig()) == TrainConfig()
    with pytest.raises(ConfigError, match="`lr` must be positive"):
        validate_config(config_from_dict({"optim": {"lr": 0.0}}))
