"""Tagging a real audio library: covers from MP3/FLAC/M4A/Opus files, genre tags written through
the ledger (only the genre changes), undone byte for byte, modes, levels, skips, the CLI."""

from __future__ import annotations

import hashlib
import io
import os
import struct
from pathlib import Path

import mutagen
import numpy as np
import pytest
from audiolib import FORMATS, TrackSpec, generated_library, make_track
from mutagen.ogg import OggPage

from hiergenre.cli.main import main
from hiergenre.data.images import ImageDecodeError, decode_image, load_square
from hiergenre.library import (
    ProposeOptions,
    TagOptions,
    propose,
    scan_library,
    tag_library,
    undo_ledger,
)
from hiergenre.library.ledger import apply_delta, make_delta, read_ledger
from hiergenre.library.tag import default_ledger, new_genres
from hiergenre.predictor import load_predictor

GENRE_KEYS = {"tcon", "genre", "\xa9gen"}


@pytest.fixture(scope="module")
def predictor(tiny_run):
    return load_predictor(tiny_run / "run", device="cpu")


@pytest.fixture(scope="module")
def covers(tiny_run) -> list[bytes]:
    return [p.read_bytes() for p in sorted((tiny_run / "data" / "images").glob("*.jpg"))[:6]]


def hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under root (hidden ledger excluded)."""
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith(".")]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def payload(path: Path) -> bytes:
    """The audio data of a file, without its tags (ID3v2 / FLAC metadata / MP4 mdat / Ogg)."""
    data = path.read_bytes()
    suffix = path.suffix
    if suffix == ".mp3":
        assert data[:3] == b"ID3"
        size = sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(data[6:10]))
        return data[10 + size :]
    if suffix == ".flac":
        at = 4
        while True:
            last, length = data[at] & 0x80, int.from_bytes(data[at + 1 : at + 4], "big")
            at += 4 + length
            if last:
                return data[at:]
    if suffix == ".m4a":
        at = 0
        while at < len(data):
            size, kind = struct.unpack(">I4s", data[at : at + 8])
            if kind == b"mdat":
                return data[at + 8 : at + size]
            at += size
        raise AssertionError("no mdat")
    fh = io.BytesIO(data)
    pages = []
    while fh.tell() < len(data):
        pages.append(OggPage(fh))
    return b"".join(OggPage.to_packets(pages)[2:])


def other_tags(path: Path) -> dict:
    """Every tag but the genre, as comparable text (pictures included)."""
    audio = mutagen.File(path)
    items = {k: repr(v) for k, v in audio.tags.items() if k.split(":")[0].lower() not in GENRE_KEYS}
    if hasattr(audio, "pictures"):
        items["pictures"] = [hashlib.sha256(p.data).hexdigest() for p in audio.pictures]
    return items


def genres_of(path: Path, split_v23: bool = True) -> list[str]:
    """The genre values as stored (an ID3v2.3 text split on '/' unless split_v23 is False)."""
    audio = mutagen.File(path)
    if path.suffix == ".mp3":
        texts = [str(t) for f in audio.tags.getall("TCON") for t in f.text]
        v23 = audio.tags.version[1] == 3 and split_v23
        return [g for t in texts for g in t.split("/")] if v23 else texts
    if path.suffix == ".m4a":
        return list(audio.tags.get("\xa9gen", []))
    return list(audio.tags.get("genre", []))


@pytest.fixture
def library(audio_base, covers, tmp_path) -> Path:
    """Four albums per format with covers, plus the odd cases: a broken file, no cover, a
    sidecar cover, a largest-picture-only album, an existing genre, an ID3v2.3 tag."""
    lib = generated_library(audio_base, tmp_path / "Mÿ Library", covers, 12)
    odd = lib / "odd"
    make_track(audio_base, odd / "nocover" / "a.flac", TrackSpec("flac", "Bare", "Nobody"))
    make_track(audio_base, odd / "back" / "a.mp3",
               TrackSpec("mp3", "Backside", "Someone", cover=covers[1], cover_type=0))  # fmt: skip
    (odd / "broken.mp3").write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x10garbage")
    return lib


def test_audio_file_predicts_exactly_like_its_cover_file(audio_base, covers, predictor, tmp_path):
    (tmp_path / "cover.jpg").write_bytes(covers[0])
    want = predictor.node_probs([tmp_path / "cover.jpg"]).to_numpy()
    for fmt, (_, suffix) in FORMATS.items():
        spec = TrackSpec(fmt, "A", "B", cover=covers[0])
        track = make_track(audio_base, tmp_path / f"t{suffix}", spec)
        assert np.array_equal(load_square(track, 32), load_square(covers[0], 32)), fmt
        np.testing.assert_array_equal(predictor.node_probs([track]).to_numpy(), want)
    bare = make_track(audio_base, tmp_path / "bare.opus", TrackSpec("opus", "A", "B"))
    with pytest.raises(ImageDecodeError) as err:
        decode_image(bare)
    assert err.value.reason == "no-cover"
    (tmp_path / "junk.flac").write_bytes(b"fLaC not really")
    with pytest.raises(ImageDecodeError, match="unreadable"):
        decode_image(tmp_path / "junk.flac")


def test_scan_groups_tracks_and_chooses_each_cover(library):
    albums, skipped = scan_library(library)
    assert [Path(s.path).name for s in skipped] == ["broken.mp3"]
    assert len(albums) == 14 and sum(len(a.tracks) for a in albums) == 20
    by_name = {a.title: a for a in albums}
    assert by_name["Albüm 001"].cover.name == "01 Sông.flac"  # track 1 holds the front cover
    assert by_name["Albüm 004"].cover_from == "sidecar"
    assert by_name["Albüm 004"].cover.name == "cover.jpg"
    assert by_name["Backside"].cover_from == "largest embedded"
    assert by_name["Bare"].cover is None
    assert by_name["Albüm 005"].genres == ("Jazz",)


def test_without_write_nothing_changes(library, predictor):
    before = hashes(library)
    report = tag_library(predictor, library, TagOptions(write=False))
    assert hashes(library) == before and not default_ledger(library).exists()
    actions = {r.album.title: r.action for r in report.albums}
    assert actions["Bare"] == "no cover" and actions["Albüm 000"] == "kept (has genres)"
    assert actions["Albüm 001"] == "proposed"


def test_write_changes_only_genres_and_undo_restores_every_byte(library, predictor):
    before = hashes(library)
    suffixes = (".mp3", ".flac", ".m4a", ".opus")
    files = sorted(p for p in library.rglob("*") if p.suffix in suffixes and "broken" not in p.name)
    audio_before = {p: payload(p) for p in files}
    tags_before = {p: other_tags(p) for p in files}
    options = TagOptions(ProposeOptions(levels="path"), mode="replace", write=True)
    report = tag_library(predictor, library, options)
    written = [r for r in report.albums if r.written]
    assert len(written) == 13 and report.files_written == 19  # all but the album with no cover
    for r in written:
        want = list(r.proposal.genres)
        assert len(want) >= 2  # level 1 and below: several values per file
        for track in r.album.tracks:
            got = genres_of(track.path, split_v23=False)
            v23 = track.path.suffix == ".mp3" and mutagen.File(track.path).tags.version[1] == 3
            assert got == (["/".join(want)] if v23 else want), track.path
    for p in files:
        assert payload(p) == audio_before[p], p
        assert other_tags(p) == tags_before[p], p
    assert hashes(library) != before
    result = undo_ledger(report.ledger)
    assert (result.restored, result.skipped) == (19, [])
    assert hashes(library) == before


def test_modes_and_levels(library, predictor):
    report = tag_library(predictor, library, TagOptions(ProposeOptions(levels="1"), write=True))
    album = {r.album.title: r for r in report.albums}
    jazz = album["Albüm 000"].album.tracks[0].path
    assert genres_of(jazz) == ["Jazz"] and album["Albüm 000"].action == "kept (has genres)"
    level1 = album["Albüm 001"].proposal.genres
    assert len(level1) == 1 and genres_of(album["Albüm 001"].album.tracks[0].path) == list(level1)
    keep = TagOptions(ProposeOptions(levels="leaf"), mode="keep-existing", write=True)
    again = {r.album.title: r for r in tag_library(predictor, library, keep).albums}
    leaf = again["Albüm 000"].proposal.genres
    assert genres_of(jazz) == ["Jazz", *leaf]
    one = again["Albüm 001"]  # written by the first run: keep-existing keeps that and adds
    want = list(dict.fromkeys([*level1, *one.proposal.genres]))
    assert genres_of(one.album.tracks[0].path) == want
    assert new_genres(("Rock",), ("rock", "Pop"), "keep-existing") == ("Rock", "Pop")
    assert new_genres(("Rock",), ("Pop",), "fill-empty") == ("Rock",)
    assert new_genres((), ("Pop",), "fill-empty") == ("Pop",)


def test_min_prob_backs_off_to_the_parent(library, predictor):
    full = tag_library(predictor, library, TagOptions(ProposeOptions(levels="path")))
    sure = tag_library(predictor, library, TagOptions(ProposeOptions(min_prob=0.999)))
    for a, b in zip(full.albums, sure.albums, strict=True):
        if a.proposal is None or a.proposal.error:
            continue
        p = a.proposal
        kept = [n for n, q in zip(p.path, p.path_probs, strict=True) if q >= 0.999]
        assert b.proposal.path == p.path[: max(1, len(kept))]  # the parent where unsure
        assert b.proposal.path[0] == p.path[0]


def test_read_only_changed_and_resumed_files(library, predictor):
    ro = library / "Artïst 1" / "Albüm 001 ♪" / "01 Sông.flac"
    ro_bytes = ro.read_bytes()
    os.chmod(ro, 0o444)  # root ignores the mode bits when writing; tag checks them itself
    report = tag_library(predictor, library, TagOptions(write=True))
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert reasons["01 Sông.flac"] == "read-only" and reasons["broken.mp3"].startswith("unreadable")
    assert ro.read_bytes() == ro_bytes
    os.chmod(ro, 0o644)
    resumed = tag_library(predictor, library, TagOptions(write=True))  # the same ledger
    assert resumed.files_written == 1  # only the file that was read-only
    changed = library / "Artïst 2" / "Albüm 002 ♪" / "01 Sông.m4a"
    audio = mutagen.File(changed)
    audio["\xa9nam"] = "edited by hand"
    audio.save()
    result = undo_ledger(report.ledger)
    assert [(Path(p).name, why) for p, why in result.skipped] == [
        ("01 Sông.m4a", "changed since the ledger was written; not restored")]  # fmt: skip
    assert result.restored == report.files_written + 1 - 1


def test_delta_rebuilds_any_edit():
    rng = np.random.default_rng(0)
    old = rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    edits = [old[:100] + b"GENRE" + old[100:], old[:1000] + old[1300:] + b"\x00" * 300,
             old[:10] + b"x" * 5000 + old[7000:], b"", old[::-1]]  # fmt: skip
    for new in edits:
        ops = make_delta(old, new)
        assert apply_delta(new, ops) == old
    small = make_delta(old, edits[0])
    assert sum(len(op) for op in small if isinstance(op, str)) == 0  # all copied, no literal


def test_propose_matches_predict_and_genre_maps(library, predictor, tmp_path):
    from hiergenre.library import load_genre_map

    cover = next(library.rglob("*.m4a"))
    (plain,) = propose(predictor, [cover])
    top = predictor.predict([cover], top_k=1)[0].top
    assert plain.path == top.names and plain.genres == top.names
    (own,) = propose(predictor, [cover], ProposeOptions(decode="threshold"))  # the run's thresholds
    assert own.path == predictor.predict([cover], top_k=1, decode="threshold")[0].top.names
    tax = predictor.taxonomy
    first, second = top.names[0], top.names[1] if len(top.names) > 1 else None
    (tmp_path / "keep.txt").write_text(f"# my genres\n{first.lower()}\nNot A Genre\n")
    gmap = load_genre_map(tmp_path / "keep.txt", tax)
    (mapped,) = propose(predictor, [cover], genre_map=gmap)
    assert mapped.genres == (first.lower(),) and gmap.unknown == ("Not A Genre",)
    assert mapped.probs == (round(top.probs[0], 6),)
    if second is not None:  # two siblings folded into one of theirs: probabilities add up
        sibling = next(s for s in tax.children(first) if s != second)
        (tmp_path / "map.tsv").write_text(f"{second}\tMine\n{sibling}\tMine\n")
        row = predictor.node_probs([cover]).iloc[0]
        (both,) = propose(predictor, [cover], genre_map=load_genre_map(tmp_path / "map.tsv", tax))
        assert both.genres == ("Mine",)
        assert both.probs[0] == pytest.approx(min(1, row[second] + row[sibling]), abs=1e-5)
        assert both.unmapped == first  # dropped from the path: reported
    other = next(g for g in tax.names if tax.level(g) == 1 and g != first)
    (tmp_path / "tree.yaml").write_text(f"- {other.lower()}:\n    - some sub\n")
    (none,) = propose(predictor, [cover], genre_map=load_genre_map(tmp_path / "tree.yaml", tax))
    assert none.genres == () and none.unmapped == first


def test_cli_table_write_and_undo(library, tiny_run, capsys):
    before = hashes(library)
    run = str(tiny_run / "run")
    assert main(["tag", str(library), "--run", run, "-q"]) == 0
    out = capsys.readouterr()
    assert "Albüm 001" in out.out and "no cover" in out.out and "broken.mp3" in out.err
    assert hashes(library) == before
    assert main(["tag", str(library), "--run", run, "-q", "--write", "--replace",
                 "--levels", "2"]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "undo with: hiergenre tag --undo" in err
    ledger = default_ledger(library)
    assert all(len(r["after_genres"]) <= 2 for r in read_ledger(ledger) if r["op"] == "write")
    assert main(["tag", "--undo", str(ledger), "-q"]) == 0
    assert "restored 19 files" in capsys.readouterr().out
    assert hashes(library) == before
    assert main(["tag", str(library), "--run", run, "--replace", "--keep-existing"]) == 2
    assert main(["tag", str(library), "--run", run, "--levels", "3"]) == 2
    assert main(["tag", "--undo", str(library / "nope.jsonl")]) == 2
    assert main(["tag", str(library)]) == 2
    assert "LIBRARY" in capsys.readouterr().err
    (library.parent / "empty").mkdir()
    assert main(["tag", str(library.parent / "empty"), "--run", run, "-q"]) == 2
    assert "no audio files" in capsys.readouterr().err


def test_predict_cli_accepts_audio_files(library, tiny_run, capsys):
    track = library / "Artïst 1" / "Albüm 001 ♪" / "01 Sông.flac"
    assert main(["predict", str(track), "--run", str(tiny_run / "run"), "--json", "-q"]) == 0
    assert '"error": null' in capsys.readouterr().out


def test_serve_answers_an_audio_upload_like_its_cover(library, predictor, covers, tmp_path):
    from fastapi.testclient import TestClient

    from hiergenre.serve.app import ServeConfig, create_app

    track = library / "Artïst 1" / "Albüm 001 ♪" / "01 Sông.flac"
    client = TestClient(create_app(predictor, ServeConfig()))
    upload = [("files", ("song.flac", track.read_bytes(), "audio/flac"))]
    res = client.post("/predict", files=upload)
    assert res.status_code == 200, res.text
    (tmp_path / "cover.jpg").write_bytes(covers[1])  # the cover embedded in that track
    want = predictor.predict([tmp_path / "cover.jpg"], top_k=3)[0]
    assert res.json()["results"][0]["paths"] == [p.to_dict() for p in want.paths]


def test_symlinked_track_stays_a_link(audio_base, covers, predictor, tmp_path):
    spec = TrackSpec("flac", "Linked", "Artist", cover=covers[0])
    real = make_track(audio_base, tmp_path / "elsewhere" / "a.flac", spec)
    (tmp_path / "lib" / "x").mkdir(parents=True)
    (tmp_path / "lib" / "x" / "a.flac").symlink_to(real)
    before = real.read_bytes()
    report = tag_library(predictor, tmp_path / "lib", TagOptions(write=True))
    assert (tmp_path / "lib" / "x" / "a.flac").is_symlink()
    assert genres_of(real) == list(report.albums[0].proposal.genres)
    assert undo_ledger(report.ledger).restored == 1 and real.read_bytes() == before
