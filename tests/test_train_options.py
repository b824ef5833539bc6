"""`apply_options`: flat keyword options (what `hiergenre train` gives) into a TrainConfig."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hiergenre.errors import ConfigError
from hiergenre.train import TrainConfig, apply_options
from hiergenre.train.config import DataSpec, ModelSpec, OptimSpec


def test_each_option_fills_the_field_of_its_name():
    config = apply_options(TrainConfig(), "flat", epochs=3, lr=0.01, image_size=96, frozen=True,
                           label_space="all", model="tiny", seed=None, compile=True)  # fmt: skip
    assert config == dataclasses.replace(
        TrainConfig(), epochs=3, compile=True, optim=OptimSpec(lr=0.01),
        data=DataSpec(image_size=96), model=ModelSpec("tiny", "all", frozen=True),
    )  # fmt: skip
    assert apply_options(TrainConfig(), "flat", epochs=None, lr=None) == TrainConfig()


def test_paths_are_checked_and_kept_as_text(tmp_path):
    config = apply_options(TrainConfig(), "flat", data=tmp_path, taxonomy=None)
    assert config.data.path == str(tmp_path)
    with pytest.raises(ConfigError, match=r"^dataset .*missing does not exist: check `data`$"):
        apply_options(TrainConfig(), "flat", data=tmp_path / "missing")
    with pytest.raises(ConfigError, match="taxonomy file"):
        apply_options(TrainConfig(), "flat", taxonomy=Path("/no/genres.tsv"))


def test_model_options_go_to_the_model_that_takes_them():
    flat = apply_options(TrainConfig(), "flat", model="lite0", features="pooled")
    assert flat.model.options == {"features": "pooled"}
    hier = apply_options(TrainConfig(), "hierarchical", encoder="lite0", mode="softmax",
                         strategy="shared-heads", features="style", loss="mcloss")  # fmt: skip
    assert (hier.kind, hier.model.name, hier.loss) == ("hierarchical", "hierarchical", "mcloss")
    assert hier.model.options == {"encoder": "lite0", "mode": "softmax",
                                  "strategy": "shared-heads",
                                  "encoder_options": {"features": "style"}}  # fmt: skip
    # the default encoder (koenig-multilabel) takes `width`; a flat base's options are dropped
    base = apply_options(TrainConfig(), "flat", width=0.5)
    assert apply_options(base, "hierarchical", width=1.0).model.options == {
        "encoder_options": {"width": 1.0}
    }
    again = apply_options(hier, "hierarchical", epochs=2)  # a hierarchical base keeps its own
    assert again.model == hier.model


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("flat", {"model": "resnet-7"}, "unknown model 'resnet-7': choose one of koenig"),
        ("flat", {"model": "hierarchical"}, "unknown model 'hierarchical'"),
        ("hierarchical", {"encoder": "vgg"}, "unknown backbone 'vgg'"),
        (
            "flat",
            {"features": "pooled"},
            "`features` does not apply to koenig-multilabel: it is an option of lite0, timm/<name>",
        ),  # fmt: skip
        ("hierarchical", {"encoder": "lite0", "width": 2.0}, "`width` does not apply to lite0"),
    ],
)
def test_a_model_or_option_the_library_does_not_take_is_refused(kind, options, message):
    with pytest.raises(ConfigError, match=message):
        apply_options(TrainConfig(), kind, **options)


def test_an_option_of_no_field_is_a_type_error():
    with pytest.raises(TypeError, match="unknown option 'epoch'"):
        apply_options(TrainConfig(), "flat", epoch=3)
