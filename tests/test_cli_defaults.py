"""Every option of every command (found by walking the app, as tests/test_cli_contract.py does)
against the library: its default and every value its help states as the default are the
library's own, taken here from the imported library. A default the CLI types itself fails:
an option with a default (or a help that says "default") that this file does not map to the
library needs one, or a reason in CLI_OWNED or WORDS."""

from __future__ import annotations

import inspect
import math
import re
from pathlib import Path

import pytest
from test_cli_contract import IDS, LEAVES

from hiergenre.cli.defaults import library_value, said

NUMBER = re.compile(r"(?<![\w.<-])\d+(?:\.\d+)?(?:e-?\d+)?(?!\w)")
# Defaults the CLI owns: how it presents, not what the library does.
CLI_OWNED = {("data stats", "top"): "how many genres the command's own report table lists"}
# Options whose default is "not given", which the help describes in words.
WORDS = {
    "taxonomy": "the shipped MuMu taxonomy (load_taxonomy(None))",
    "data": "the built-in synthetic set (resolve_dataset(None))",
    "flip": "on for frozen encoders (train.runs.flip_features)",
    "label_space": "auto: trained for sigmoid models, the model's own otherwise",
    "out": "a folder named after the run (train.options.default_run_dir, RUN_DIR/model.onnx)",
    "workers": "data import: one decoding process per core",
}


def _models() -> dict[str, object]:
    """Every registered model -> its default config."""
    from hiergenre.models import list_models, make_config

    return {name: make_config(name) for name in list_models()}


def _shown(model: str) -> str:
    return "timm/<name>" if model == "timm" else model


def _train() -> tuple[dict, dict]:
    """(click defaults, stated defaults) of the options `train flat` and `train hierarchical`
    share, from the library."""
    from hiergenre.models.lite0 import Lite0Encoder
    from hiergenre.models.style import StyleConfig
    from hiergenre.train import TrainConfig
    from hiergenre.train.config import CPU_IMAGE_SIZE

    config, models = TrainConfig(), _models().items()
    stated = {
        "epochs": (config.epochs,), "batch_size": (config.batch_size,),
        "lr": (config.optim.lr,), "weight_decay": (config.optim.weight_decay,),
        "optimizer": (config.optim.optimizer,), "schedule": (config.optim.schedule,),
        "patience": (config.patience,), "balance": (config.balance,), "seed": (config.seed,),
        "solver": (config.solver,),
        "image_size": (CPU_IMAGE_SIZE, Lite0Encoder.native_size,
                       f"style on {StyleConfig().backbone}"),
        "width": tuple(sorted({c.width for _, c in models if hasattr(c, "width")})),
        "features": tuple(f"{c.features} for {_shown(m)}" for m, c in models
                          if hasattr(c, "features")),
    }  # fmt: skip
    return {"resume": False, "overwrite": False, "quiet": False, "details": False}, stated


