"""`load_predictor`: a trained run kept in memory, for notebooks, the tagger and the web server.

    >>> p = load_predictor("runs/lite0")                       # doctest: +SKIP
    >>> p.predict(["cover.jpg", pil_image, uint8_array])[0].top  # doctest: +SKIP

Images are paths, PIL images or uint8 arrays (H, W, 3) / (N, H, W, 3). A cover that cannot be
decoded gets a `Prediction` with `error` set instead of stopping the batch. Inference runs under
a lock, so one predictor can serve several threads.

`backend`: `torch` runs the run's model (`hiergenre.inference`); `onnx` runs the same model
exported by `hiergenre.export` (once per set of weights, cached under the cache directory and
checked against torch within `export.TOLERANCE`) in ONNX Runtime, on the CPU. Both give the same
node probabilities within that tolerance; `benchmarks/results/predict.md` says which is faster.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from hiergenre.data.images import ImageDecodeError, square_resize, to_rgb
from hiergenre.data.store import cache_root
from hiergenre.decode import DECODERS, Thresholds, top_paths
from hiergenre.device import resolve_device
from hiergenre.errors import ConfigError, DataError, check_choice
from hiergenre.export import OPSET, require_onnx, write_onnx
from hiergenre.inference import decode_ahead, predict_pixels
from hiergenre.train import load_run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenrePath:
    """One coherent genre path, level 1 first, with the model's probability of each node."""

    names: tuple[str, ...]
    probs: tuple[float, ...]  # non-increasing along the path
    score: float

    @property
    def genre(self) -> str:
        """The deepest genre of the path."""
        return self.names[-1]

    def __str__(self) -> str:
        return " > ".join(f"{n} ({p:.2f})" for n, p in zip(self.names, self.probs, strict=True))

    def to_dict(self) -> dict:
        """JSON-ready form: {"path", "probs", "score"}."""
        return {"path": list(self.names), "probs": list(self.probs), "score": self.score}


@dataclass(frozen=True)
class Prediction:
    """The top genre paths of one cover (best first), or why the cover could not be read."""

    source: str
    paths: tuple[GenrePath, ...] = ()
    error: str | None = None

    @property
    def top(self) -> GenrePath | None:
        """The best path (None when the cover could not be read)."""
        return self.paths[0] if self.paths else None

    def to_dict(self) -> dict:
        """JSON-ready form: {"image", "paths", "error"}."""
        return {"image": self.source, "paths": [p.to_dict() for p in self.paths],
                "error": self.error}  # fmt: skip


class Predictions(tuple):
    """A tuple of `Prediction`s with `.to_frame()`."""

    def to_frame(self):
        """One row per cover and path rank: image, rank, path, genre, level, score, error."""

        rows = []
        for item in self:
            if item.error is not None:
                rows.append({"image": item.source, "rank": None, "path": None, "genre": None,
                             "level": None, "score": None, "error": item.error})  # fmt: skip
            for rank, p in enumerate(item.paths, 1):
                rows.append({"image": item.source, "rank": rank, "path": " > ".join(p.names),
                             "genre": p.genre, "level": len(p.names), "score": p.score,
                             "error": None})  # fmt: skip
        return pd.DataFrame(rows, columns=["image", "rank", "path", "genre", "level", "score",
                                           "error"])  # fmt: skip


@dataclass(frozen=True)
class DecodeOptions:
    """How node probabilities become paths: `top_k` paths, decoder, stop threshold (None with
    `threshold`: the run's own per level, chosen on its dev part)."""

    top_k: int = 3
    decode: str = "greedy"
    threshold: float | None = None

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ConfigError(f"`top_k` must be at least 1, got {self.top_k}")

        check_choice("`decode`", self.decode, DECODERS)
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"`threshold` must be between 0 and 1, got {self.threshold}")


BACKENDS = ("torch", "onnx")


# --- the one seam to the training package: how a run is loaded, fed and decoded ---------------
def _open_run(run_dir: Path, which: str, device: str):
    """A `hiergenre.train.LoadedRun` (eval-mode model, taxonomy, preprocess, trained nodes)."""

    return load_run(run_dir, which=which, device=device)


def _forward(run, pixels: np.ndarray, device: str) -> np.ndarray:
    """uint8 (B, S, S, 3) -> coherent node probabilities (B, num_nodes) (`inference`)."""

    return predict_pixels(run.model, run.preprocess, pixels, batch_size=max(1, len(pixels)),
                          device=device)  # fmt: skip


