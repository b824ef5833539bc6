"""beets plugin: album genres from cover art with a trained hiergenre run.

Install with `pip install hiergenre[beets]` and add to beets' config.yaml::

    plugins: hiergenre
    hiergenre:
        run: ~/runs/lite0          # a trained run (required)
        levels: path               # 1 | 2 | path | leaf
        min_prob: 0.5              # back off to the parent genre below it (optional)
        mode: fill-empty           # fill-empty | keep-existing | replace
        genre_map: ~/genres.txt    # optional: whitelist, genre tree (.yaml), ours<TAB>theirs .tsv
        auto: yes                  # tag albums as they are imported

`beet hiergenre QUERY` tags the albums the query matches. The cover is the one `hiergenre tag`
would use (an embedded front cover, a cover.jpg beside the files, the largest embedded picture),
else beets' own album art. Genres are set on the album and its items through beets (the `genres`
field) and written to the files by beets' tag layer: `beet hiergenre` writes when beets writes
(`import.write`, or `-w`); at import, beets writes them with the rest of the tags it applies (an
import that beets does not autotag is written by `beet write`).
"""

from __future__ import annotations

from pathlib import Path

from beets import ui
from beets.plugins import BeetsPlugin


class HiergenrePlugin(BeetsPlugin):
    """`beet hiergenre QUERY` and an import stage that tag albums from their covers."""

    def __init__(self) -> None:
        super().__init__()
        self.config.add({"run": None, "levels": "path", "min_prob": None, "mode": "fill-empty",
                         "genre_map": None, "decode": "greedy", "device": "auto",
                         "auto": True})  # fmt: skip
        self._predictor = None
        self._genre_map = None
        if self.config["auto"].get(bool):
            self.import_stages = [self.imported]

    # --- the hiergenre side: one predictor, loaded on first use ------------------------------
    def _load(self):
        from hiergenre.errors import ConfigError
        from hiergenre.library import load_genre_map
        from hiergenre.predictor import load_predictor

        if self._predictor is None:
            run = self.config["run"].get()
            if not run:
                raise ui.UserError("hiergenre: set `hiergenre: run: RUN_DIR` in beets' config")
            try:
                self._predictor = load_predictor(Path(run).expanduser(),
                                                 self.config["device"].as_str())  # fmt: skip
                gmap = self.config["genre_map"].get()
                if gmap:
                    self._genre_map = load_genre_map(Path(gmap).expanduser(),
                                                     self._predictor.taxonomy)  # fmt: skip
            except ConfigError as exc:
                raise ui.UserError(f"hiergenre: {exc}") from None
        return self._predictor

    def _options(self, opts=None):
        from hiergenre.errors import ConfigError
        from hiergenre.library import ProposeOptions

        def pick(name: str):
            value = getattr(opts, name, None) if opts is not None else None
            return self.config[name].get() if value is None else value

        min_prob = pick("min_prob")
        try:
            floor = None if min_prob is None else float(min_prob)
            return ProposeOptions(str(pick("levels")), floor, str(self.config["decode"].get()))
        except ConfigError as exc:
            raise ui.UserError(f"hiergenre: {exc}") from None

    def _cover(self, album) -> Path | None:
        from hiergenre.library.albums import album_cover

        cover = album_cover([Path(item.filepath) for item in album.items()])
        if cover is None and album.artpath:  # beets' own album art
            art = album.artpath
            cover = Path(art.decode() if isinstance(art, bytes) else art)
        return cover

    def tag_albums(self, albums, write: bool, opts=None) -> None:
        """Predict each album's cover once and set its (and its items') genres."""
        from hiergenre.library import propose
        from hiergenre.library.tag import new_genres

        predictor = self._load()
        options = self._options(opts)
        mode = (getattr(opts, "mode", None) if opts is not None else None) or self.config[
            "mode"
        ].as_str()
        albums = list(albums)
        covers = {a.id: self._cover(a) for a in albums}
        found = [a for a in albums if covers[a.id] is not None]
        proposals = propose(predictor, [covers[a.id] for a in found], options, self._genre_map)
        for album in albums:
            if covers[album.id] is None:
                self._log.info("{}: no cover, skipped", album)
        for album, proposal in zip(found, proposals, strict=True):
            if proposal.error or not proposal.genres:
                why = proposal.error or f"unmapped genre {proposal.unmapped}"
                self._log.info("{}: skipped ({})", album, why)
                continue
            current = tuple(album.get("genres") or ())
            if mode == "fill-empty" and current:
                self._log.info("{}: has genres {}, kept", album, current)
                continue
            album.genres = list(new_genres(current, proposal.genres, mode))
            self._log.info("{}: {}", album, "; ".join(album.genres))
            album.try_sync(write=write, move=False, inherit=True)

    def commands(self):
        cmd = ui.Subcommand("hiergenre", help="set album genres from their covers (hiergenre)")
        cmd.parser.add_option("--levels", help="1 | 2 | path | leaf")
        cmd.parser.add_option(
            "--min-prob", dest="min_prob", type="float", help="back off to the parent below it"
        )
        for flag in ("fill-empty", "keep-existing", "replace"):
            cmd.parser.add_option(f"--{flag}", dest="mode", action="store_const", const=flag,
                                  help=f"mode {flag}")  # fmt: skip

        def run(lib, opts, args):
            self.tag_albums(lib.albums(args), write=ui.should_write(), opts=opts)

        cmd.func = run
        return [cmd]

    def imported(self, session, task) -> None:
        """Import stage: tag the album just imported (beets writes the files afterwards)."""
        if task.is_album and task.album is not None:
            self.tag_albums([task.album], write=False)
