"""Albums per second of `hiergenre tag` (covers read from audio files) against `hiergenre predict`
on the same covers as JPEG files; and `--min-prob` on a run trained on real covers.

Throughput: the first --n real Discogs covers (../shared/data/discogs-covers) become --n albums
of 1-2 tiny audio tracks (0.2 s, MP3 / FLAC / M4A / Opus in turn, made by ffmpeg) with the cover
embedded in the first track, and the same covers lie as JPEG files in one folder. The same lite0
run (trained here for one epoch on 64 synthetic covers, as bench_predict.py does: throughput does
not depend on what it learned) predicts both: `predict` = `tagging.tag_library` (the CLI's
pipeline, CSV out); `tag` = `library.tag_library` without --write (reads every track's tags, groups
albums, extracts the embedded cover, predicts once per album). Runs alternate, --reps times each;
the best of each is reported. The predicted paths must be the same for every album. `tag --write`
and `--undo` are timed once (byte-identical after the undo, checked). Goal: tag >= 0.9x predict.

--min-prob: with --minprob-run RUN (a run trained on ../shared/data/cover2genres), the covers of the
run's test part become one-track FLAC albums, tagged with `--write --levels path --min-prob P`;
the written genres are read back with mutagen and compared with the unrestricted path.

    .venv/bin/python benchmarks/bench_tag.py [--n 300] [--image-size 128] [--reps 2]
        [--minprob-run RUN --min-prob 0.5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from audiolib import FORMATS, TrackSpec, make_base_audio, make_track  # noqa: E402
from bench_predict import discogs_dir, train_lite0  # noqa: E402

from hiergenre.library import ProposeOptions, TagOptions, tag_library, undo_ledger  # noqa: E402
from hiergenre.predictor import DecodeOptions, load_predictor  # noqa: E402
from hiergenre.tagging import tag_library as predict_covers  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def build(covers: list[Path], root: Path, base: dict) -> None:
    """root/covers/*.jpg (the predict input) and root/lib/ (albums with embedded covers)."""
    (root / "covers").mkdir(parents=True)
    fmts = list(FORMATS)
    for i, cover in enumerate(covers):
        data = cover.read_bytes()
        (root / "covers" / f"{i:05d}.jpg").write_bytes(data)
        fmt = fmts[i % len(fmts)]
        for t in range(1 + i % 2):
            spec = TrackSpec(fmt, f"Album {i:05d}", f"Artist {i % 50}", (),
                             data if t == 0 else None, title=f"Song {t}")  # fmt: skip
            make_track(base, root / "lib" / f"a{i:05d}" / f"{t:02d}{FORMATS[fmt][1]}", spec)


def digest(root: Path) -> dict[str, str]:
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith(".")]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def container_costs(predictor, tmp: Path, batch: int) -> dict[str, float]:
    """Milliseconds per album of each part, one after the other in one thread: reading every
    track's tags and grouping; decoding the cover from its audio file; from its JPEG; the model."""
    import numpy as np

    from hiergenre.library import scan_library

    start = time.perf_counter()
    albums, _ = scan_library(tmp / "lib")
    scan = time.perf_counter() - start
    start = time.perf_counter()
    pixels = np.stack([predictor.load_pixels(a.cover) for a in albums])
    from_audio = time.perf_counter() - start
    start = time.perf_counter()
    for jpg in sorted((tmp / "covers").glob("*.jpg")):
        predictor.load_pixels(jpg)
    from_jpeg = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(0, len(pixels), batch):
        predictor.probs_from_pixels(pixels[i : i + batch])
    model = time.perf_counter() - start
    n = len(albums) / 1000
    return {"scan": scan / n, "audio": from_audio / n, "jpeg": from_jpeg / n, "model": model / n}


def throughput(args, tmp: Path) -> list[str]:
    source = discogs_dir()
    if source is None:
        sys.exit("needs ../shared/data/discogs-covers (or HIERGENRE_SHARED): real covers only")
    covers = sorted(source.glob("*/*.jpg"))[: args.n]
    build(covers, tmp, make_base_audio(tmp / "base"))
    predictor = load_predictor(train_lite0(tmp, args.image_size), device="cpu")
    decode = DecodeOptions(top_k=1)
    options = TagOptions(ProposeOptions(levels="path"), batch_size=args.batch)
    times: dict[str, list[float]] = {"predict": [], "tag": []}
    loads = []
    for _ in range(args.reps):
        for name in ("predict", "tag"):
            loads.append(os.getloadavg()[0])
            start = time.perf_counter()
            if name == "predict":
                _, preds = predict_covers(predictor, [tmp / "covers"], decode,
                                          batch_size=args.batch, workers=2)  # fmt: skip
            else:
                report = tag_library(predictor, tmp / "lib", options)
            times[name].append(time.perf_counter() - start)
    best = {name: min(t) for name, t in times.items()}
    pairs = sorted(p / t for p, t in zip(times["predict"], times["tag"], strict=True))
    parts = container_costs(predictor, tmp, args.batch)
    paths = {Path(p.source).stem: p.top.names for p in preds}
    same = sum(paths[f"{int(r.album.title.split()[1]):05d}"] == r.proposal.path
               for r in report.albums)  # fmt: skip
    assert same == len(covers) == len(report.albums), (same, len(covers))
    before = digest(tmp / "lib")
    write_opts = TagOptions(ProposeOptions(levels="path"), mode="replace", write=True,
                            batch_size=args.batch)  # fmt: skip
    start = time.perf_counter()
    written = tag_library(predictor, tmp / "lib", write_opts)
    write_s = time.perf_counter() - start
    start = time.perf_counter()
    undone = undo_ledger(written.ledger)
    undo_s = time.perf_counter() - start
    identical = digest(tmp / "lib") == before
    assert identical and not undone.skipped
    n = len(covers)
    rate = {k: n / s for k, s in best.items()}
    tracks = sum(len(r.album.tracks) for r in report.albums)
    return [
        "# tag throughput: albums from audio files vs predict on the same covers as JPEGs",
        "",
        f"- albums: {n} real Discogs covers (300x300 JPEG) embedded in {tracks} tiny tracks "
        f"(MP3, FLAC, M4A, Opus in turn; 1-2 tracks per album)",
        f"- model: lite0 at {args.image_size} px, batch {args.batch}, torch threads "
        f"{args.threads}, 2 decode threads, CPU; best of {args.reps} alternating runs each",
        f"- load average (1 min) before each run: {', '.join(f'{x:.1f}' for x in loads)} "
        f"on {os.cpu_count()} CPUs (shared machine)",
        f"- same predicted path for every album in `tag` and `predict`: {same} of {n}",
        f"- tag/predict albums/s in each back-to-back pair (predict, then tag): "
        f"{', '.join(f'{r:.2f}' for r in pairs)}; median {statistics.median(pairs):.2f}",
        f"- command: `.venv/bin/python benchmarks/bench_tag.py --n {args.n} --image-size "
        f"{args.image_size} --reps {args.reps}`",
        "",
        "What `tag` adds to `predict`, in ms per album (measured one after the other in one "
        "thread, so less exposed to the machine's load than the ratios above): reading the tags of "
        f"every track and grouping {parts['scan']:.1f}; decoding the cover out of the audio file "
        f"{parts['audio']:.1f} against {parts['jpeg']:.1f} from the JPEG; the model itself "
        f"{parts['model']:.1f}. Container overhead: "
        f"{(parts['scan'] + parts['audio'] - parts['jpeg']) / parts['model'] * 100:.1f}% of the "
        "model's time.",
        "",
        "| pipeline | seconds | albums/s | vs predict |",
        "| --- | ---: | ---: | ---: |",
        f"| `hiergenre predict` on the cover JPEGs (CSV pipeline, no file) | {best['predict']:.1f} "
        f"| {rate['predict']:.1f} | 1.00 |",
        f"| `hiergenre tag` (read tags, group, embedded covers; no --write) | {best['tag']:.1f} | "
        f"{rate['tag']:.1f} | **{rate['tag'] / rate['predict']:.2f}** |",
        f"| `hiergenre tag --write --replace` ({written.files_written} files, ledger) | "
        f"{write_s:.1f} | {n / write_s:.1f} | {n / write_s / rate['predict']:.2f} |",
        f"| `hiergenre tag --undo` ({undone.restored} files restored, byte-identical: "
        f"{identical}) | {undo_s:.1f} | | |",
        "",
    ]


