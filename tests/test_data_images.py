"""Robust decoding: every broken or unusual file is decoded to RGB or refused with a reason."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from hiergenre.data import ImageDecodeError, decode_image
from hiergenre.data.images import load_square, square_resize


def _jpeg_bytes(size: int = 48, quality: int = 90) -> bytes:
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _png_with_declared_size(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose IHDR (with a correct CRC) claims `width` x `height`."""
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17]))
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("zero.jpg", b"", "empty"),
        ("random.jpg", bytes(np.random.default_rng(1).integers(0, 256, 500, dtype=np.uint8)),
         "not-an-image"),
        ("truncated.jpg", _jpeg_bytes()[:400], "truncated"),
        ("bomb.png", _png_with_declared_size(100_000, 100_000), "too-large"),
    ],
)  # fmt: skip
def test_broken_files_raise_with_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageDecodeError) as info:
        decode_image(path)
    assert info.value.reason == reason


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ImageDecodeError) as info:
        decode_image(tmp_path / "nope.jpg")
    assert info.value.reason == "missing"


def test_pixel_limit_is_configurable(tmp_path):
    Image.new("RGB", (200, 200), "red").save(tmp_path / "a.png")
    assert decode_image(tmp_path / "a.png").size == (200, 200)
    with pytest.raises(ImageDecodeError) as info:
        decode_image(tmp_path / "a.png", max_pixels=200 * 200 - 1)
    assert info.value.reason == "too-large"


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (16, 16), (0, 0, 0, 0)).save(tmp_path / "cmyk.jpg")
    img = decode_image(tmp_path / "cmyk.jpg")
    assert img.mode == "RGB"
    assert np.asarray(img).min() > 240  # no ink is white


def test_16bit_png_is_scaled_to_8bit(tmp_path):
    arr = np.array([[0, 32896, 65535]], dtype=np.uint16)
    Image.fromarray(arr).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    img = decode_image(tmp_path / "deep.png")
    assert img.mode == "RGB"
    assert np.asarray(img)[0, :, 0].tolist() == [0, 128, 255]


def test_palette_with_transparency_is_composited_on_white(tmp_path):
    img = Image.new("P", (2, 1))
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    img.putpixel((0, 0), 0)
    img.putpixel((1, 0), 1)
    img.info["transparency"] = 0
    img.save(tmp_path / "pal.png", transparency=0)
    out = np.asarray(decode_image(tmp_path / "pal.png"))
    assert out[0, 0].tolist() == [255, 255, 255]  # transparent red -> white
    assert out[0, 1].tolist() == [0, 0, 255]


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "1"])
def test_other_modes_become_rgb(tmp_path, mode):
    Image.new(mode, (5, 4)).save(tmp_path / "x.png")
    img = decode_image(tmp_path / "x.png")
    assert img.mode == "RGB" and img.size == (5, 4)


def test_fully_transparent_rgba_is_white(tmp_path):
    Image.new("RGBA", (3, 3), (10, 20, 30, 0)).save(tmp_path / "t.png")
    assert np.asarray(decode_image(tmp_path / "t.png")).min() == 255


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), "blue")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    img.save(tmp_path / "rot.jpg", exif=exif.tobytes())
    assert decode_image(tmp_path / "rot.jpg").size == (20, 40)


def test_square_resize_center_crops(tmp_path):
    arr = np.zeros((20, 40, 3), dtype=np.uint8)
    arr[:, 10:30] = 255  # the centre square is white, the sides black
    out = square_resize(Image.fromarray(arr), 10)
    assert out.shape == (10, 10, 3) and out.min() == 255


def test_load_square_with_jpeg_draft_keeps_content(tmp_path):
    Image.new("RGB", (400, 300), (200, 40, 40)).save(tmp_path / "big.jpg", quality=95)
    out = load_square(tmp_path / "big.jpg", 32)
    assert out.shape == (32, 32, 3)
    assert np.abs(out.astype(int) - [200, 40, 40]).max() < 8