def library_defaults() -> tuple[dict, dict]:
    """({(command, option): click default}, {(command, option): values its help states as
    the default}), everything read from the imported library."""
    from hiergenre.benchmark.config import SYNTHETIC_SIZE, BenchmarkConfig, ModelPlan
    from hiergenre.data import ImportOptions, synth
    from hiergenre.data.fetch import FetchConfig
    from hiergenre.data.readers import CsvColumns
    from hiergenre.library import ProposeOptions, TagOptions
    from hiergenre.library.tag import LEDGER_NAME
    from hiergenre.models.hierarchical import HierarchicalConfig, default_mode
    from hiergenre.predictor import DecodeOptions, load_predictor
    from hiergenre.serve import ServeConfig
    from hiergenre.tagging import tag_library
    from hiergenre.taxonomy.explain import explain_genre, taxonomy_stats
    from hiergenre.train import TrainConfig
    from hiergenre.train.build import resolved_loss

    def param(function, name):
        return inspect.signature(function).parameters[name].default

    train_click, train_said = _train()
    click, stated = {}, {}
    for kind in ("flat", "hierarchical"):
        click.update({(f"train {kind}", k): v for k, v in train_click.items()})
        stated.update({(f"train {kind}", k): v for k, v in train_said.items()})
    models, hierarchy = _models(), HierarchicalConfig()
    frozen = tuple(_shown(m) for m, c in models.items() if getattr(c, "mode", "") == "frozen")
    stated.update({
        ("train flat", "model"): (TrainConfig().model.name,),
        ("train flat", "frozen"): frozen,
        ("train hierarchical", "encoder"): (hierarchy.encoder,),
        ("train hierarchical", "strategy"): (hierarchy.strategy,),
        ("train hierarchical", "loss"): (resolved_loss(TrainConfig(), "hierarchical"),),
        ("train hierarchical", "mode"): (f"{default_mode(True)} on a frozen encoder",
                                         f"{default_mode(False)} otherwise"),
        ("benchmark", "image_size"): (ModelPlan("any").image_size, SYNTHETIC_SIZE),
        ("tag", "ledger"): (f"LIBRARY/{LEDGER_NAME}",),
        ("tag", TagOptions().mode.replace("-", "_")): (),  # its help says it is the default
        ("data import", "label_col"): (CsvColumns().labels,),
    })  # fmt: skip
    bench, decode, serve, tag = BenchmarkConfig(), DecodeOptions(), ServeConfig(), TagOptions()
    imports, columns, fetch = ImportOptions(), CsvColumns(), FetchConfig()
    click.update({
        ("benchmark", "out"): bench.out, ("benchmark", "seed"): bench.seed,
        ("benchmark", "quick"): bench.quick, ("benchmark", "no_plots"): not bench.plots,
        ("predict", "top_k"): decode.top_k, ("predict", "decode"): decode.decode,
        ("predict", "batch_size"): param(tag_library, "batch_size"),
        ("predict", "workers"): param(tag_library, "workers"),
        ("predict", "backend"): param(load_predictor, "backend"),
        ("serve", "backend"): param(load_predictor, "backend"),
        ("serve", "host"): serve.host, ("serve", "port"): serve.port,
        ("serve", "max_upload_mb"): serve.max_upload_mb,
        ("tag", "levels"): ProposeOptions().levels, ("tag", "decode"): ProposeOptions().decode,
        ("tag", "id3v23_sep"): tag.id3v23_sep, ("tag", "batch_size"): tag.batch_size,
        ("tag", "workers"): tag.workers, ("tag", "write"): tag.write,
        ("taxonomy stats", "top"): param(taxonomy_stats, "top"),
        ("explain-taxonomy", "depth"): param(explain_genre, "depth"),
        ("data import", "fmt"): imports.format, ("data import", "unknown"): imports.unknown,
        ("data import", "duplicates"): imports.duplicates, ("data import", "names"): imports.names,
        ("data import", "allow_outside_root"): imports.allow_outside_root,
        ("data import", "folder_levels"): imports.folder_levels,
        ("data import", "image_col"): columns.image, ("data import", "group_col"): columns.group,
        ("data import", "id_col"): columns.album_id,
        ("data import", "label_sep"): columns.label_sep,
        ("data synth", "n"): synth.DEFAULT_N, ("data synth", "size"): synth.DEFAULT_SIZE,
        ("data synth", "seed"): synth.DEFAULT_SEED,
        ("data synth", "difficulty"): synth.DEFAULT_DIFFICULTY,
        ("data fetch", "sources"): ",".join(fetch.sources), ("data fetch", "size"): fetch.size,
        ("data fetch", "caa_base_url"): fetch.caa_base_url,
        ("data fetch", "mbid_kind"): fetch.mbid_kind, ("data fetch", "workers"): fetch.workers,
        ("data fetch", "contact"): fetch.contact,
        ("data fetch", "retry_failed"): fetch.retry_failed,
        ("data fetch", "rate"): fetch.http.rate_per_host,
        ("data fetch", "timeout"): fetch.http.read_timeout,
        ("data fetch", "retries"): fetch.http.retries,
        ("data fetch", "max_mb"): fetch.http.max_bytes / 2**20,
    })  # fmt: skip
    return click, stated


CLICK, STATED = library_defaults()


