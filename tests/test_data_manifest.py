"""Manifest reading, label validation, digests and the built-in dataset resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from hiergenre.data import builtin, load_dataset, resolve_dataset
from hiergenre.errors import DataError, UnknownGenreError
from hiergenre.taxonomy import Taxonomy

PARENTS = {"Rock": "Music", "Jazz": "Music", "Indie Rock": "Rock", "Bebop": "Jazz"}


@pytest.fixture
def tax() -> Taxonomy:
    return Taxonomy.from_parents(PARENTS, {"Indie": "Indie Rock"})


def write(root, text: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.csv").write_text(text)


def test_load_resolves_aliases_and_paths(tmp_path, tax):
    write(tmp_path, "album_id,image,labels,group,source\n"
                    "a,x.jpg,rock|indie,art,t\nb,/abs/y.jpg,Bebop,,t\n")  # fmt: skip
    ds = load_dataset(tmp_path, tax)
    assert len(ds) == 2 and ds.album_ids == ["a", "b"]
    assert ds.label_sets == [["Rock", "Indie Rock"], ["Bebop"]]
    assert ds.groups == ["art", ""]
    assert ds.image_paths() == [tmp_path / "x.jpg", Path("/abs/y.jpg")]
    assert ds.report == {}
    assert load_dataset(tmp_path / "manifest.csv", tax).digest == ds.digest


def test_digest_follows_content(tmp_path, tax):
    write(tmp_path / "a", "album_id,image,labels\na,x.jpg,Rock\n")
    write(tmp_path / "b", "album_id,image,labels\na,x.jpg,Jazz\n")
    write(tmp_path / "c", "album_id,image,labels,group,source\na,x.jpg,Rock,,\n")
    da, db = load_dataset(tmp_path / "a", tax), load_dataset(tmp_path / "b", tax)
    assert len(da.digest) == 16 and da.digest != db.digest
    same_root = load_dataset(tmp_path / "c", tax)
    assert same_root.manifest["group"].tolist() == [""]


def test_broken_manifests_are_data_errors(tmp_path, tax):
    with pytest.raises(DataError, match="data import"):
        load_dataset(tmp_path / "none", tax)
    write(tmp_path / "cols", "album_id,labels\na,Rock\n")
    with pytest.raises(DataError, match="image"):
        load_dataset(tmp_path / "cols", tax)
    write(tmp_path / "dup", "album_id,image,labels\na,x.jpg,Rock\na,y.jpg,Jazz\n")
    with pytest.raises(DataError, match="unique"):
        load_dataset(tmp_path / "dup", tax)
    write(tmp_path / "unk", "album_id,image,labels\na,x.jpg,Rock|Polka\nb,y.jpg,Zydeco\n")
    with pytest.raises(UnknownGenreError) as info:
        load_dataset(tmp_path / "unk", tax)
    assert info.value.names == ["Polka", "Zydeco"]


def test_resolve_dataset_builds_the_synthetic_set_once(tmp_path, tax, monkeypatch):
    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(builtin, "DEFAULT_N", 24)
    monkeypatch.setattr(builtin, "DEFAULT_SIZE", 16)
    first = resolve_dataset(None, tax)
    assert len(first) == 24 and first.root.parent == tmp_path / "cache"
    assert first.root.name.startswith("synth-n24-s16")
    monkeypatch.setattr(builtin, "generate_synthetic", lambda *a, **k: pytest.fail("regenerated"))
    again = resolve_dataset(None, tax)
    assert again.digest == first.digest
    assert resolve_dataset(str(first.root), tax).album_ids == first.album_ids
