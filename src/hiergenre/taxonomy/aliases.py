"""Genre name normalisation and alias resolution.

Real collections spell genres many ways (`HipHop`, `hip-hop`, `R and B`). Names are compared by a
normalised key: accents stripped, lower case, `&` read as `and`, everything but letters and digits
removed. Synonyms that no normalisation can reach live in the shipped `aliases.tsv`.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping

from hiergenre.errors import TaxonomyError

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalize_genre(name: str) -> str:
    """Comparison key: `'Indie & Lo-Fi'` and `'indie and lofi'` -> `'indieandlofi'`."""
    text = unicodedata.normalize("NFKD", str(name))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("&", " and ").replace("+", " and ")
    return _NON_ALNUM.sub("", text)


def lenient_key(name: str) -> str:
    """A looser key that also drops the word 'and' (`'R&B'`, `'R and B'`, `'RB'` -> `'rb'`)."""
    text = unicodedata.normalize("NFKD", str(name))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    words = _NON_ALNUM.split(text.replace("&", " ").replace("+", " "))
    return "".join(w for w in words if w and w != "and")


class AliasResolver:
    """Maps any spelling of a genre onto a node name, or says which names are close."""

    def __init__(self, node_names: Iterable[str], aliases: Mapping[str, str] | None = None):
        self._exact: dict[str, str] = {}
        for name in node_names:
            key = normalize_genre(name)
            other = self._exact.get(key)
            if other is not None and other != name:
                raise TaxonomyError(
                    f"genre names {other!r} and {name!r} differ only in case or punctuation: "
                    "merge them or rename one"
                )
            self._exact[key] = name
        self._aliases: dict[str, str] = {}
        self.shadowed: dict[str, str] = {}  # alias -> the genre of the same key that wins over it
        known = set(self._exact.values())
        for alias, target in (aliases or {}).items():
            key = normalize_genre(alias)
            if target not in known:
                raise TaxonomyError(f"alias {alias!r} points to unknown genre {target!r}")
            if key in self._exact and self._exact[key] != target:
                self.shadowed[alias] = self._exact[key]  # a real node of that name wins
                continue
            self._aliases[key] = target
        # the lenient key may merge different genres: such keys resolve to nothing (no guessing)
        self._lenient: dict[str, list[str]] = {}
        spellings = [(n, n) for n in self._exact.values()]
        spellings += [
            (a, t) for a, t in (aliases or {}).items() if normalize_genre(a) in self._aliases
        ]
        for spelling, target in spellings:
            targets = self._lenient.setdefault(lenient_key(spelling), [])
            if target not in targets:
                targets.append(target)

    def resolve(self, name: str) -> str | None:
        """The node name for `name`, or None when nothing matches."""
        key = normalize_genre(name)
        if not key:
            return None
        found = self._exact.get(key) or self._aliases.get(key)
        if found:
            return found
        loose = self._lenient.get(lenient_key(name), [])
        return loose[0] if len(loose) == 1 else None

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """Up to `n` node names that look like `name` (for 'did you mean ...')."""
        key = normalize_genre(name)
        keys = list(self._exact) + list(self._aliases)
        close = difflib.get_close_matches(key, keys, n=n * 2, cutoff=0.6)
        names: list[str] = sorted(self._lenient.get(lenient_key(name), []))  # ambiguous first
        for k in close:
            target = self._exact.get(k) or self._aliases[k]
            if target not in names:
                names.append(target)
        return names[:n]
