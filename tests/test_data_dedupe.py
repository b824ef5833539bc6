"""Duplicate search: the multi-index search finds exactly the all-pairs groups; flat covers of
different colours are not duplicates; re-encoded copies are."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from hiergenre.data.dedupe import (
    colour_layout,
    dhash,
    find_duplicates,
    near_pairs_all,
    near_pairs_index,
    phash,
)


def _hashes(n: int, seed: int, planted: int, crowded: int):
    rng = np.random.default_rng(seed)
    dh = rng.integers(0, 2**64 - 1, n, dtype=np.uint64)
    ph = rng.integers(0, 2**64 - 1, n, dtype=np.uint64)
    col = rng.integers(0, 256, (n, 12)).astype(np.int16)
    for _ in range(planted):  # near copies at 0..6 bits: some inside the limit, some just outside
        src, dst = rng.integers(crowded, n, 2)
        for arr in (dh, ph):
            flips = rng.choice(64, size=int(rng.integers(0, 7)), replace=False)
            arr[dst] = arr[src] ^ np.uint64(sum(1 << int(b) for b in flips))
        col[dst] = np.clip(col[src] + rng.integers(-26, 27, 12), 0, 255)
    dh[:crowded], ph[:crowded] = 0, 1  # flat covers: one crowded bucket in every table
    col[:crowded] = rng.integers(0, 3, (crowded, 12)) * 100 + rng.integers(0, 5, (crowded, 12))
    return dh, ph, col


@pytest.mark.parametrize("seed,planted,crowded", [(0, 0, 0), (1, 400, 0), (2, 300, 1500)])
def test_index_search_finds_exactly_the_all_pairs_pairs(seed, planted, crowded):
    dh, ph, col = _hashes(3000, seed, planted, crowded)
    for bits in (2, 4, 6):
        fast = near_pairs_index(dh, ph, col, bits, 24)
        slow = near_pairs_all(dh, ph, col, bits, 24)
        assert np.array_equal(fast, slow)
        if planted and bits == 4:
            assert len(slow) > 40  # the planted copies were found: the test checks something
    sha1s = [str(i) for i in range(3000)]
    assert find_duplicates(sha1s, dh, ph, col) == find_duplicates(
        sha1s, dh, ph, col, method="all-pairs"
    )


def _facts(img: Image.Image):
    return dhash(img), phash(img), colour_layout(img)


def test_flat_covers_of_different_colours_are_not_duplicates():
    black, red = Image.new("RGB", (64, 64), (0, 0, 0)), Image.new("RGB", (64, 64), (200, 0, 0))
    (db, pb, cb), (dr, pr, cr) = _facts(black), _facts(red)
    assert bin(db ^ dr).count("1") <= 4 and bin(pb ^ pr).count("1") <= 4  # hashes alike
    groups = find_duplicates(["b", "r"], [db, dr], [pb, pr], np.stack([cb, cr]))
    assert groups == []
    dark = Image.new("RGB", (64, 64), (6, 4, 5))  # black re-encoded: the same cover
    dd, pd, cd = _facts(dark)
    groups = find_duplicates(["b", "r", "d"], [db, dr, dd], [pb, pr, pd], np.stack([cb, cr, cd]))
    assert [g.rows for g in groups] == [(0, 2)] and groups[0].kind == "near"


def test_identical_bytes_and_reencoded_copies_group():
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize((96, 96))
    buf = io.BytesIO()
    img.resize((80, 80)).save(buf, "JPEG", quality=75)
    copy = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    other = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize((96, 96))
    facts = [_facts(x) for x in (img, copy, other, img)]
    groups = find_duplicates(["a", "b", "c", "a"], [f[0] for f in facts], [f[1] for f in facts],
                             np.stack([f[2] for f in facts]))  # fmt: skip
    assert [(g.rows, g.kind) for g in groups] == [((0, 1, 3), "near")]
    far = [0, 2**64 - 1, 0x0F0F0F0F0F0F0F0F, 0]  # 64 and 32 bits apart
    only_same_bytes = find_duplicates(["a", "b", "c", "a"], far, far, np.zeros((4, 12)))
    assert [(g.rows, g.kind) for g in only_same_bytes] == [((0, 3), "identical")]
