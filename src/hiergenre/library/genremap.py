"""The user's own genre list: roll a predicted path up to the genres they keep.

Three forms, chosen by the file's suffix:
- a whitelist (`.txt`, one genre per line, `#` comments): keep these genres, spelled as written;
- a beets-style genre tree (`.yaml` / `.yml`, the format of beets' lastgenre `genres-tree.yaml`):
  every genre named anywhere in the tree is kept;
- a table (`.tsv`, lines `ours<TAB>theirs`): our genre `ours` is written as `theirs`; several of
  ours may share one of theirs.

A genre of ours maps to the entry of its nearest kept ancestor-or-self; a genre of the path with
none is left out of the user's path and reported (`unmapped`). A kept genre's
probability is the sum of the probabilities of the topmost genres of ours folded into it (capped
at 1): `Hard Rock -> Heavy` and `Heavy Metal -> Heavy` give P(Heavy) = P(Hard Rock) + P(Heavy
Metal).
Names of the list that our taxonomy does not know are reported (`unknown`), never silently dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from hiergenre.errors import ConfigError
from hiergenre.taxonomy import Taxonomy

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".yaml", ".yml", ".tsv")


@dataclass(frozen=True)
class GenreMap:
    """Our genre -> the user's genre, for every node of the taxonomy that rolls up to a kept one."""

    taxonomy: Taxonomy
    target: dict[str, str]  # every node of ours that maps (rolled up) -> the user's genre
    unknown: tuple[str, ...] = ()  # names in the user's file our taxonomy does not know
    _tops: dict[str, list[int]] = field(default_factory=dict, repr=False)

    def map_path(
        self, names: tuple[str, ...], node_probs: np.ndarray
    ) -> tuple[tuple[str, ...], tuple[float, ...], str | None]:
        """(user genres, their probabilities, the first genre of the path that maps to nothing:
        reported, as the user genres then skip it)."""
        out: dict[str, float] = {}
        unmapped = None
        for name in names:
            theirs = self.target.get(name)
            if theirs is None:
                unmapped = unmapped or name
                continue
            if theirs not in out:
                total = float(sum(node_probs[i] for i in self._tops[theirs]))
                out[theirs] = min(1.0, total)
        return tuple(out), tuple(out.values()), unmapped


def _build(taxonomy: Taxonomy, direct: dict[str, str], unknown: list[str]) -> GenreMap:
    """Roll `direct` (our node -> theirs) down to every descendant that has no entry itself."""
    target: dict[str, str] = {}
    for name in taxonomy.names:  # BFS order: a parent is decided before its children
        parent = taxonomy.parent(name)
        if name in direct:
            target[name] = direct[name]
        elif parent is not None and parent in target:
            target[name] = target[parent]
    tops: dict[str, list[int]] = {}
    for name, theirs in target.items():
        parent = taxonomy.parent(name)
        if parent is None or target.get(parent) != theirs:
            tops.setdefault(theirs, []).append(taxonomy.index(name))
    return GenreMap(taxonomy, target, tuple(dict.fromkeys(unknown)), tops)


def _tree_names(node) -> list[str]:
    """Every name in a beets genres-tree (nested lists of names and {name: [children]})."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [n for item in node for n in _tree_names(item)]
    if isinstance(node, dict):
        return [n for key, value in node.items() for n in [str(key), *_tree_names(value)]]
    return [] if node is None else [str(node)]


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"`genre_map` {path} is not UTF-8 text: save it as UTF-8") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def load_genre_map(path: str | Path, taxonomy: Taxonomy) -> GenreMap:
    """Read a whitelist, beets genre tree or `ours<TAB>theirs` table (see the module doc)."""
    path = Path(path)
    kind = path.suffix.lower()
    if not path.is_file():
        raise ConfigError(f"`genre_map` {path} does not exist; give a .txt, .yaml or .tsv file")
    if kind not in SUFFIXES:
        raise ConfigError(f"`genre_map` {path}: use a .txt whitelist, a .yaml genre tree or a .tsv")
    pairs: list[tuple[str, str]] = []
    if kind == ".tsv":
        for n, line in enumerate(_lines(path), 1):
            ours, tab, theirs = line.partition("\t")
            if not tab or not theirs.strip():
                raise ConfigError(f"`genre_map` {path} line {n}: write `ours<TAB>theirs`")
            pairs.append((ours.strip(), theirs.strip()))
    else:
        if kind == ".txt":
            names = _lines(path)
        else:
            try:
                names = _tree_names(yaml.safe_load(path.read_text(encoding="utf-8")))
            except yaml.YAMLError as exc:
                raise ConfigError(f"`genre_map` {path} is not valid YAML ({exc})") from None
        pairs = [(name.strip(), name.strip()) for name in names if name.strip()]
    direct, unknown = {}, []
    for ours, theirs in pairs:
        node = taxonomy.try_resolve(ours)
        if node is None:
            unknown.append(ours)
        else:
            direct.setdefault(node, theirs)
    if not direct:
        raise ConfigError(f"`genre_map` {path} names no genre of hiergenre's taxonomy; "
                          "see `hiergenre explain-taxonomy`")  # fmt: skip
    if unknown:
        log.info("%d genres of %s are not in the taxonomy", len(unknown), path)
    return _build(taxonomy, direct, unknown)
