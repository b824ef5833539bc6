"""The bad-input corpus, built in code (nothing binary is committed), and a CLI runner.

`run_cli(capsys, *args)` runs the real `hiergenre` entry point in-process and returns the exit
code and the captured output; an exception escaping the CLI is turned into a failed result whose
output holds "Traceback", so tests can assert the user never sees one.
"""

from __future__ import annotations

import io
import os
import struct
import traceback
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hiergenre.cli.main import main

SMALL_TAXONOMY = "genre\tparent\nRock\tMusic\nPunk\tRock\nMetal\tRock\nJazz\tMusic\nBebop\tJazz\n"
RED, BLUE, GREEN = (230, 20, 20), (20, 20, 230), (20, 200, 20)


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    @property
    def error_lines(self) -> list[str]:
        """Non-empty lines of stderr (the user-facing message)."""
        return [ln for ln in self.err.splitlines() if ln.strip()]

    def assert_user_error(self, *needles: str) -> None:
        """Exit 2, no traceback, one `error:` line on stderr holding every needle."""
        assert self.code == 2, self.text
        assert "Traceback" not in self.text, self.text
        lines = [ln for ln in self.error_lines if "error" in ln.lower()]
        assert len(lines) == 1, self.err
        flat = " ".join(self.err.split()).lower()
        for needle in needles:
            assert needle.lower() in flat, self.err


def run_cli(capsys: pytest.CaptureFixture, *args: str) -> CliResult:
    """Run `hiergenre ARGS` in-process; an escaping exception becomes code -1 and a traceback."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except BaseException:  # noqa: BLE001 - the point is to see what the user would see
        captured = capsys.readouterr()
        return CliResult(-1, captured.out, captured.err + traceback.format_exc())
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


@pytest.fixture
def cli(capsys):
    """`cli("data", "import", ...)` -> CliResult of the real entry point."""
    return lambda *args: run_cli(capsys, *args)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Every robustness test uses a cache under pytest's tmp dir, never the user's."""
    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path_factory.getbasetemp() / "hg-cache"))


@pytest.fixture
def small_taxonomy(tmp_path) -> Path:
    """A 5-genre table: Rock > Punk, Metal; Jazz > Bebop."""
    path = tmp_path / "small.tsv"
    path.write_text(SMALL_TAXONOMY, encoding="utf-8")
    return path


# --- images -----------------------------------------------------------------------------------
def _jpeg(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95, **kw)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png_header(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny, valid-looking PNG whose IHDR declares width x height RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))  # fmt: skip


def half_image(left: tuple, right: tuple, size: int = 32, mode: str = "RGB") -> Image.Image:
    """Left half one colour, right half another."""
    arr = np.zeros((size, size, 3), np.uint8)
    arr[:, : size // 2], arr[:, size // 2 :] = left, right
    return Image.fromarray(arr, "RGB").convert(mode)


def exif_rotated_jpeg() -> bytes:
    """Stored left-red / right-blue with EXIF orientation 6 (display = rotate 90 deg clockwise),
    so a viewer shows red on TOP and blue at the bottom."""
    img = half_image(RED, BLUE)
    exif = Image.Exif()
    exif[0x0112] = 6
    return _jpeg(img, exif=exif.tobytes())


def write_image_corpus(folder: Path) -> dict[str, str | None]:
    """Write every bad and odd cover into `folder`; returns file name -> expected skip reason
    (None: it must decode). The unreadable file is added by the caller (see `unreadable`)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    noise = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), "RGB")
    good = _jpeg(noise)
    files: dict[str, tuple[bytes, str | None]] = {
        "zero.jpg": (b"", "empty"),
        "truncated.jpg": (good[: len(good) // 2], "truncated"),
        "random.jpg": (rng.integers(0, 255, 3000, dtype=np.uint8).tobytes(), "not-an-image"),
        "page.jpg": (
            b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>\n" * 20,
            "not-an-image",
        ),  # fmt: skip
        "huge.png": (huge_png_header(), "too-large"),
        "good.jpg": (good, None),
        "exif6.jpg": (exif_rotated_jpeg(), None),
        "cmyk.jpg": (_jpeg(half_image(RED, GREEN, mode="CMYK")), None),
    }
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    expected = {name: reason for name, (_, reason) in files.items()}
    # 16-bit grey PNG at half scale: 32768 / 257 -> 128 after conversion
    Image.fromarray(np.full((32, 32), 32768, np.uint16)).save(folder / "grey16.png")
    palette = Image.new("P", (32, 32), 0)
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    palette.paste(1, (16, 0, 32, 32))  # right half blue, left half index 0 = transparent
    palette.save(folder / "palette.png", transparency=0)
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    Image.new("RGB", (1, 1), (10, 200, 30)).save(folder / "one.png")
    os.symlink(folder / "gone-forever.jpg", folder / "dangling.jpg")
    expected.update({"grey16.png": None, "palette.png": None, "anim.gif": None, "one.png": None,
                     "dangling.jpg": "missing"})  # fmt: skip
    return expected


def make_unreadable(path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Make `path` unreadable: chmod 000, or - as root, where chmod does not stop reads - a
    patched PIL open that raises PermissionError for it. Returns how it was done."""
    path.write_bytes(_jpeg(Image.new("RGB", (16, 16), (1, 2, 3))))
    if os.geteuid() != 0:
        path.chmod(0)
        return "chmod"
    real_open = Image.open

    def guarded_open(fp, *args, **kwargs):
        if isinstance(fp, (str, os.PathLike)) and Path(fp).name == path.name:
            raise PermissionError(13, "Permission denied", str(fp))
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", guarded_open)
    return "patched-open (running as root)"


# --- a tiny synthetic set and a trained tiny run, shared by the fault tests --------------------
@pytest.fixture(scope="session")
def synth_set(tmp_path_factory) -> Path:
    """`hiergenre data synth --n 60 --size 32` over the shipped taxonomy (made once)."""
    out = tmp_path_factory.mktemp("synth") / "ds"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HIERGENRE_CACHE", str(tmp_path_factory.getbasetemp() / "hg-cache"))
        code = main(["data", "synth", "--n", "60", "--size", "32", "--out", str(out)])
    assert code == 0
    return out


TRAIN_ARGS = ("--model", "tiny", "--image-size", "32", "--batch-size", "16", "--quiet")


def train_args(data: Path, out: Path, epochs: int = 2, *extra: str) -> list[str]:
    """`train flat` arguments for the tiny model on `data` into `out`."""
    return ["train", "flat", *TRAIN_ARGS, "--data", str(data), "--out", str(out),
            "--epochs", str(epochs), *extra]  # fmt: skip


@pytest.fixture(name="train_args")
def _train_args_fixture():
    """The `train_args(data, out, epochs, *extra)` helper."""
    return train_args


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, synth_set) -> Path:
    """A finished 2-epoch tiny run (copy it before damaging it)."""
    out = tmp_path_factory.mktemp("run") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HIERGENRE_CACHE", str(tmp_path_factory.getbasetemp() / "hg-cache"))
        code = main(train_args(synth_set, out))
    assert code == 0
    return out


@pytest.fixture
def image_corpus(monkeypatch):
    """`image_corpus(folder)` writes the corpus plus an unreadable `locked.jpg`; returns
    file name -> expected skip reason (None: must decode)."""

    def build(folder: Path) -> dict[str, str | None]:
        expected = write_image_corpus(folder)
        make_unreadable(folder / "locked.jpg", monkeypatch)
        expected["locked.jpg"] = "unreadable"
        return expected

    return build
