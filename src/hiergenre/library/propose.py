"""Genres to write for albums: the run's prediction of each cover, cut to the levels the user wants.

One prediction path: covers go through `Predictor.iter_node_probs` (the same decoding and model
as `hiergenre predict`), paths through `Predictor.paths_from_probs` with the run's decoder, where
`min_prob` is the decoder's threshold: below it the path stops at the parent. The path is then
mapped onto the user's genres (`GenreMap`, optional) and cut by `levels`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hiergenre.errors import ConfigError, check_choice
from hiergenre.library.genremap import GenreMap
from hiergenre.predictor import DecodeOptions, Predictor

log = logging.getLogger(__name__)

LEVELS = ("1", "2", "path", "leaf")


@dataclass(frozen=True)
class ProposeOptions:
    """`levels` (1 | 2 | path | leaf), `min_prob` (back off to the parent below it), `decode`."""

    levels: str = "path"
    min_prob: float | None = None
    decode: str = "greedy"

    def __post_init__(self) -> None:
        check_choice("`levels`", self.levels, LEVELS)
        if self.min_prob is not None and not 0.0 <= self.min_prob <= 1.0:
            raise ConfigError(f"`min_prob` must be between 0 and 1, got {self.min_prob}")

    @property
    def decode_options(self) -> DecodeOptions:
        """The run's decoder with `min_prob` as its stopping threshold; one path per cover."""
        return DecodeOptions(top_k=1, decode=self.decode, threshold=self.min_prob)


@dataclass(frozen=True)
class Proposal:
    """What a cover's prediction proposes: our path, then the genres to write and their probs."""

    source: str
    path: tuple[str, ...] = ()  # the predicted path over the taxonomy, level 1 first
    path_probs: tuple[float, ...] = ()
    genres: tuple[str, ...] = ()  # mapped onto the user's genres and cut by `levels`
    probs: tuple[float, ...] = ()
    error: str | None = None  # the cover could not be read
    unmapped: str | None = None  # a genre of ours the user's genre map keeps nothing for


def cut_levels(names: tuple[str, ...], levels: str) -> slice:
    """The part of a path `levels` keeps: 1 -> the genre, 2 -> genre and sub-genre, leaf, path."""
    if levels == "leaf":
        return slice(len(names) - 1, len(names)) if names else slice(0, 0)
    return slice(0, {"1": 1, "2": 2}.get(levels, len(names)))


def _proposal(source: str, names, probs, row: np.ndarray, options, genre_map) -> Proposal:
    names, probs = tuple(names), tuple(probs)
    unmapped = None
    genres, gprobs = names, probs
    if genre_map is not None:
        genres, gprobs, unmapped = genre_map.map_path(names, row)
    cut = cut_levels(genres, options.levels)
    return Proposal(source, names, probs, genres[cut], tuple(round(p, 6) for p in gprobs[cut]),
                    unmapped=unmapped)  # fmt: skip


def propose(
    predictor: Predictor,
    covers: Sequence[str | Path],
    options: ProposeOptions = ProposeOptions(),
    genre_map: GenreMap | None = None,
    *,
    batch_size: int = 32,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> list[Proposal]:
    """One Proposal per cover file (an image, or an audio file with an embedded cover)."""
    decode = options.decode_options
    out: list[Proposal] = []
    pending: list[tuple[str, np.ndarray]] = []

    def flush() -> None:
        paths = predictor.paths_from_probs(np.stack([row for _, row in pending]), decode)
        for (source, row), top in zip(pending, paths, strict=True):
            best = top[0] if top else None
            names, probs = (best.names, best.probs) if best else ((), ())
            out.append(_proposal(source, names, probs, row, options, genre_map))
        pending.clear()

    items = [str(c) for c in covers]
    for n, (label, row, error) in enumerate(
        predictor.iter_node_probs(items, batch_size=batch_size, workers=workers), 1
    ):
        if error is not None:
            if pending:
                flush()
            out.append(Proposal(label, error=error))
        else:
            pending.append((label, row))
            if len(pending) >= batch_size:
                flush()
        if progress is not None:
            progress(n, len(items))
    if pending:
        flush()
    return out
