"""The one path from pixels to node probabilities, used by training, evaluation, predict and export.

    cover file --load_square--> uint8 (S, S, 3) --Preprocess--> float (B, 3, S, S) normalised
        --model--> logits (B, K) --model.node_probs--> label-space probs (B, K)
        --to_node_probabilities--> coherent probabilities over every taxonomy node (B, num_nodes)

`Preprocess` is owned by the model (built by `preprocess_for`, saved in the run and restored by
`load_run`): nothing else in the package normalises pixels. Training augments images in [0, 1]
and then applies `Preprocess.normalize`, the same step every later use applies.

Node probabilities are 0 for nodes outside the model's label space. A flat (sigmoid or softmax)
model's scores are made coherent by taking, for every node, the minimum over its ancestors in the
label space (P(node) never exceeds P(parent)); a hierarchical model's already are.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from hiergenre.data.images import load_square
from hiergenre.errors import ConfigError
from hiergenre.featcache import encoder_is_frozen, select, store_features
from hiergenre.models.base import unwrap
from hiergenre.runtime import batch_for
from hiergenre.taxonomy import LabelSpace

log = logging.getLogger(__name__)
RESIZE_POLICIES = ("center-crop",)


@dataclass(frozen=True)
class Preprocess:
    """How a model wants its pixels: a `size` square (`resize` policy), then (x - mean) / std.

    `mean` / `std` are None for models fed raw RGB in [0, 1]. Calling it on uint8 pixels
    (H, W, 3) or (B, H, W, 3), numpy or torch, at `size` returns float32 (B, 3, size, size).
    """

    size: int
    resize: str = "center-crop"
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        if self.resize not in RESIZE_POLICIES:
            raise ConfigError(
                f"unknown resize policy {self.resize!r}: choose {', '.join(RESIZE_POLICIES)}"
            )
        if (self.mean is None) != (self.std is None):
            raise ConfigError("a preprocessing needs both mean and std, or neither")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (inverse of `from_dict`)."""
        return {"size": self.size, "resize": self.resize,
                "mean": None if self.mean is None else list(self.mean),
                "std": None if self.std is None else list(self.std)}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocess:
        """A Preprocess from `to_dict`'s output."""
        mean, std = d.get("mean"), d.get("std")
        return cls(int(d["size"]), str(d.get("resize", "center-crop")),
                   None if mean is None else tuple(float(v) for v in mean),
                   None if std is None else tuple(float(v) for v in std))  # fmt: skip

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1], (3, S, S) or (B, 3, S, S) -> the model's input (same shape)."""
        if self.mean is None:
            return x
        shape = (3, 1, 1) if x.dim() == 3 else (1, 3, 1, 1)
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(shape)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(shape)
        return (x - mean) / std

    def __call__(self, pixels: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 (H, W, 3) or (B, H, W, 3) at `size` -> float32 (B, 3, size, size) normalised."""
        if not torch.is_tensor(pixels):
            pixels = np.asarray(pixels)
            if not pixels.flags.writeable:  # a memmapped store: torch warns on read-only arrays
                pixels = pixels.copy()
        x = torch.as_tensor(pixels)
        if x.dim() == 3:
            x = x[None]
        if x.dim() != 4 or x.shape[-1] != 3 or x.shape[1:3] != (self.size, self.size):
            raise ConfigError(
                f"expected uint8 pixels (B, {self.size}, {self.size}, 3), got {tuple(x.shape)}: "
                f"load covers with Preprocess.load"
            )
        x = x.permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
        return self.normalize(x)

    def load(self, path) -> np.ndarray:
        """Decode a cover file to uint8 (size, size, 3) by the resize policy (ImageDecodeError)."""

        return load_square(path, self.size)


def preprocess_for(model: torch.nn.Module, image_size: int) -> Preprocess:
    """The Preprocess a model's encoder expects (its `input_mean` / `input_std`) at a size."""
    inner = unwrap(model)
    mean, std = getattr(inner, "input_mean", None), getattr(inner, "input_std", None)
    if mean is None or std is None:
        return Preprocess(int(image_size))
    return Preprocess(int(image_size), "center-crop", tuple(map(float, mean)),
                      tuple(map(float, std)))  # fmt: skip


class NodeProbabilities(nn.Module):
    """Label-space probabilities (B, K) -> probabilities over every taxonomy node (B, N).

    Node j gets the minimum of P over its ancestors-or-self that are in the label space
    (`coherent`, for flat models) or its own P (hierarchical models); 0 outside the space.
    Plain gathers, so the same module runs inside the exported ONNX graph.
    Example (coherent): P(Rock) = .3, P(Indie Rock) = .6 -> P(Indie Rock) = .3.
    """

    def __init__(self, label_space: LabelSpace, coherent: bool):
        super().__init__()
        tax = label_space.taxonomy
        pos = {n: k for k, n in enumerate(label_space.nodes)}
        k = label_space.size  # position k of the extended input holds 1.0 (no constraint)
        width = tax.depth if coherent else 1
        table = torch.full((tax.num_nodes, width), k, dtype=torch.long)
        for j, name in enumerate(tax.names):
            chain = tax.path(name) if coherent else [name]
            cols = [pos[a] for a in chain if a in pos]
            table[j, : len(cols)] = torch.tensor(cols, dtype=torch.long)
        inside = torch.tensor([n in pos for n in tax.names], dtype=torch.float32)
        self.register_buffer("table", table, persistent=False)
        self.register_buffer("inside", inside, persistent=False)

    def forward(self, label_probs: torch.Tensor) -> torch.Tensor:
        """(B, K) -> (B, num_nodes)."""
        ones = torch.ones_like(label_probs[:, :1])
        ext = torch.cat([label_probs, ones], dim=1)
        return ext[:, self.table].amin(dim=2) * self.inside


def node_mapper(model: torch.nn.Module) -> NodeProbabilities:
    """The NodeProbabilities of a model (coherent unless its output is hierarchical)."""
    return NodeProbabilities(model.label_space, coherent=model.output != "hierarchical")


def to_node_probabilities(model: torch.nn.Module, label_probs: torch.Tensor) -> torch.Tensor:
    """Label-space probabilities (B, K) of a model -> coherent node probabilities (B, num_nodes)."""
    return node_mapper(model).to(label_probs.device)(label_probs.float())


def node_probabilities(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Model inputs (B, 3, S, S) (already preprocessed) -> coherent node probs (B, num_nodes)."""
    model.eval()
    with torch.inference_mode():
        return to_node_probabilities(model, model.node_probs(model(x)).float())


def predict_pixels(
    model: torch.nn.Module,
    preprocess: Preprocess,
    pixels: np.ndarray,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """uint8 covers (N, S, S, 3) -> coherent node probabilities (N, num_nodes) float32
    (`batch_size` None: `batch_for` the model's input size)."""
    model = model.to(device).eval()
    batch_size = batch_size or batch_for(preprocess.size, device)
    out = [
        node_probabilities(model, preprocess(pixels[i : i + batch_size]).to(device)).cpu().numpy()
        for i in range(0, len(pixels), batch_size)
    ]
    if not out:
        return np.zeros((0, model.label_space.taxonomy.num_nodes), np.float32)
    return np.concatenate(out).astype(np.float32, copy=False)


def decode_ahead(
    items: Sequence, load: Callable[[int], Any], batch_size: int, workers: int = 2, ahead: int = 2
) -> Iterator[list]:
    """`[load(i) for i in batch]` for each batch of `batch_size` positions of `items`, in order,
    while `workers` threads already decode the next `ahead` batches: the covers of `predict`,
    the predictor and `serve` are read (PIL decode and resize, which release the GIL) while the
    model runs on the batch before, so a pass over a library runs at the model's own speed
    (`benchmarks/bench_predict.py`). `load` gets a position and handles its own errors."""
    starts = list(range(0, len(items), batch_size))
    if not starts:
        return
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="hiergenre-decode") as pool:

        def submit(n: int):
            return pool.map(load, range(starts[n], min(starts[n] + batch_size, len(items))))

        pending = deque(submit(n) for n in range(min(ahead, len(starts))))
        for n in range(len(starts)):
            if n + ahead < len(starts):  # keep `ahead` batches decoding behind this one
                pending.append(submit(n + ahead))
            yield list(pending.popleft())


def predict_rows(
    model: torch.nn.Module,
    preprocess: Preprocess,
    store,
    rows: np.ndarray,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
) -> tuple[np.ndarray, np.ndarray, float]:
    """Node probabilities (M, num_nodes) of an ImageStore's rows whose cover decoded, those rows
    (M,), and the seconds the forward passes took (for images / second)."""
    if store.size != preprocess.size:
        raise ConfigError(
            f"the image store holds {store.size}-pixel covers but the model wants "
            f"{preprocess.size}: open the store at the run's image size"
        )
    batch_size = batch_size or batch_for(preprocess.size, device)
    kept = store.usable(np.asarray(rows, dtype=np.int64))
    if len(kept) < len(rows):
        log.warning("leaving out %d rows whose cover failed to decode", len(rows) - len(kept))

    if encoder_is_frozen(model):  # the memoised features of the same encoder on the same covers
        return _rows_from_features(model, preprocess, store, kept, device)
    start = time.perf_counter()
    chunks = [
        predict_pixels(model, preprocess, np.asarray(store.images[kept[i : i + batch_size]]),
                       batch_size, device)
        for i in range(0, len(kept), batch_size)
    ]  # fmt: skip
    seconds = time.perf_counter() - start
    num_nodes = model.label_space.taxonomy.num_nodes
    probs = np.concatenate(chunks) if chunks else np.zeros((0, num_nodes), np.float32)
    return probs, kept, seconds


def _rows_from_features(model, preprocess, store, kept, device) -> tuple:
    """`predict_rows` for a frozen encoder: its cached features of the covers (`featcache`,
    computed by the same `preprocess` + encoder on first use), then the head. The seconds are
    those of the head alone."""

    feats, every = store_features(model, preprocess, store, device)
    start = time.perf_counter()
    model = model.to(device).eval()
    with torch.inference_mode():
        x = select(feats, every, kept).to(device).float()
        probs = to_node_probabilities(model, model.node_probs(model.head(x)).float())
    return probs.cpu().numpy().astype(np.float32), kept, time.perf_counter() - start


@dataclass(frozen=True)
class Speed:
    """Covers per second of a whole model (preprocessing, encoder, head, node probabilities) on
    covers decoded beforehand, timed warm: one batch runs first and is not timed (the first
    forward of a process pays for thread pools, kernel choice and fresh heap pages, several times
    a warm batch), then `covers` covers in batches of `batch_size`."""

    images_per_s: float
    batch_size: int
    covers: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"images_per_s": self.images_per_s, "batch_size": self.batch_size,
                "covers": self.covers, "seconds": self.seconds}  # fmt: skip


def measure_speed(
    model: torch.nn.Module,
    preprocess: Preprocess,
    pixels: np.ndarray,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
) -> Speed:
    """The one speed number of a model (see `Speed`): `pixels` uint8 (N, S, S, 3); the first
    batch warms up, every cover is then timed (`batch_size` None: `batch_for` the size)."""
    batch_size = batch_size or batch_for(preprocess.size, device)
    if not len(pixels):
        raise ConfigError("measuring a model's speed needs at least one cover")
    predict_pixels(model, preprocess, pixels[:batch_size], batch_size, device)  # warm-up
    start = time.perf_counter()
    predict_pixels(model, preprocess, pixels, batch_size, device)
    seconds = time.perf_counter() - start
    return Speed(len(pixels) / max(seconds, 1e-9), int(batch_size), len(pixels), seconds)
