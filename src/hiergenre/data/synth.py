"""The synthetic cover set: real JPEG files and a MuMu-like manifest drawn from any taxonomy.

Labels come from the taxonomy's shape, never from real counts: level-1 genres are drawn from a
Zipf law over their rank by subtree size, children likewise within their parent, so a few genres
sit on many albums and many on a handful. Each album has 1-3 paths (often inside its first
branch, as MuMu albums are), and its artist (`group`) prefers a home genre. The manifest stores
each path's nodes (the chosen node and its ancestors), as MuMu does.

The defaults below are the built-in dataset every command uses without `--data`: 3,000 covers of
64 px at difficulty 0.35 let a small CNN beat the label-prior baseline within a couple of CPU
minutes (see tests/test_data_synth.py for the cheaper linear check).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np

from hiergenre.data.manifest import Dataset, load_dataset, manifest_frame, write_dataset
from hiergenre.data.parallel import Progress, chunked_map
from hiergenre.data.report import dataset_report
from hiergenre.data.synth_draw import CoverSpec, node_look, render_cover
from hiergenre.errors import ConfigError
from hiergenre.taxonomy import Taxonomy, load_taxonomy

log = logging.getLogger(__name__)

DEFAULT_N = 3000
DEFAULT_SIZE = 64
DEFAULT_SEED = 0
DEFAULT_DIFFICULTY = 0.35

ZIPF_LEVEL1 = 1.1  # exponent over level-1 genres ranked by subtree size
ZIPF_CHILD = 1.0  # exponent over the children of a node
PATHS_PER_ALBUM = (0.15, 0.35, 0.5)  # P(1 path), P(2), P(3)
DESCEND = (0.95, 0.9, 0.75)  # P(going one level deeper) from level 1, 2, 3
SAME_BRANCH = 0.3  # a further path stays in the first path's level-1 branch
ARTIST_HOME = 0.8  # an album's first path starts at its artist's home genre
ALBUMS_PER_ARTIST = 3.0  # mean


class _Sampler:
    """Zipf choices over a taxonomy's level-1 genres and over each node's children."""

    def __init__(self, taxonomy: Taxonomy):
        self.tax = taxonomy
        weight = {n: len(taxonomy.descendants(n)) for n in taxonomy.names}
        self.kids: dict[str, tuple[list[str], np.ndarray]] = {}
        for parent in (taxonomy.root, *taxonomy.names):
            kids = sorted(taxonomy.children(parent), key=lambda c: (-weight[c], c))
            if kids:
                exponent = ZIPF_LEVEL1 if parent == taxonomy.root else ZIPF_CHILD
                p = 1.0 / np.arange(1, len(kids) + 1) ** exponent
                self.kids[parent] = (kids, p / p.sum())

    def child(self, node: str, rng: np.random.Generator) -> str | None:
        entry = self.kids.get(node)
        if entry is None:
            return None
        kids, p = entry
        return kids[int(rng.choice(len(kids), p=p))]

    def path_from(self, start: list[str], rng: np.random.Generator, min_len: int = 1) -> list[str]:
        """Extend a path downwards: always to `min_len` nodes, then with DESCEND odds."""
        path = list(start) or [self.child(self.tax.root, rng)]
        while True:
            depth = len(path)
            go = depth < min_len or (depth <= len(DESCEND) and rng.random() < DESCEND[depth - 1])
            nxt = self.child(path[-1], rng) if go else None
            if nxt is None:
                return path
            path.append(nxt)


def sample_albums(
    taxonomy: Taxonomy, n: int, rng: np.random.Generator
) -> tuple[list[list[list[str]]], list[str]]:
    """Genre paths (1-3 per album, each level-1 first) and an artist per album."""
    sampler = _Sampler(taxonomy)
    homes: list[list[str]] = []
    artist_of: list[int] = []
    while len(artist_of) < n:
        homes.append(sampler.path_from([], rng, min_len=2)[:2])
        artist_of.extend([len(homes) - 1] * int(rng.geometric(1 / ALBUMS_PER_ARTIST)))
    artist_of = list(rng.permutation(artist_of[:n]))
    albums = []
    for artist in artist_of:
        home = homes[artist]
        start = home[: 1 + int(rng.random() < 0.5)] if rng.random() < ARTIST_HOME else []
        paths = [sampler.path_from(start, rng, min_len=2)]
        for _ in range(int(rng.choice(3, p=PATHS_PER_ALBUM))):
            same = rng.random() < SAME_BRANCH
            paths.append(sampler.path_from(paths[0][:1] if same else [], rng, min_len=2))
        albums.append(paths)
    return albums, [f"artist-{a:05d}" for a in artist_of]


def _labels(paths: list[list[str]]) -> list[str]:
    out: list[str] = []
    for path in paths:
        out.extend(x for x in path if x not in out)
    return out


def _spec(paths, looks, path: Path, seed: int, i: int, size: int, difficulty: float) -> CoverSpec:
    first = paths[0]
    textures = [(looks[first[1]], 1.0)] if len(first) > 1 else []
    textures += [(looks[p[1]], 0.45) for p in paths[1:] if len(p) > 1 and p[1] not in first]
    motifs = {x for p in paths for x in p[2:]}
    accents = sorted({p[0] for p in paths[1:]} - {first[0]})
    return CoverSpec(path=str(path), seed=(seed, i), size=size, difficulty=difficulty,
                     main=looks[first[0]], textures=tuple(textures[:3]),
                     motifs=tuple(looks[m] for m in sorted(motifs))[:4],
                     accents=tuple(looks[a] for a in accents)[:3])  # fmt: skip


def generate_synthetic(
    out_dir: str | Path,
    n: int = DEFAULT_N,
    size: int = DEFAULT_SIZE,
    seed: int = DEFAULT_SEED,
    difficulty: float = DEFAULT_DIFFICULTY,
    taxonomy: Taxonomy | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> Dataset:
    """Write `n` synthetic covers (`images/<id>.jpg`), manifest.csv and report.json to `out_dir`."""
    if n < 1 or not 16 <= size <= 1024 or not 0.0 <= difficulty <= 1.0:
        raise ConfigError("synthetic set needs n >= 1, 16 <= size <= 1024, 0 <= difficulty <= 1.")
    taxonomy = taxonomy or load_taxonomy()
    out_dir = Path(out_dir)
    images = out_dir / "images"
    if images.exists():
        shutil.rmtree(images)
    images.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    albums, groups = sample_albums(taxonomy, n, rng)
    looks = {name: node_look(name, i) for i, name in enumerate(taxonomy.names)}
    ids = [f"synth-{i:06d}" for i in range(n)]
    specs = [_spec(paths, looks, images / f"{aid}.jpg", seed, i, size, difficulty)
             for i, (aid, paths) in enumerate(zip(ids, albums, strict=True))]  # fmt: skip
    chunked_map(render_cover, specs, workers, progress)
    label_sets = [_labels(paths) for paths in albums]
    rows = [
        {"album_id": aid, "image": f"images/{aid}.jpg", "labels": labels, "group": group,
         "source": "synthetic"}
        for aid, labels, group in zip(ids, label_sets, groups, strict=True)
    ]  # fmt: skip
    params = {"n": n, "size": size, "seed": seed, "difficulty": difficulty}
    report = dataset_report(
        source="synthetic",
        fmt="synthetic",
        taxonomy=taxonomy,
        label_sets=label_sets,
        rows_read=n,
        synthetic={**params, "taxonomy_digest": taxonomy.digest},
    )
    write_dataset(out_dir, manifest_frame(rows), report)
    log.info("wrote %d synthetic covers to %s", n, out_dir)
    return load_dataset(out_dir, taxonomy)