def default_clause(text: str) -> str | None:
    """The part of a help text that states the default: from the `(` or `;` before the word
    "default" to the `)` or `;` after it."""
    at = text.lower().find("default")
    if at < 0:
        return None
    start = max(text.rfind("(", 0, at), text.rfind(";", 0, at)) + 1
    ends = [i for i in (text.find(")", at), text.find(";", at)) if i >= 0]
    return text[start : min(ends, default=len(text))].strip()


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_option(command: str, param) -> list[str]:
    """What is wrong with one option's defaults (empty: nothing)."""
    key, problems = (command, param.name), []
    if key in CLICK:
        want, got = CLICK[key], param.default
        same = str(got) == str(want) if isinstance(got, Path) else got == want
        if not same:
            problems.append(f"default {got!r}, the library's is {want!r}")
    elif not (param.default is None or param.default is False or key in CLI_OWNED):
        problems.append(f"default {param.default!r} typed in the CLI: read it from the library")
    clause = default_clause(param.help or "")
    numbers = [float(n) for n in NUMBER.findall(clause or "")]
    if key in STATED:
        if clause is None:
            return [*problems, "its help does not state the library's default"]
        expected = STATED[key]
        for value in expected:
            found = (any(math.isclose(n, value) for n in numbers) if _is_number(value)
                     else said(value) in clause)  # fmt: skip
            if not found:
                problems.append(f"its help {clause!r} does not state the default {value!r}")
        wanted = [float(v) for v in expected if _is_number(v)]
        stray = [n for n in numbers if not any(math.isclose(n, v) for v in wanted)]
        if stray:
            problems.append(f"its help {clause!r} states {stray}, not the library's {wanted}")
    elif clause is not None and (param.name not in WORDS or param.default is not None or numbers):
        problems.append(f"its help states a default the library does not give: {clause!r}")
    return problems


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=IDS)
def test_every_default_is_the_librarys(path, command):
    name = " ".join(path)
    wrong = [f"{name} --{p.name}: {problem}" for p in command.params
             if p.param_type_name == "option" for problem in check_option(name, p)]  # fmt: skip
    assert not wrong, "\n".join(wrong)


def test_every_mapped_option_exists():
    """The table names options the commands have (a renamed option is not silently unchecked)."""
    options = {(" ".join(path), p.name) for path, command in LEAVES for p in command.params}
    assert set(CLICK) | set(STATED) | set(CLI_OWNED) <= options


def _option(command: str, name: str):
    leaf = dict(zip(IDS, (c for _, c in LEAVES), strict=True))[command]
    return next(p for p in leaf.params if p.name == name)


@pytest.mark.parametrize(
    ("option", "help_text", "value"),
    [
        ("epochs", "Epochs (default 9).", None),  # re-typed: the library says 8
        ("lr", "Learning rate (default 1e-3).", None),  # the same number, written otherwise
        ("epochs", "Epochs.", None),  # the default is not stated any more
        ("seed", "Seed (default 230).", 230),  # typed as the click default
    ],
)
def test_the_check_fails_on_a_retyped_default(option, help_text, value):
    param = _option("train flat", option)
    real = (param.help, param.default)
    try:
        param.help, param.default = help_text, value
        problems = check_option("train flat", param)
    finally:
        param.help, param.default = real
    assert bool(problems) == (option != "lr"), problems


def test_a_changed_library_default_fails_the_check(monkeypatch):
    """A library default the CLI typed itself: the library moves on, the check fails."""
    param = _option("serve", "port")
    monkeypatch.setitem(CLICK, ("serve", "port"), param.default + 1)
    assert check_option("serve", param) == [
        f"default {param.default}, the library's is {param.default + 1}"
    ]


def test_the_reader_sees_what_the_library_holds():
    from hiergenre.models.lite0 import Lite0Encoder
    from hiergenre.train import TrainConfig

    assert library_value("train/config.py", "TrainConfig.l2_grid") == TrainConfig().l2_grid
    assert library_value("models/lite0.py", "Lite0Encoder.native_size") == Lite0Encoder.native_size
    with pytest.raises(LookupError, match="defines no TrainConfig.epoch"):
        library_value("train/config.py", "TrainConfig.epoch")
    with pytest.raises(LookupError, match="not a literal"):
        library_value("train/config.py", "TrainConfig.model")  # field(default_factory=...)


@pytest.mark.parametrize(("command", "option"), [("train flat", "model"),
                                                 ("train hierarchical", "encoder")])  # fmt: skip
def test_the_model_choices_are_the_ones_the_library_takes(command, option):
    from hiergenre.errors import ConfigError
    from hiergenre.models import list_models
    from hiergenre.train.options import check_model

    def takes(name: str) -> bool:
        try:
            check_model(name)
        except ConfigError:
            return False
        return True

    listed = _option(command, option).help.split(" (default")[0].split(" | ")
    taken = [_shown(m) for m in list_models() if takes(m if m != "timm" else "timm/x")]
    assert sorted(listed) == sorted(taken)
