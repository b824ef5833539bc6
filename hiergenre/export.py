"""`export_onnx`: a trained run as an ONNX model, checked against PyTorch with onnxruntime.

The graph takes `image` (batch, 3, S, S) float RGB in [0, 1] (resize only: the model's input
normalisation is inside the graph) and returns `probs` (batch, K) over the run's label space and
`logits` (batch, K). The batch axis is dynamic. Label names and the image size are stored in the
model's metadata (`labels` as a JSON list, `image_size`, `output`) and in `<out>.labels.json`.
"""

from __future__ import annotations

import io
import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hiergenre.errors import CheckpointError, ConfigError

log = logging.getLogger(__name__)
OPSET = 17
TOLERANCE = 1e-4


class ExportWrapper(nn.Module):
    """[0, 1] images (B, 3, S, S) -> (probs (B, K), logits (B, K)), normalisation included."""

    def __init__(self, model: nn.Module, normalize: bool):
        super().__init__()
        from hiergenre.data.loader import IMAGENET_MEAN, IMAGENET_STD

        self.model = model
        self.normalize = normalize
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """image (B, 3, S, S) in [0, 1] -> probs (B, K), logits (B, K)."""
        x = (image - self.mean) / self.std if self.normalize else image
        logits = self.model(x)
        return self.model.node_probs(logits), logits


def export_onnx(
    run_dir: str | Path, out: str | Path | None = None, check: bool = True, batch: int = 2
) -> dict:
    """Write `<run_dir>/model.onnx` (or `out`); with `check`, compare onnxruntime's outputs with
    PyTorch's on random images and raise CheckpointError beyond 1e-4. Returns a summary dict."""
    from hiergenre.train import load_run

    model, config, _, space = load_run(run_dir)
    size = config.data.image_size
    wrapper = ExportWrapper(model, getattr(model, "input_mean", None) is not None).eval()
    out = Path(out) if out is not None else Path(run_dir) / "model.onnx"
    if out.suffix != ".onnx":
        raise ConfigError(f"--out {out} should end in .onnx")
    out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper, (example,), buf, dynamo=False, opset_version=OPSET,
            input_names=["image"], output_names=["probs", "logits"],
            dynamic_axes={"image": {0: "batch"}, "probs": {0: "batch"}, "logits": {0: "batch"}},
        )  # fmt: skip
    _write_with_metadata(buf.getvalue(), out, space, size, model.output)
    summary = {"onnx": str(out), "image_size": size, "labels": space.size, "output": model.output}
    if check:
        summary["max_abs_diff"] = check_onnx(out, wrapper, size)
    return summary


def _write_with_metadata(data: bytes, out: Path, space, size: int, output: str) -> None:
    import onnx

    proto = onnx.load_from_string(data)
    meta = {"labels": json.dumps(list(space.nodes)), "image_size": str(size), "output": output,
            "label_space": space.name, "input": "RGB in [0, 1], (batch, 3, S, S)"}  # fmt: skip
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    tmp = out.with_suffix(".onnx.tmp")
    onnx.save(proto, tmp)
    tmp.replace(out)
    labels = out.with_suffix(".labels.json")
    labels.write_text(json.dumps({**meta, "labels": list(space.nodes)}, indent=1) + "\n")


def check_onnx(
    path: Path, wrapper: nn.Module, size: int, batches: tuple[int, ...] = (1, 3)
) -> float:
    """Largest |onnxruntime - PyTorch| over random batches of several sizes (dynamic axis)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    gen = torch.Generator().manual_seed(1)
    for n in batches:
        x = torch.rand(n, 3, size, size, generator=gen)
        with torch.inference_mode():
            want = [t.numpy() for t in wrapper(x)]
        got = session.run(["probs", "logits"], {"image": x.numpy()})
        worst = max(worst, *(float(np.abs(g - w).max()) for g, w in zip(got, want, strict=True)))
    if worst > TOLERANCE:
        raise CheckpointError(
            f"ONNX outputs differ from PyTorch by {worst:.2e} (> {TOLERANCE}): report this model"
        )
    return worst
