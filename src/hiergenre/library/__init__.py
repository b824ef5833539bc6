"""Tag a music library: covers read from the audio files, genres written safely and undoably.

`tag_library` (scan, predict once per album, write through a ledger), `undo_ledger`,
`load_genre_map`, `propose` (what the beets plugin calls) and their options.
"""

from hiergenre.library.albums import Album, Skipped, scan_library
from hiergenre.library.genremap import GenreMap, load_genre_map
from hiergenre.library.propose import LEVELS, Proposal, ProposeOptions, propose
from hiergenre.library.tag import MODES, AlbumResult, TagOptions, TagReport, tag_library
from hiergenre.library.write import UndoReport, undo_ledger

__all__ = [
    "LEVELS",
    "MODES",
    "Album",
    "AlbumResult",
    "GenreMap",
    "Proposal",
    "ProposeOptions",
    "Skipped",
    "TagOptions",
    "TagReport",
    "UndoReport",
    "load_genre_map",
    "propose",
    "scan_library",
    "tag_library",
    "undo_ledger",
]