def min_prob_check(args, tmp: Path) -> list[str]:
    """Tag the run's test covers with --min-prob; compare the written genres with the full path."""
    import mutagen

    from hiergenre.data import load_dataset
    from hiergenre.data.splits import Split

    run = Path(args.minprob_run)
    predictor = load_predictor(run, device="cpu")
    config = json.loads((run / "config.json").read_text())
    dataset = load_dataset(config["data"]["path"], predictor.taxonomy)
    test = set(Split.load(run / "split.json").test)
    base = make_base_audio(tmp / "mp-base")
    lib = tmp / "mp-lib"
    truth = {}
    for album_id, image, labels in zip(dataset.album_ids, dataset.image_paths(),
                                       dataset.label_sets, strict=True):  # fmt: skip
        if album_id in test:
            spec = TrackSpec("flac", album_id, "x", (), image.read_bytes())
            make_track(base, lib / album_id / "01.flac", spec)
            truth[album_id] = set(labels)
    before = digest(lib)
    full = {r.album.title: r.proposal for r in tag_library(predictor, lib, TagOptions()).albums}
    options = TagOptions(ProposeOptions(levels="path", min_prob=args.min_prob), mode="replace",
                         write=True)  # fmt: skip
    report = tag_library(predictor, lib, options)
    written = {r.album.title: list(mutagen.File(r.album.tracks[0].path)["genre"])
               for r in report.albums}  # fmt: skip
    backed = kept = wrong = 0
    right = {"kept": [0, 0], "dropped": [0, 0]}  # level-2 genre correct / total
    for album, genres in written.items():
        p = full[album]
        want = [n for n, q in zip(p.path, p.path_probs, strict=True) if q >= args.min_prob]
        want = list(p.path[: max(1, len(want))])
        wrong += genres != want
        if len(p.path) > 1:
            group = "kept" if len(genres) > 1 else "dropped"
            right[group][0] += p.path[1] in truth[album]
            right[group][1] += 1
        backed += len(genres) < len(p.path)
        kept += len(genres) == len(p.path)
    undone = undo_ledger(report.ledger)
    identical = digest(lib) == before and not undone.skipped

    def share(group: str) -> str:
        ok, total = right[group]
        return f"{ok / total:.3f} ({ok} of {total})" if total else "n/a"

    return [
        "",
        "## --min-prob on a run trained on real covers (cover2genres)",
        "",
        f"- run: {config['model']['name']} trained on cover2genres (genres + styles, "
        f"`--unknown drop`); {len(written)} test-part covers embedded in one FLAC file each",
        f"- `hiergenre tag LIB --write --replace --levels path --min-prob {args.min_prob}`, "
        "genres read back with mutagen, compared with the path without --min-prob",
        f"- albums whose written genres differ from the path cut where a node's probability "
        f"falls below {args.min_prob}: **{wrong}** of {len(written)}",
        f"- albums written in full: {kept}; backed off to a parent: {backed}",
        f"- level-2 genre correct (in the album's labels) where it was kept: {share('kept')}; "
        f"where --min-prob dropped it: {share('dropped')}",
        f"- undo: byte-identical: {identical}",
        f"- command: `.venv/bin/python benchmarks/bench_tag.py --minprob-run RUN --min-prob "
        f"{args.min_prob}` (RUN: `hiergenre train hierarchical --encoder lite0 --data C2G "
        "--image-size 224 --group-aware`, C2G imported with `hiergenre data import` from a CSV "
        "of cover2genres' genres|styles, `--unknown drop`)",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--minprob-run", default=None)
    parser.add_argument("--min-prob", type=float, default=0.5)
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench-tag-"))
    try:
        lines = [] if args.skip_throughput else throughput(args, tmp)
        if args.minprob_run:
            lines += min_prob_check(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = RESULTS / ("tag_minprob.md" if args.skip_throughput else "tag.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