def onnx_path(run) -> Path:
    """Where a run's exported graph is cached: keyed by its weights, label space, preprocessing
    and the export's opset, so changed weights are never served by a stale graph."""

    h = hashlib.sha256(f"{OPSET}:{run.label_space.nodes}:{run.preprocess.to_dict()}".encode())
    h.update(f"{run.model.output}:{tuple(run.trained_nodes)}".encode())
    for name, tensor in sorted(run.model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return cache_root() / "onnx" / f"model-{h.hexdigest()[:24]}.onnx"


class OnnxForward:
    """uint8 (B, S, S, 3) -> node probabilities (B, num_nodes) by ONNX Runtime on the CPU, from
    the run's exported graph (exported and checked on first use)."""

    def __init__(self, run, threads: int | None = None):

        require_onnx()
        # lazy: optional: onnxruntime (the onnx extra) only for the ONNX backend
        import onnxruntime as ort

        path = onnx_path(run)
        if not path.is_file():
            log.info("exporting %s to ONNX at %s", run.run_dir, path)
            write_onnx(run, path, check=True)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or torch.get_num_threads()
        opts.inter_op_num_threads = 1
        # no busy-waiting between runs: the cover-decoding threads need those cores meanwhile
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        image = np.ascontiguousarray(pixels.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0
        (probs,) = self.session.run(["node_probs"], {"image": image})
        return probs.astype(np.float32, copy=False)


def run_threshold(run, decode: str, threshold: Thresholds) -> Thresholds:
    """The stop threshold(s) of a decode: the given one, else for `threshold` the run's own per
    level (chosen on dev in training, `LoadedRun.model.decode_thresholds`), else None."""
    if threshold is not None or decode != "threshold":
        return threshold
    return getattr(run.model, "decode_thresholds", None)


def _paths(run, node_probs: np.ndarray, options: DecodeOptions) -> list[list[dict]]:
    """`decode.top_paths`, never through genres the run did not train on."""

    threshold = run_threshold(run, options.decode, options.threshold)
    return top_paths(node_probs, run.taxonomy, options.top_k, decode=options.decode,
                     threshold=threshold, allowed=run.trained_nodes)  # fmt: skip


def _as_sources(images) -> list:
    """One image or a sequence of them -> a list of single images (paths, PIL, (H, W, 3))."""

    if isinstance(images, (str, Path, Image.Image)):
        return [images]
    if isinstance(images, np.ndarray):
        return list(images) if images.ndim == 4 else [images]
    return list(images)


def _label(item, i: int) -> str:
    return str(item) if isinstance(item, (str, Path)) else f"<image {i}>"


class Predictor:
    """A run's model kept loaded: `predict` (paths) and `node_probs` (DataFrame)."""

    def __init__(self, run, device: str, backend: str = "torch"):
        check_choice("`backend`", backend, BACKENDS)
        if backend == "onnx" and device != "cpu":
            raise ConfigError("`backend` onnx runs on the CPU: pass `device` cpu (or torch)")
        self.run = run  # hiergenre.train.LoadedRun: model, config, taxonomy, preprocess, ...
        self.device = device
        self.backend = backend
        self.taxonomy = run.taxonomy
        self.model_name = run.config.model.name
        self.image_size = run.preprocess.size
        self.trained_nodes = tuple(run.trained_nodes)  # the only genres `predict` proposes
        self._lock = threading.Lock()
        self._onnx = OnnxForward(run) if backend == "onnx" else None

    def __repr__(self) -> str:
        where = str(self.run.run_dir)
        return (f"Predictor({self.model_name!r}, run={where!r}, device={self.device!r}, "
                f"backend={self.backend!r})")  # fmt: skip

    def load_pixels(self, item) -> np.ndarray:
        """One image (path, PIL image or uint8 array) -> uint8 (S, S, 3) at the model's size."""

        if isinstance(item, (str, Path)):
            return self.run.preprocess.load(item)
        if isinstance(item, np.ndarray):
            rgb = item.ndim == 3 and item.shape[2] == 3
            if item.dtype != np.uint8 or not (rgb or item.ndim == 2):
                raise DataError(
                    f"an array image must be uint8 (H, W, 3) or (H, W), got {item.dtype} "
                    f"{item.shape}; convert it with .astype(np.uint8)"
                )
            item = Image.fromarray(item)
        if not isinstance(item, Image.Image):
            raise DataError(f"cannot read an image from {type(item).__name__}: pass a path, "
                            "a PIL image or a uint8 array")  # fmt: skip
        return square_resize(to_rgb(item), self.image_size)  # the "center-crop" policy

    def probs_from_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 (B, S, S, 3) -> coherent node probabilities (B, num_nodes), float32."""
        with self._lock:
            if self._onnx is not None:
                return self._onnx(pixels)
            return _forward(self.run, pixels, self.device)

    def paths_from_probs(self, probs: np.ndarray, options: DecodeOptions) -> list[list[GenrePath]]:
        """Node probabilities (B, num_nodes) -> the top paths of each row."""
        decoded = _paths(self.run, probs, options)
        return [[GenrePath(tuple(p["path"]), tuple(float(v) for v in p["probs"]),
                           float(p["score"])) for p in rows] for rows in decoded]  # fmt: skip

    def iter_predict(
        self,
        images,
        options: DecodeOptions = DecodeOptions(),
        *,
        batch_size: int = 32,
        workers: int = 2,
        progress: Callable[[int], None] | None = None,
    ) -> Iterator[Prediction]:
        """Predictions in input order; covers are decoded by `workers` threads while the model
        runs on the previous batch. `progress(n)` is called after each batch of n covers."""
        if batch_size < 1:
            raise ConfigError(f"`batch_size` must be at least 1, got {batch_size}")
        items = _as_sources(images)
        for batch, probs in self._batches(items, batch_size, max(1, workers)):
            decoded = self.paths_from_probs(probs, options) if len(probs) else []
            rows = iter(decoded)
            for label, _, error in batch:
                yield (
                    Prediction(label, error=error)
                    if error
                    else Prediction(label, tuple(next(rows)))
                )
            if progress is not None:
                progress(len(batch))

    def iter_node_probs(
        self, images, *, batch_size: int = 32, workers: int = 2
    ) -> Iterator[tuple[str, np.ndarray | None, str | None]]:
        """(label, coherent node probabilities (num_nodes,) or None, decode error) per image in
        input order, decoded as `iter_predict` does (for callers that decode paths themselves)."""
        if batch_size < 1:
            raise ConfigError(f"`batch_size` must be at least 1, got {batch_size}")
        for batch, probs in self._batches(_as_sources(images), batch_size, max(1, workers)):
            rows = iter(probs)
            for label, _, error in batch:
                yield label, (None if error else next(rows)), error

    def predict(self, images, top_k: int = 3, decode: str = "greedy",
                threshold: float | None = None, batch_size: int = 32) -> Predictions:  # fmt: skip
        """The `top_k` coherent genre paths of each image (a `Predictions` tuple)."""
        options = DecodeOptions(top_k, decode, threshold)
        return Predictions(self.iter_predict(images, options, batch_size=batch_size))

    def node_probs(self, images, batch_size: int = 32):
        """A DataFrame (images x genres) of the model's coherent node probabilities; a cover that
        cannot be read gets a row of NaN (see `predict` for the reason)."""

        items = _as_sources(images)
        out = np.full((len(items), self.taxonomy.num_nodes), np.nan, np.float32)
        at = 0
        for batch, probs in self._batches(items, batch_size, 1):
            ok = [at + i for i, (_, _, error) in enumerate(batch) if error is None]
            out[ok] = probs
            at += len(batch)
        return pd.DataFrame(out, index=[_label(x, i) for i, x in enumerate(items)],
                            columns=list(self.taxonomy.names))  # fmt: skip

    def _batches(
        self, items: list, batch_size: int, workers: int
    ) -> Iterator[tuple[list, np.ndarray]]:
        """Yield ([(label, pixels, error)], probs of the readable ones) per batch, decoding the next
        batch in a thread pool while the model runs on this one."""

        def load(i: int) -> tuple[str, np.ndarray | None, str | None]:
            try:
                return _label(items[i], i), self.load_pixels(items[i]), None
            except ImageDecodeError as exc:
                why = exc.reason + (f" ({exc.detail})" if exc.detail else "")
                return _label(items[i], i), None, why

        for batch in decode_ahead(items, load, batch_size, workers):
            good = [px for _, px, err in batch if err is None]
            probs = self.probs_from_pixels(np.stack(good)) if good else np.zeros((0, 0))
            yield batch, probs


def load_predictor(
    run_dir: str | Path, device: str = "auto", which: str = "best", backend: str = "torch"
) -> Predictor:
    """Load a trained run once (model in eval mode on `device`: auto | cpu | cuda; `backend`
    torch | onnx, see the module doc)."""
    check_choice("`backend`", backend, BACKENDS)
    dev = "cpu" if backend == "onnx" and device == "auto" else resolve_device(device).type
    return Predictor(_open_run(Path(run_dir), which, dev), dev, backend)


def predictions_to_dicts(predictions: Iterable[Prediction]) -> list[dict]:
    """JSON-ready list (the `predict --json` and the web API form)."""
    return [p.to_dict() for p in predictions]


__all__ = ["DecodeOptions", "GenrePath", "Prediction", "Predictions", "Predictor",
           "load_predictor", "predictions_to_dicts"]  # fmt: skip
