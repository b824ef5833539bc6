"""Checkpoints: tensors in safetensors, everything else as JSON; atomic writes; verified loads.

`save_checkpoint(stem, ...)` writes `<stem>.safetensors` (model weights under `model.`, optimizer
state tensors under `optim.`, RNG states under `rng.`) whose header metadata holds the JSON
metadata, a sha256 of the tensor contents and a sha256 of that metadata, then `<stem>.json`, a
readable copy of the same metadata. Each file goes to a temporary name first and is renamed
with `os.replace`, so a kill never leaves a half-written file under the final name. The
safetensors file is self-contained: loading needs nothing else, never unpickles, and a truncated
or bit-flipped file fails the header parse or one of the two hashes with a CheckpointError.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from hiergenre.errors import CheckpointError

log = logging.getLogger(__name__)
FORMAT = "hiergenre-checkpoint/1"


def tensor_digest(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over names, dtypes, shapes and raw bytes of every tensor, in name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def meta_digest(meta: dict[str, Any]) -> str:
    """sha256 of the JSON metadata (every key but `meta_sha256` itself, keys sorted)."""
    body = {k: v for k, v in meta.items() if k != "meta_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- optimizer and RNG state <-> (tensors, JSON) ---------------------------------------------
def flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split `optimizer.state_dict()` into tensors (`optim.<param>.<key>`) and a JSON part."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    """Inverse of `flatten_optimizer`."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = value
    for pid, entry in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(entry)
    groups = [  # JSON turned tuples (Adam's betas) into lists
        {k: tuple(v) if isinstance(v, list) and k != "params" else v for k, v in g.items()}
        for g in meta["param_groups"]
    ]
    return {"state": state, "param_groups": groups}


def capture_rng() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Python, numpy and torch (CPU and CUDA) generator states as tensors plus JSON."""
    version, words, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors = {
        "rng.python": torch.tensor(words, dtype=torch.int64),
        "rng.numpy": torch.from_numpy(keys.astype(np.int64)),
        "rng.torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    meta = {"python": [version, gauss], "numpy": [kind, int(pos), int(has_gauss), float(cached)]}
    return tensors, meta


def restore_rng(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Inverse of `capture_rng`."""
    version, gauss = meta["python"]
    random.setstate((version, tuple(int(x) for x in tensors["rng.python"].tolist()), gauss))
    kind, pos, has_gauss, cached = meta["numpy"]
    keys = tensors["rng.numpy"].numpy().astype(np.uint32)
    np.random.set_state((kind, keys, pos, has_gauss, cached))
    torch.set_rng_state(tensors["rng.torch"])
    cuda = sorted(k for k in tensors if k.startswith("rng.cuda."))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])


# --- save / load ------------------------------------------------------------------------------
def save_checkpoint(
    stem: str | Path,
    model_state: dict[str, torch.Tensor],
    meta: dict[str, Any],
    optimizer_state: dict[str, Any] | None = None,
    with_rng: bool = True,
) -> Path:
    """Write `<stem>.safetensors` + `<stem>.json` atomically; returns the safetensors path."""
    stem = Path(stem)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model_state.items()}
    meta = dict(meta, format=FORMAT)
    if optimizer_state is not None:
        opt_tensors, meta["optimizer"] = flatten_optimizer(optimizer_state)
        tensors.update(opt_tensors)
    if with_rng:
        rng_tensors, meta["rng"] = capture_rng()
        tensors.update(rng_tensors)
    meta["tensor_sha256"] = tensor_digest(tensors)
    meta["meta_sha256"] = meta_digest(meta)  # a flipped digit in "epoch" must not load either
    blob = st_save(tensors, metadata={"hiergenre": json.dumps(meta)})
    path = stem.with_suffix(".safetensors")
    _atomic_write(path, blob)
    sidecar = dict(meta, file_sha256=hashlib.sha256(blob).hexdigest())
    _atomic_write(stem.with_suffix(".json"), (json.dumps(sidecar, indent=1) + "\n").encode())
    return path


class Checkpoint:
    """A loaded, verified checkpoint: `meta` (dict), `model_state`, `tensors` (all of them)."""

    def __init__(self, path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]):
        self.path = path
        self.tensors = tensors
        self.meta = meta

    @property
    def model_state(self) -> dict[str, torch.Tensor]:
        return {k[6:]: v for k, v in self.tensors.items() if k.startswith("model.")}

    def optimizer_state(self) -> dict[str, Any] | None:
        if "optimizer" not in self.meta:
            return None
        return unflatten_optimizer(self.tensors, self.meta["optimizer"])

    def restore_rng(self) -> None:
        restore_rng(self.tensors, self.meta["rng"])


def _refuse(path: Path, what: str, found: Any, wanted: Any) -> None:
    if wanted is not None and found != wanted:
        raise CheckpointError(
            f"checkpoint {path} was made for {what} {found!r}, not {wanted!r}: "
            f"use a checkpoint trained for this {what} or train a new run"
        )


def load_checkpoint(
    path: str | Path,
    *,
    taxonomy_digest: str | None = None,
    label_space: str | None = None,
    model_name: str | None = None,
) -> Checkpoint:
    """Read and verify a checkpoint; refuse one made for another taxonomy, label space or model."""
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_suffix(".safetensors")
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: check the run directory")
    blob = path.read_bytes()
    try:
        tensors = st_load(blob)
        header = json.loads(blob[8 : 8 + int.from_bytes(blob[:8], "little")])
        meta = json.loads(header["__metadata__"]["hiergenre"])
    except (SafetensorError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated ({type(exc).__name__}): "
            "resume from another checkpoint or retrain"
        ) from None
    if (
        meta.get("format") != FORMAT
        or tensor_digest(tensors) != meta.get("tensor_sha256")
        or meta_digest(meta) != meta.get("meta_sha256")
    ):
        raise CheckpointError(
            f"checkpoint {path} failed its integrity check (content hash mismatch): "
            "resume from another checkpoint or retrain"
        )
    _refuse(path, "taxonomy", meta.get("taxonomy_digest"), taxonomy_digest)
    _refuse(path, "label space", meta.get("label_space"), label_space)
    _refuse(path, "model", meta.get("model_name"), model_name)
    return Checkpoint(path, tensors, meta)
