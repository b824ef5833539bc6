"""Robust cover decoding: any file a collection holds either becomes an RGB image or a reason.

Reasons are short fixed strings so reports can count them: `missing`, `empty`, `not-an-image`,
`truncated`, `too-large`, `unreadable`, `no-cover` (an audio file without an embedded picture).
"""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from hiergenre.data.audio import AudioReadError, embedded_cover, is_audio
from hiergenre.errors import DataError

log = logging.getLogger(__name__)

# Largest image (width x height) we agree to decode: a 300x300 cover is 90k pixels; 40M covers
# any real scan while refusing decompression bombs that declare 100k x 100k.
DEFAULT_MAX_PIXELS = 40_000_000
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")


class ImageDecodeError(DataError):
    """An image file cannot be decoded; `reason` is one of missing, empty, not-an-image, truncated,
    too-large, unreadable, no-cover (an audio file without an embedded picture)."""

    def __init__(self, reason: str, path: str | Path, detail: str = ""):
        self.reason = reason
        self.path = str(path)
        self.detail = detail
        extra = f" ({detail})" if detail else ""
        super().__init__(f"cannot decode {self.path}: {reason}{extra}; fix or remove the file.")


def decode_image(
    source: str | Path | bytes, max_pixels: int = DEFAULT_MAX_PIXELS, draft: int | None = None
) -> Image.Image:
    """Decode any cover to an RGB image (EXIF orientation applied); raise ImageDecodeError.

    `source` is an image file, an audio file (its embedded front cover, else its largest picture:
    `data.audio`) or the bytes of an encoded image. `draft`: a JPEG may be decoded at a reduced
    scale whose short side stays >= `draft` pixels (a large speed-up when the caller resizes to a
    small square anyway).
    """
    if isinstance(source, (bytes, bytearray)):
        return _decode(bytes(source), "<image bytes>", max_pixels, draft)
    path = Path(source)
    try:
        nbytes = path.stat().st_size
    except FileNotFoundError:
        raise ImageDecodeError("missing", path) from None
    except OSError as exc:
        raise ImageDecodeError("unreadable", path, type(exc).__name__) from None
    if nbytes == 0:
        raise ImageDecodeError("empty", path)
    if is_audio(path):
        try:
            data = embedded_cover(path)
        except AudioReadError as exc:
            raise ImageDecodeError("unreadable", path, str(exc)) from None
        if data is None:
            raise ImageDecodeError("no-cover", path, "no picture embedded in the audio file")
        return _decode(data, path, max_pixels, draft)
    return _decode(path, path, max_pixels, draft)


def _decode(source: Path | bytes, path, max_pixels: int, draft: int | None) -> Image.Image:
    """Decode a file or encoded bytes (`path` names it in errors)."""
    if isinstance(source, bytes) and not source:
        raise ImageDecodeError("empty", path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
            width, height = img.size
            if width * height > max_pixels:
                raise ImageDecodeError("too-large", path, f"{width}x{height} pixels")
            if draft and img.format == "JPEG":
                img.draft(img.mode if img.mode in ("RGB", "L") else None, (draft, draft))
            img.load()
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError("too-large", path, str(exc)[:80]) from None
    except UnidentifiedImageError:  # a JPEG cut inside its header is one too (Pillow < 13)
        reason = "truncated" if _lacks_end_marker(path) else "not-an-image"
        raise ImageDecodeError(reason, path) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        text = str(exc).lower()
        cut = "truncat" in text or isinstance(exc, EOFError) or _lacks_end_marker(source)
        raise ImageDecodeError("truncated" if cut else "unreadable", path, str(exc)[:80]) from None
    return to_rgb(_upright(img))


_END_MARKERS = {b"\xff\xd8": b"\xff\xd9", b"\x89P": b"IEND"}  # JPEG, PNG: start -> end


def _lacks_end_marker(source: Path | bytes) -> bool:
    """Whether a JPEG or PNG file (or its bytes) stops before its end marker (a cut download)."""
    if isinstance(source, bytes):
        start, tail = source[:2], source[-32:]
    else:
        with open(source, "rb") as fh:
            start = fh.read(2)
            fh.seek(max(0, source.stat().st_size - 32))
            tail = fh.read()
    end = _END_MARKERS.get(start)
    return end is not None and end not in tail


def _upright(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation tag; a broken EXIF block leaves the image as stored."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception as exc:  # malformed EXIF is common and harmless for the pixels
        log.debug("ignoring broken EXIF: %s", exc)
        return img


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB: alpha composited on white, 16-bit scaled to 8-bit."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(img).astype(np.float32)
        if mode != "F" and arr.max(initial=0) > 255:  # 16-bit range: 65535 -> 255
            arr = arr / 257.0
        gray = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    return img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


RESIZE_FILTER = "bilinear"  # PIL's; exported models name it (bicubic moves probabilities ~0.03)


def square_resize(img: Image.Image, size: int) -> np.ndarray:
    """Center-crop to a square, then resize to size x size by RESIZE_FILTER: uint8 (S, S, 3)."""
    width, height = img.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    img = img.crop((left, top, left + side, top + side))
    if side != size:
        img = img.resize((size, size), getattr(Image.Resampling, RESIZE_FILTER.upper()))
    return np.asarray(img, dtype=np.uint8)


def load_square(
    path: str | Path | bytes, size: int, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Decode a cover (file, audio file or bytes) center-cropped and resized: uint8 (S, S, 3)."""
    return square_resize(decode_image(path, max_pixels=max_pixels, draft=size), size)
