"""Duplicate covers: byte-identical (sha1) and near-identical (64-bit dHash + pHash) groups.

Two covers are near-identical when BOTH perceptual hashes differ in at most `max_bits` of 64
bits: dHash alone confuses plain dark covers, pHash alone re-encodings of busy ones; requiring
both keeps false merges rare while still catching re-encoded and rescaled copies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

NEAR_MAX_BITS = 4
_DCT = None


def sha1_file(path: str | Path) -> str:
    """Hex sha1 of a file's bytes."""
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _pack(bits: np.ndarray) -> int:
    return int(np.packbits(bits.astype(np.uint8).ravel()).view(">u8")[0])


def dhash(img: Image.Image) -> int:
    """64-bit difference hash: sign of horizontal gradients of a 9x8 grayscale thumbnail."""
    small = np.asarray(img.convert("L").resize((9, 8), Image.Resampling.BILINEAR), np.int16)
    return _pack(small[:, 1:] > small[:, :-1])


def _dct_matrix(n: int = 32) -> np.ndarray:
    global _DCT
    if _DCT is None:
        k = np.arange(n)[:, None]
        x = np.arange(n)[None, :]
        _DCT = np.cos(np.pi * (2 * x + 1) * k / (2 * n)).astype(np.float32)
    return _DCT


def phash(img: Image.Image) -> int:
    """64-bit perceptual hash: low 8x8 DCT frequencies of a 32x32 grayscale thumbnail vs median."""
    small = np.asarray(img.convert("L").resize((32, 32), Image.Resampling.BILINEAR), np.float32)
    dct = _dct_matrix()
    low = (dct @ small @ dct.T)[:8, :8].ravel()
    return _pack(low > np.median(low[1:]))


@dataclass(frozen=True)
class DuplicateGroup:
    """Rows (indices into the hashed list) that hold the same cover; `kind` identical or near."""

    rows: tuple[int, ...]
    kind: str


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def find_duplicates(
    sha1s: list[str], dhashes: np.ndarray, phashes: np.ndarray, max_bits: int = NEAR_MAX_BITS
) -> list[DuplicateGroup]:
    """Connected groups of identical-bytes or near-identical covers (each group >= 2 rows)."""
    n = len(sha1s)
    parent = list(range(n))
    identical: set[int] = set()
    first: dict[str, int] = {}
    for i, digest in enumerate(sha1s):
        j = first.setdefault(digest, i)
        if j != i:
            parent[_find(parent, i)] = _find(parent, j)
            identical.update((i, j))
    dh = np.asarray(dhashes, dtype=np.uint64)
    ph = np.asarray(phashes, dtype=np.uint64)
    near: set[int] = set()
    block = 1024
    for start in range(0, n, block):
        stop = min(n, start + block)
        ddist = np.bitwise_count(dh[start:stop, None] ^ dh[None, :])
        pdist = np.bitwise_count(ph[start:stop, None] ^ ph[None, :])
        hit_i, hit_j = np.nonzero((ddist <= max_bits) & (pdist <= max_bits))
        for i, j in zip(hit_i + start, hit_j, strict=True):
            if i < j and sha1s[i] != sha1s[j]:
                parent[_find(parent, int(i))] = _find(parent, int(j))
                near.update((int(i), int(j)))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(_find(parent, i), []).append(i)
    out = []
    for rows in groups.values():
        if len(rows) > 1:
            kind = "near" if any(r in near for r in rows) else "identical"
            out.append(DuplicateGroup(tuple(sorted(rows)), kind))
    return sorted(out, key=lambda g: g.rows[0])
