"""`export_onnx`: a trained run as an ONNX model, checked against PyTorch with onnxruntime.

The graph takes `image` (batch, 3, S, S) float RGB in [0, 1] (resize only: the model's input
normalisation is inside the graph) and returns `probs` (batch, K) over the run's label space and
`logits` (batch, K). The batch axis is dynamic. Label names and the image size are stored in the
model's metadata (`labels` as a JSON list, `image_size`, `output`) and in `<out>.labels.json`.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hiergenre.data.images import RESIZE_FILTER
from hiergenre.errors import CheckpointError, ConfigError
from hiergenre.fileio import atomic_path, atomic_write_text
from hiergenre.inference import node_mapper, predict_pixels
from hiergenre.train import load_run

log = logging.getLogger(__name__)
OPSET = 17
TOLERANCE = 1e-4


class ExportWrapper(nn.Module):
    """[0, 1] RGB (B, 3, S, S) -> (node probs (B, N), label probs (B, K), logits (B, K)).

    The run's Preprocess normalisation and the coherent node probabilities are inside the graph,
    so onnxruntime gives what `hiergenre predict` gives for the same pixels."""

    def __init__(self, model: nn.Module, preprocess):
        super().__init__()

        self.model = model
        self.preprocess = preprocess
        self.nodes = node_mapper(model)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """image (B, 3, S, S) in [0, 1] -> node_probs (B, N), probs (B, K), logits (B, K)."""
        logits = self.model(self.preprocess.normalize(image))
        probs = self.model.node_probs(logits)
        return self.nodes(probs), probs, logits


OUTPUTS = ["node_probs", "probs", "logits"]


def export_onnx(
    run_dir: str | Path, out: str | Path | None = None, check: bool = True, batch: int = 2
) -> dict:
    """Write `<run_dir>/model.onnx` (or `out`); with `check`, compare onnxruntime's outputs with
    `hiergenre.inference` on the same uint8 pixels and raise CheckpointError beyond 1e-4."""

    out = Path(out) if out is not None else Path(run_dir) / "model.onnx"
    if out.suffix != ".onnx":
        raise ConfigError(f"`out` {out} should end in .onnx")
    return write_onnx(load_run(run_dir), out, check, batch)


def write_onnx(run, out: Path, check: bool = True, batch: int = 2) -> dict:
    """`export_onnx` of a loaded run (`hiergenre.train.LoadedRun`) to the .onnx file `out`."""
    require_onnx()
    model, space, size = run.model, run.label_space, run.preprocess.size
    wrapper = ExportWrapper(model, run.preprocess).eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper, (example,), buf, dynamo=False, opset_version=OPSET,
            input_names=["image"], output_names=OUTPUTS,
            dynamic_axes={name: {0: "batch"} for name in ["image", *OUTPUTS]},
        )  # fmt: skip
    _write_with_metadata(buf.getvalue(), out, run, model.output)
    summary = {"onnx": str(out), "image_size": size, "labels": space.size, "output": model.output}
    if check:
        summary["max_abs_diff"] = check_onnx(out, run)
    return summary


def require_onnx() -> None:
    """ConfigError naming the extra to install when onnx or onnxruntime is missing."""

    missing = [m for m in ("onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"ONNX needs {' and '.join(missing)}: pip install 'hiergenre[onnx]'")


def _write_with_metadata(data: bytes, out: Path, run, output: str) -> None:
    # lazy: optional: onnx is in the test extra, needed only to export
    import onnx

    proto = onnx.load_from_string(data)
    space, pre = run.label_space, run.preprocess
    meta = {"labels": json.dumps(list(space.nodes)), "image_size": str(pre.size),
            "output": output, "label_space": space.name,
            "nodes": json.dumps(list(run.taxonomy.names)),
            "trained_nodes": json.dumps(list(run.trained_nodes)),
            "preprocess": json.dumps(pre.to_dict()),
            "input": f"RGB in [0, 1], (batch, 3, S, S), {pre.resize} then {RESIZE_FILTER} "
                     "resize to S; normalised inside",
            "resize_filter": RESIZE_FILTER,
            }  # fmt: skip
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    with atomic_path(out) as tmp:
        onnx.save(proto, tmp)
    plain = {k: json.loads(v) if k in ("labels", "nodes", "trained_nodes", "preprocess") else v
             for k, v in meta.items()}  # fmt: skip
    atomic_write_text(out.with_suffix(".labels.json"), json.dumps(plain, indent=1) + "\n")


def check_onnx(path: Path, run, batches: tuple[int, ...] = (1, 3)) -> float:
    """Largest |onnxruntime - inference.predict_pixels| over node probabilities of random uint8
    covers fed as RGB in [0, 1], for several batch sizes (dynamic axis)."""
    # lazy: optional: onnxruntime is needed only to check an export
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    size = run.preprocess.size
    rng = np.random.default_rng(1)
    worst = 0.0
    for n in batches:
        pixels = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
        want = predict_pixels(run.model, run.preprocess, pixels)
        image = pixels.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
        (got,) = session.run(["node_probs"], {"image": image})
        worst = max(worst, float(np.abs(got - want).max()))
    if worst > TOLERANCE:
        raise CheckpointError(
            f"ONNX outputs differ from PyTorch by {worst:.2e} (> {TOLERANCE}): report this model"
        )
    return worst
