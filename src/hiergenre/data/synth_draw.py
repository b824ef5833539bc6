"""Drawing synthetic covers: each taxonomy level leaves its own visual trace.

- level 1 (the album's first path): a palette of three colours and one of six layout families;
- level 2: a texture (stripes, checks, dots, rings, waves) with its own angle, frequency, colour;
- levels 3-4: small motifs (shapes with a colour and a size);
- other paths of an album: their level-1 palette as an accent band, their texture faintly;
- nuisance under everything, scaled by `difficulty`: palette jitter, a random layout, distractor
  motifs, text-like blocks, pixel noise and JPEG quality.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

LAYOUTS = 6
TEXTURES = ("stripes", "checks", "dots", "rings", "waves")
SHAPES = ("circle", "square", "triangle", "diamond", "cross", "ring", "bar")


@dataclass(frozen=True)
class NodeLook:
    """Visual parameters of one taxonomy node (derived from its name, so stable across runs)."""

    palette: tuple[tuple[int, int, int], ...]
    layout: int
    texture: str
    angle: float
    freq: float
    tint: tuple[float, float, float]
    shape: str
    scale: float


def node_look(name: str, index: int) -> NodeLook:
    """Deterministic look for a node: hue spread by index, the rest from a hash of the name."""
    rng = np.random.default_rng(zlib.crc32(name.encode("utf-8")))
    hue = (index * 0.381966 + rng.uniform(0, 0.05)) % 1.0  # golden-ratio spacing of hues
    palette = tuple(_hsv((hue + dh) % 1.0, s, v) for dh, s, v in
                    ((0.0, 0.75, 0.85), (0.08, 0.5, 0.35), (0.5, 0.6, 0.95)))  # fmt: skip
    tint = rng.normal(size=3)
    tint = tuple(float(x) for x in tint / np.linalg.norm(tint))
    return NodeLook(palette=palette, layout=index % LAYOUTS, texture=TEXTURES[index % 5],
                    angle=float(rng.uniform(0, np.pi)), freq=float(rng.uniform(3, 9)), tint=tint,
                    shape=SHAPES[int(rng.integers(len(SHAPES)))],
                    scale=float(rng.uniform(0.10, 0.18)))  # fmt: skip


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return tuple(int(round(255 * c)) for c in rgb)


@dataclass(frozen=True)
class CoverSpec:
    """What one cover shows: its looks per level, and where/how to draw it."""

    path: str
    seed: tuple[int, int]
    size: int
    difficulty: float
    main: NodeLook  # level-1 node of the first path
    textures: tuple[tuple[NodeLook, float], ...]  # (level-2 look, strength)
    motifs: tuple[NodeLook, ...]  # level-3/4 looks
    accents: tuple[NodeLook, ...]  # level-1 looks of the other paths


def _layout(look: NodeLook, family: int, pal: np.ndarray, xx, yy, rng) -> np.ndarray:
    c0, c1, c2 = pal[0], pal[1], pal[2]
    cx, cy = rng.uniform(0.3, 0.7, size=2)
    if family == 0:  # vertical gradient with one band
        img = c0 * (1 - yy)[..., None] + c1 * yy[..., None]
        band = np.abs(yy - cy) < rng.uniform(0.05, 0.12)
        img[band] = c2
    elif family == 1:  # diagonal split plus a disc
        img = np.where((xx + yy - 2 * cx > 0)[..., None], c0, c1)
        img[(xx - cy) ** 2 + (yy - cx) ** 2 < rng.uniform(0.01, 0.04)] = c2
    elif family == 2:  # radial gradient with rings
        r = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
        img = c0 * np.clip(1 - r * 1.4, 0, 1)[..., None] + c1 * np.clip(r * 1.4, 0, 1)[..., None]
        img[(np.sin(r * 40) > 0.85)] = c2
    elif family == 3:  # blocks with borders
        k = int(rng.integers(2, 4))
        cell = ((xx * k).astype(int) + (yy * k).astype(int)) % 2
        img = np.where(cell[..., None] == 0, c0, c1)
        img[((xx * k) % 1 < 0.06) | ((yy * k) % 1 < 0.06)] = c2
    elif family == 4:  # horizontal bands cycling the palette
        k = int(rng.integers(4, 7))
        idx = ((yy + cy) * k).astype(int) % 3
        img = pal[idx]
    else:  # frame: background, inner panel, border
        inset = rng.uniform(0.12, 0.25)
        img = np.broadcast_to(c0, xx.shape + (3,)).copy()
        inner = (np.abs(xx - 0.5) < 0.5 - inset) & (np.abs(yy - 0.5) < 0.5 - inset)
        img[inner] = c1
        img[inner & ((np.abs(xx - 0.5) > 0.47 - inset) | (np.abs(yy - 0.5) > 0.47 - inset))] = c2
    return img


def _texture(look: NodeLook, xx, yy, rng) -> np.ndarray:
    u = xx * np.cos(look.angle) + yy * np.sin(look.angle)
    phase = rng.uniform(0, 2 * np.pi)
    f = 2 * np.pi * look.freq
    if look.texture == "stripes":
        t = np.sin(f * u + phase)
    elif look.texture == "checks":
        v = -xx * np.sin(look.angle) + yy * np.cos(look.angle)
        t = np.sign(np.sin(f * u + phase) * np.sin(f * v))
    elif look.texture == "dots":
        v = -xx * np.sin(look.angle) + yy * np.cos(look.angle)
        t = 2.0 * ((np.sin(f * u + phase) * np.sin(f * v)) > 0.5) - 1
    elif look.texture == "rings":
        t = np.sin(f * np.sqrt((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * 2 + phase)
    else:
        t = np.sin(f * xx + 1.5 * np.sin(2 * np.pi * yy * look.freq / 3) + phase)
    return t[..., None] * np.asarray(look.tint, dtype=np.float32)


def _shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, fill) -> None:
    box = (cx - r, cy - r, cx + r, cy + r)
    if shape == "circle":
        draw.ellipse(box, fill=fill)
    elif shape == "square":
        draw.rectangle(box, fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    elif shape == "diamond":
        draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=fill)
    elif shape == "cross":
        w = r / 3
        draw.rectangle((cx - r, cy - w, cx + r, cy + w), fill=fill)
        draw.rectangle((cx - w, cy - r, cx + w, cy + r), fill=fill)
    elif shape == "ring":
        draw.ellipse(box, outline=fill, width=max(1, int(r / 3)))
    else:
        draw.rectangle((cx - r, cy - r / 4, cx + r, cy + r / 4), fill=fill)


def render_cover(spec: CoverSpec) -> int:
    """Draw one cover and write it as JPEG to `spec.path`; returns the number of bytes written."""
    rng = np.random.default_rng(spec.seed)
    s, d = spec.size, spec.difficulty
    grid = (np.arange(s, dtype=np.float32) + 0.5) / s
    xx, yy = np.meshgrid(grid, grid)
    pal = np.asarray(spec.main.palette, dtype=np.float32)
    pal = np.clip(pal + rng.normal(0, 70 * d, size=pal.shape), 0, 255).astype(np.float32)
    family = spec.main.layout if rng.random() > 0.6 * d else int(rng.integers(LAYOUTS))
    img = _layout(spec.main, family, pal, xx, yy, rng)
    for look, strength in spec.textures:
        img = img + (70 * (1 - 0.8 * d) * strength) * _texture(look, xx, yy, rng)
    for k, look in enumerate(spec.accents):  # other level-1 genres: a band in their palette
        pos = (0.06 + 0.1 * k + rng.uniform(0, 0.05)) if rng.random() < 0.5 else 1 - 0.08 - 0.1 * k
        band = np.abs(yy - pos) < 0.035 if look.layout % 2 else np.abs(xx - pos) < 0.035
        img[band] = np.asarray(look.palette[0], dtype=np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    pic = Image.fromarray(img, "RGB")
    draw = ImageDraw.Draw(pic)
    for look in spec.motifs:
        for _ in range(int(rng.integers(1, 3))):
            r = s * look.scale * rng.uniform(0.7, 1.2) * (1 - 0.4 * d)
            cx, cy = rng.uniform(r, s - r, size=2)
            _shape(draw, look.shape, cx, cy, r, look.palette[2])
    for _ in range(int(rng.poisson(4 * d))):  # distractors: shapes in random colours
        r = s * rng.uniform(0.06, 0.16)
        cx, cy = rng.uniform(0, s, size=2)
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        _shape(draw, SHAPES[int(rng.integers(len(SHAPES)))], cx, cy, r, fill)
    _text_blocks(draw, s, rng)
    out = np.asarray(pic, dtype=np.float32)
    out += rng.normal(0, 3 + 30 * d, size=out.shape).astype(np.float32)
    pic = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGB")
    buf = io.BytesIO()
    pic.save(buf, "JPEG", quality=int(rng.integers(55, 96)))
    return Path(spec.path).write_bytes(buf.getvalue())


def _text_blocks(draw: ImageDraw.ImageDraw, s: int, rng: np.random.Generator) -> None:
    """Rows of small rectangles standing in for an artist name and a title."""
    for _ in range(int(rng.integers(0, 3))):
        y = rng.uniform(0.04, 0.9) * s
        h = max(1, int(s * rng.uniform(0.025, 0.05)))
        x = rng.uniform(0.05, 0.3) * s
        fill = (250, 250, 245) if rng.random() < 0.5 else (15, 15, 20)
        for _ in range(int(rng.integers(3, 9))):
            w = s * rng.uniform(0.03, 0.09)
            if x + w > 0.95 * s:
                break
            draw.rectangle((x, y, x + w, y + h), fill=fill)
            x += w + s * rng.uniform(0.01, 0.03)
