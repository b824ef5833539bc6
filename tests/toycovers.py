"""A real 3-genre cover collection built in code (shipped taxonomy): each level-1 genre has its
own colour, so a tiny model learns it in a couple of epochs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# leaf label -> RGB base colour of its level-1 genre (Jazz blue, Metal red, Country green)
TOY_LABELS = {"Bebop": (40, 40, 200), "Cool Jazz": (40, 40, 200), "Death Metal": (200, 40, 40),
              "Bluegrass": (40, 200, 40)}  # fmt: skip
TOY_NODES = ("Country", "Jazz", "Metal", "Bluegrass", "Bebop", "Cool Jazz", "Death Metal")


def toy_covers(root: Path, n: int = 40, labels: dict | None = None, seed: int = 0) -> Path:
    """Write `n` covers (PNG, 40x40, noisy genre colour), manifest.csv and report.json."""
    labels = labels or TOY_LABELS
    (root / "img").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = list(labels)
    rows = []
    for i in range(n):
        leaf = names[i % len(names)]
        pixels = np.clip(rng.normal(labels[leaf], 30, (40, 40, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / "img" / f"{i}.png")
        rows.append(f"t{seed}-{i},img/{i}.png,{leaf},artist{i},toy")
    (root / "manifest.csv").write_text("album_id,image,labels,group,source\n" + "\n".join(rows))
    (root / "report.json").write_text("{}")
    return root
