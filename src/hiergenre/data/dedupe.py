"""Duplicate covers: byte-identical (sha1) and near-identical (dHash + pHash + colours) groups.

Two covers are near-identical when BOTH 64-bit perceptual hashes differ in at most `max_bits`
bits AND their colour layouts (mean colour of each quarter) agree within `max_colour`: dHash
alone confuses plain dark covers, pHash alone re-encodings of busy ones, and both see only
grayscale structure, so two flat covers (all black, all red) hash alike and only colour tells
them apart. The search is multi-index hashing (sub-quadratic); `near_pairs_all` is the
quadratic reference it must agree with.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from networkx.utils import UnionFind
from PIL import Image

from hiergenre.errors import check_choice

NEAR_MAX_BITS = 4
COLOUR_MAX_DIFF = 24  # of 255, per channel and quarter: re-encodes move colours a few units
_BLOCK = 1024  # rows per block of the all-pairs comparison
_MAX_PAIRS = 2_000_000  # candidate pairs checked at once by the index search
_CROWD = 64  # a bucket this full (flat covers) is compared once, not again in every table
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
    # The margin keeps float noise out of the bits: a flat cover hashes the same in any colour.
    margin = 1e-6 * (abs(float(low[0])) + 1.0)  # far above float noise, far below real detail
    return _pack(low > np.median(low[1:]) + margin)


def colour_layout(img: Image.Image) -> np.ndarray:
    """Mean colour of each quarter of the cover: uint8 (12,), RGB of top-left .. bottom-right.

    Perceptual hashes look at grayscale structure only, so every flat cover (all black, all
    red) hashes alike; the colour layout tells such covers apart.
    """
    small = np.asarray(img.convert("RGB").resize((2, 2), Image.Resampling.BOX), np.uint8)
    return small.reshape(12)


@dataclass(frozen=True)
class DuplicateGroup:
    """Rows (indices into the hashed list) that hold the same cover; `kind` identical or near."""

    rows: tuple[int, ...]
    kind: str


def find_duplicates(
    sha1s: list[str],
    dhashes: np.ndarray,
    phashes: np.ndarray,
    colours: np.ndarray,
    max_bits: int = NEAR_MAX_BITS,
    max_colour: int = COLOUR_MAX_DIFF,
    method: str = "index",
) -> list[DuplicateGroup]:
    """Connected groups of identical-bytes or near-identical covers (each group >= 2 rows).

    Near-identical: dHash and pHash each within `max_bits` bits and every colour-layout value
    within `max_colour`. `method` "index" (multi-index hashing, sub-quadratic) and "all-pairs"
    (the quadratic reference) find the same groups.
    """
    check_choice("duplicate search", method, ("index", "all-pairs"))
    n = len(sha1s)
    dh = np.asarray(dhashes, dtype=np.uint64).reshape(n)
    ph = np.asarray(phashes, dtype=np.uint64).reshape(n)
    col = np.asarray(colours, dtype=np.int16).reshape(n, -1)
    search = near_pairs_index if method == "index" else near_pairs_all
    pairs = search(dh, ph, col, max_bits, max_colour)
    digests = np.asarray(sha1s, dtype=object)
    pairs = pairs[digests[pairs[:, 0]] != digests[pairs[:, 1]]]  # same bytes: identical, below
    uf = UnionFind(range(n))
    first: dict[str, int] = {}
    identical: list[int] = []
    for i, digest in enumerate(sha1s):
        j = first.setdefault(digest, i)
        if j != i:
            uf.union(i, j)
            identical.append(i)
    for i, j in pairs.tolist():
        uf.union(i, j)
    near = set(pairs.ravel().tolist())
    out = []
    for members in uf.to_sets():
        if len(members) > 1:
            kind = "near" if near & members else "identical"
            out.append(DuplicateGroup(tuple(sorted(members)), kind))
    return sorted(out, key=lambda g: g.rows[0])


def _hits(dh, ph, col, i: np.ndarray, j: np.ndarray, max_bits: int, max_colour: int) -> np.ndarray:
    """The (i, j) pairs (i != j) that meet the near-duplicate test: int64 (k, 2) with i < j."""
    keep = (i != j) & (np.bitwise_count(dh[i] ^ dh[j]) <= max_bits)
    keep &= np.bitwise_count(ph[i] ^ ph[j]) <= max_bits
    i, j = i[keep], j[keep]
    close = np.abs(col[i] - col[j]).max(axis=1, initial=0) <= max_colour
    i, j = i[close], j[close]
    return np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1).astype(np.int64)


def near_pairs_all(dh, ph, col, max_bits: int, max_colour: int) -> np.ndarray:
    """Every near-duplicate pair by comparing all pairs, in blocks: O(n^2) (the reference)."""
    n, found = len(dh), [np.zeros((0, 2), np.int64)]
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        close = np.bitwise_count(dh[start:stop, None] ^ dh[None, :]) <= max_bits
        close &= np.bitwise_count(ph[start:stop, None] ^ ph[None, :]) <= max_bits
        i, j = np.nonzero(close)
        i += start
        upper = i < j
        found.append(_hits(dh, ph, col, i[upper], j[upper], max_bits, max_colour))
    return _unique_pairs(found)


def _pieces(max_bits: int) -> list[tuple[int, int]]:
    """(shift, width) of `max_bits + 1` disjoint pieces covering a 64-bit hash."""
    count = max_bits + 1
    widths = [64 // count + (1 if k < 64 % count else 0) for k in range(count)]
    shifts = np.cumsum([0, *widths[:-1]]).tolist()
    return list(zip(shifts, widths, strict=True))


def near_pairs_index(dh, ph, col, max_bits: int, max_colour: int) -> np.ndarray:
    """Every near-duplicate pair by multi-index hashing: sub-quadratic, same pairs as all-pairs.

    Two hashes within `max_bits` bits agree exactly on at least one of `max_bits + 1` disjoint
    pieces (pigeonhole). A near pair is near in both hashes, so it shares a bucket in one of the
    tables keyed by (a dHash piece, a pHash piece); only rows sharing a bucket are compared.
    """
    if max_bits >= 16:  # pieces too short to select anything: the reference is as fast
        return near_pairs_all(dh, ph, col, max_bits, max_colour)
    found = [np.zeros((0, 2), np.int64)]
    crowded: set[bytes] = set()  # crowded buckets already compared (flat covers fill every table)
    pieces = _pieces(max_bits)
    for dshift, dwidth in pieces:
        dkey = (dh >> np.uint64(dshift)) & np.uint64((1 << dwidth) - 1)
        for pshift, pwidth in pieces:
            pkey = (ph >> np.uint64(pshift)) & np.uint64((1 << pwidth) - 1)
            key = (dkey << np.uint64(pwidth)) | pkey
            found.extend(_bucket_pairs(key, dh, ph, col, max_bits, max_colour, crowded))
    return _unique_pairs(found)


def _bucket_pairs(key: np.ndarray, dh, ph, col, max_bits: int, max_colour: int, crowded) -> list:
    """Near pairs among rows with equal `key`, checked in batches of bounded memory."""
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    ends = np.r_[starts[1:], len(key)]
    big = (ends - starts) > _CROWD
    out = []
    for s, e in zip(starts[big], ends[big], strict=True):  # crowded: once for all tables
        rows = np.sort(order[s:e])
        digest = hashlib.sha1(rows.tobytes()).digest()
        if digest in crowded:
            continue
        crowded.add(digest)
        sub = near_pairs_all(dh[rows], ph[rows], col[rows], max_bits, max_colour)
        out.append(np.sort(rows[sub], axis=1))
    run_end = np.repeat(ends, ends - starts)  # per sorted position: end of its bucket
    small = np.repeat(~big & (ends - starts > 1), ends - starts)
    pos = np.flatnonzero(small)
    counts = run_end[pos] - pos - 1  # partners after each position in its bucket
    cum = np.cumsum(counts)
    for lo, hi in _batches(cum, _MAX_PAIRS):
        c = counts[lo:hi]
        left = np.repeat(pos[lo:hi], c)
        offset = np.arange(left.size) - np.repeat(np.cumsum(c) - c, c) + 1
        out.append(_hits(dh, ph, col, order[left], order[left + offset], max_bits, max_colour))
    return out


def _batches(cum: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Index ranges of consecutive items whose counts (cumulative `cum`) add up to <= `limit`."""
    out, lo = [], 0
    while lo < len(cum):
        base = cum[lo - 1] if lo else 0
        hi = max(lo + 1, int(np.searchsorted(cum, base + limit, side="right")))
        out.append((lo, hi))
        lo = hi
    return out


def _unique_pairs(parts: list[np.ndarray]) -> np.ndarray:
    pairs = np.concatenate(parts) if parts else np.zeros((0, 2), np.int64)
    return np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)
