"""Any timm model as the encoder, by name: `timm/convnext_tiny.fb_in22k`, `timm/test_resnet`, ...

The name after `timm/` is what `timm.create_model` takes (architecture, optionally `.tag`). The
network is built without its classifier (`num_classes=0`: pooled features), and its input
normalisation and native input size come from timm's pretrained config for that name
(`timm.data.resolve_model_data_config`), so the model is fed as its weights expect.

Weights, in order of preference: `weights_file` (a local .safetensors or torch state dict of the
same architecture; classifier tensors are dropped), then `weights="hub"` through timm's hub loader
(downloads on a connected machine, uses the Hugging Face cache when the file is there), else random
init: `pretrained=False` and a loud `notice` that training, evaluation and the benchmark carry into
every output, as for ResNet-101. `weights="none"` asks for random init on purpose (no notice).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from hiergenre.errors import CheckpointError, ConfigError, check_choice
from hiergenre.models.base import Encoder, GenreModel, pretrained_flat_model
from hiergenre.models.frozen import encoder_flags, feature_encoder
from hiergenre.models.registry import register_model
from hiergenre.models.resnet import read_state_dict
from hiergenre.taxonomy import LabelSpace, Taxonomy

logger = logging.getLogger(__name__)


def _create(model_name: str, pretrained: bool, drop_rate: float) -> torch.nn.Module:
    # lazy: heavy: importing timm takes about a second; only timm-backed models need it
    import timm

    try:
        return timm.create_model(
            model_name, pretrained=pretrained, num_classes=0, drop_rate=drop_rate
        )
    except RuntimeError as err:
        if "Unknown model" not in str(err):
            raise
        arch = model_name.split(".")[0]
        close = timm.list_models(f"*{arch[:6]}*")[:5]
        hint = f" (e.g. {', '.join(close)})" if close else ""
        raise ConfigError(
            f"timm has no model {model_name!r}{hint}: see timm.list_models() for the names"
        ) from None


class TimmEncoder(Encoder):
    """A timm network without its classifier: x (B, 3, S, S) -> pooled features (B, D)."""

    def __init__(
        self,
        model_name: str,
        weights: str = "hub",
        weights_file: str | None = None,
        drop_rate: float = 0.0,
    ):
        super().__init__()
        if not model_name:
            raise ConfigError("name the timm model: `encoder` timm/<name>, e.g. timm/resnet50")
        self.model_name = model_name
        self.net = _create(model_name, False, drop_rate)
        self.pretrained, self.notice = self._load(weights, weights_file, drop_rate)
        # lazy: heavy: importing timm takes about a second; only timm-backed models need it
        from timm.data import resolve_model_data_config

        data = resolve_model_data_config(self.net)
        self.input_mean = tuple(float(v) for v in data["mean"])
        self.input_std = tuple(float(v) for v in data["std"])
        self.native_size = int(data["input_size"][-1])
        self.feature_dim = int(self.net.num_features)

    def _load(
        self, weights: str, weights_file: str | None, drop_rate: float
    ) -> tuple[bool, str | None]:
        if weights_file:
            self._load_file(weights_file)
            return True, None
        if weights == "none":
            return False, None
        try:
            self._load_file(hub_weights(self.net.pretrained_cfg))
        except Exception as err:  # offline: OSError, LocalEntryNotFoundError, HTTP errors...
            return False, (
                f"timm/{self.model_name} ran WITHOUT pretrained weights (random init): {err}; "
                "pass --weights FILE (.safetensors) to fix"
            )
        return True, None

    def _load_file(self, path: str) -> None:
        state = read_state_dict(path)
        own = self.net.state_dict()
        state = {k: v for k, v in state.items() if k in own or not _is_classifier(self.net, k)}
        try:
            self.net.load_state_dict(state)
        except RuntimeError as err:
            detail = str(err).splitlines()[-1].strip()[:200]
            raise CheckpointError(
                f"{path} is not a state dict of timm/{self.model_name}: {detail}"
            ) from err

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, S, S) normalised with `input_mean` / `input_std` -> (B, feature_dim)."""
        return self.net(x)


def _unavailable(url: str, timeout: float = 3.0) -> str | None:
    """Why the hub cannot serve `url` (one HEAD request, no retries), or None when it can."""
    # lazy: heavy: comes with timm; only hub weights need it
    from huggingface_hub import get_hf_file_metadata

    try:
        get_hf_file_metadata(url, timeout=timeout)
    except Exception as err:  # httpx ConnectError / TimeoutException, HfHubHTTPError (5xx, 404)
        return f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"
    return None


def hub_weights(pretrained_cfg: dict) -> str:
    """Local path of a timm model's hub weights: the Hugging Face cache, else a download.

    Raises OSError when they are not cached and the hub cannot serve them, checked with one HEAD
    request without retries first, so an offline machine or a hub answering 5xx fails at once
    instead of `hf_hub_download` retrying with backoff for ~25 s.
    """
    # lazy: heavy: comes with timm; only hub weights need it
    from huggingface_hub import constants, hf_hub_download, hf_hub_url

    hub_id = pretrained_cfg.get("hf_hub_id")
    if not hub_id:
        raise OSError("timm names no Hugging Face hub weights for this model")
    filename = pretrained_cfg.get("hf_hub_filename") or "model.safetensors"
    try:
        return hf_hub_download(hub_id, filename, local_files_only=True)
    except Exception:  # LocalEntryNotFoundError: not cached yet
        log_msg = "hub weights of %s are not cached; trying %s"
        logger.info(log_msg, hub_id, constants.ENDPOINT)
    if constants.HF_HUB_OFFLINE:
        raise OSError(f"{hub_id} is not cached and the hub is off (HF_HUB_OFFLINE)")
    why = _unavailable(hf_hub_url(hub_id, filename))
    if why:
        raise OSError(f"{hub_id} is not cached and {constants.ENDPOINT} cannot serve it ({why})")
    return hf_hub_download(hub_id, filename)


def _is_classifier(net: torch.nn.Module, key: str) -> bool:
    """True for the tensors of the classifier that `num_classes=0` removed (e.g. `fc.weight`)."""
    names = net.pretrained_cfg.get("classifier") or ()
    names = (names,) if isinstance(names, str) else tuple(names)
    return any(key == n or key.startswith(n + ".") for n in names)


@dataclass(frozen=True)
class TimmConfig:
    """A timm encoder + linear head. weights: hub | none; mode: frozen | finetune."""

    model_name: str = ""
    weights: str = "hub"
    weights_file: str | None = None
    mode: str = "frozen"
    output: str = "sigmoid"
    drop_rate: float = 0.0
    features: str = "pooled"  # pooled | style | pooled+style (see models/frozen.py)


@register_model("timm")
def timm_model(
    config: TimmConfig, label_space: LabelSpace | None, taxonomy: Taxonomy
) -> GenreModel:
    """Any timm model (`timm/<name>`) as the encoder, with a linear head."""
    check_choice("weights", config.weights, ("hub", "none"))
    base = TimmEncoder(config.model_name, config.weights, config.weights_file, config.drop_rate)
    encoder = feature_encoder(base, f"timm/{config.model_name}", config.features)
    encoder.pretrained, encoder.notice = encoder_flags(encoder)
    return pretrained_flat_model(encoder, config, label_space, taxonomy)
