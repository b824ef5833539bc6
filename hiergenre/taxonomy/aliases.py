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

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalize_genre(name: str) -> str:
    """Key for comparing genre names: `'Indie & Lo-Fi'` and `'indie and lofi'` -> `'indieandlofi'`."""
    text = unicodedata.normalize("NFKD", str(name))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("&", " and ").replace("+", " and ")
    return _NON_ALNUM.sub("", text)


def _lenient_key(key: str) -> str:
    """A second, looser key that also ignores the word 'and' (`'R&B'` vs `'RB'`)."""
    return key.replace("and", "")


class AliasResolver:
    """Maps any spelling of a genre onto a node name, or says which names are close."""

    def __init__(self, node_names: Iterable[str], aliases: Mapping[str, str] | None = None):
        self._exact: dict[str, str] = {}
        for name in node_names:
            key = normalize_genre(name)
            other = self._exact.get(key)
            if other is not None and other != name:
                raise ValueError(f"genre names {other!r} and {name!r} normalise to the same key")
            self._exact[key] = name
        self._aliases: dict[str, str] = {}
        for alias, target in (aliases or {}).items():
            key = normalize_genre(alias)
            if target not in set(self._exact.values()):
                raise ValueError(f"alias {alias!r} points to unknown genre {target!r}")
            if key in self._exact and self._exact[key] != target:
                raise ValueError(f"alias {alias!r} clashes with the genre {self._exact[key]!r}")
            self._aliases[key] = target
        self._lenient: dict[str, str] = {}
        for key, name in {**self._exact, **self._aliases}.items():
            self._lenient.setdefault(_lenient_key(key), name)

    def resolve(self, name: str) -> str | None:
        """The node name for `name`, or None when nothing matches."""
        key = normalize_genre(name)
        if not key:
            return None
        found = self._exact.get(key) or self._aliases.get(key)
        return found or self._lenient.get(_lenient_key(key))

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """Up to `n` node names that look like `name` (for 'did you mean ...')."""
        key = normalize_genre(name)
        keys = list(self._exact) + list(self._aliases)
        close = difflib.get_close_matches(key, keys, n=n * 2, cutoff=0.6)
        names: list[str] = []
        for k in close:
            target = self._exact.get(k) or self._aliases[k]
            if target not in names:
                names.append(target)
        return names[:n]
