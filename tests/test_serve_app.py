"""The web API through FastAPI's TestClient: every endpoint, every bad input, concurrency."""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from hiergenre.predictor import load_predictor
from hiergenre.serve import ServeConfig, create_app
from hiergenre.serve.app import STATIC
from hiergenre.taxonomy.explain import explain_genre


@pytest.fixture(scope="module")
def predictor(tiny_run):
    return load_predictor(tiny_run / "run", device="cpu")


@pytest.fixture(scope="module")
def client(predictor):
    return TestClient(create_app(predictor, ServeConfig(max_upload_mb=0.2)))


def _covers(tiny_run, n: int):
    return sorted((tiny_run / "data" / "images").glob("*.jpg"))[:n]


def _png_bomb(side: int = 20_000) -> bytes:
    """A real 1-bit PNG of side x side black pixels: ~40 KB on disk, 400M pixels decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = (b"\x00" + b"\x00" * (side // 8)) * side
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 9))
            + chunk(b"IEND", b""))  # fmt: skip


def _post(client, *files, **params):
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    return client.post("/predict", files=parts, params=params)


def test_health_names_the_loaded_run(client, tiny_run):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["model"] == "hierarchical"
    assert body["image_size"] == 32 and body["nodes"] == 445 and body["root"] == "Music"
    assert body["run"] == str(tiny_run / "run") and body["max_upload_mb"] == 0.2


def test_predict_matches_the_python_api_for_each_file_in_order(client, predictor, tiny_run):
    covers = _covers(tiny_run, 3)
    res = _post(client, *[(p.name, p.read_bytes()) for p in covers], top_k=2)
    assert res.status_code == 200, res.text
    results = res.json()["results"]
    assert [r["filename"] for r in results] == [p.name for p in covers]
    expected = predictor.predict(covers, top_k=2)
    for got, want in zip(results, expected, strict=True):
        assert [p["path"] for p in got["paths"]] == [list(p.names) for p in want.paths]
        np.testing.assert_allclose([p["probs"] for p in got["paths"]],
                                   [p.probs for p in want.paths], atol=1e-6)  # fmt: skip
        assert len(got["paths"]) == 2


def test_predict_accepts_png_upload_like_the_same_pixels_on_disk(client, predictor, tmp_path):
    pixels = np.random.default_rng(0).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    res = _post(client, ("cover.png", buf.getvalue()))
    assert res.status_code == 200
    want = predictor.predict(pixels, top_k=3)[0]
    assert res.json()["results"][0]["paths"] == [p.to_dict() for p in want.paths]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"<html>not a cover</html>", "not-an-image"),
        (b"", "empty"),
        ("truncated", "truncated"),
        ("bomb", "too-large"),
    ],
)  # fmt: skip
def test_bad_images_get_a_reason_each_and_the_good_ones_their_paths(
    client, predictor, tiny_run, content, reason
):
    """As `hiergenre predict`: a broken cover is reported, the others are answered (HTTP 200);
    only a request where every file fails is a 400."""
    if content == "truncated":
        content = _covers(tiny_run, 1)[0].read_bytes()[:300]
    elif content == "bomb":
        content = _png_bomb()
        assert len(content) < 150_000  # below the upload limit: refused for its pixels
    good = _covers(tiny_run, 2)
    res = _post(client, ("good.jpg", good[0].read_bytes()), ("bad.jpg", content),
                ("good2.jpg", good[1].read_bytes()))  # fmt: skip
    assert res.status_code == 200, res.text
    results = res.json()["results"]
    assert [r["filename"] for r in results] == ["good.jpg", "bad.jpg", "good2.jpg"]
    want = predictor.predict(good, top_k=3)
    assert [r["paths"] for r in results[::2]] == [[p.to_dict() for p in w.paths] for w in want]
    assert results[0]["error"] is None and results[1]["paths"] == []
    error = results[1]["error"]
    assert error.startswith("cannot read the image: " + reason) and "\n" not in error

    res = _post(client, ("bad.jpg", content), ("worse.jpg", b"junk"))
    assert res.status_code == 400, res.text
    detail = res.json()["detail"]
    assert detail.startswith("bad.jpg: cannot read the image: " + reason) and "\n" not in detail
    assert "1 more" in detail and len(res.json()["results"]) == 2


def test_upload_above_limit_is_413_declared_or_streamed(client, tiny_run):
    big = b"\xff" * 250_000  # 0.25 MB > 0.2 MB
    res = _post(client, ("big.jpg", big))
    assert res.status_code == 413 and "--max-upload-mb" in res.json()["detail"]

    def chunks():  # no Content-Length: counted while it streams
        yield b'--b\r\nContent-Disposition: form-data; name="files"; filename="x.jpg"\r\n\r\n'
        for _ in range(30):
            yield b"\0" * 10_000

    res = client.post("/predict", content=chunks(),
                      headers={"content-type": "multipart/form-data; boundary=b"})  # fmt: skip
    assert res.status_code == 413
    ok = _covers(tiny_run, 1)[0].read_bytes()
    assert len(ok) < 200_000 and _post(client, ("ok.jpg", ok)).status_code == 200


def test_request_errors(client, tiny_run):
    cover = ("a.jpg", _covers(tiny_run, 1)[0].read_bytes())
    assert client.post("/predict").status_code == 422  # no files
    res = _post(client, cover, decode="sideways")
    assert res.status_code == 400 and "`decode` 'sideways'" in res.json()["detail"]
    assert _post(client, cover, top_k=0).status_code == 422
    res = _post(client, *[cover] * 33)
    assert res.status_code == 400 and "at most 32" in res.json()["detail"]


def test_taxonomy_endpoint_is_explain_taxonomy_json(client, predictor):
    res = client.get("/taxonomy/hip hop", params={"depth": 2})
    assert res.status_code == 200
    want = explain_genre(predictor.taxonomy, "hip hop", depth=2).to_dict()
    assert res.json() == json.loads(json.dumps(want))  # the CLI's --json, tuples as lists
    assert res.json()["name"] == "Rap & Hip-Hop" and res.json()["query"] == "hip hop"
    root = client.get("/taxonomy/Music", params={"depth": 0}).json()
    assert root["level"] == 0 and len(root["children"]) == 25


def test_unknown_genre_is_404_with_suggestions(client):
    res = client.get("/taxonomy/Rokc")
    assert res.status_code == 404
    assert "Rock" in res.json()["suggestions"] and "did you mean" in res.json()["detail"]


def test_openapi_docs_and_offline_page(client):
    schema = client.get("/openapi.json").json()
    assert {"/health", "/predict", "/taxonomy/{genre}"} <= set(schema["paths"])
    assert "multipart/form-data" in schema["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    for name in ("index.html", "app.js", "style.css"):
        text = (STATIC / name).read_text()
        assert client.get(f"/static/{name}").text == text
        assert not re.search(r"(src|href)=\"https?:|url\(\s*['\"]?https?:|import .*https?:", text)


def test_concurrent_requests_get_their_own_answers(client, tiny_run):
    covers = _covers(tiny_run, 8)
    alone = [_post(client, (p.name, p.read_bytes()), top_k=4).json() for p in covers]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda p: _post(client, (p.name, p.read_bytes()), top_k=4).json(),
                                 covers * 3))  # fmt: skip
    assert together == alone * 3


def test_default_bind_is_loopback_and_limits_are_checked():
    from hiergenre.errors import ConfigError

    assert ServeConfig().host == "127.0.0.1"
    with pytest.raises(ConfigError, match="`max_upload_mb`"):
        ServeConfig(max_upload_mb=0)
    with pytest.raises(ConfigError, match="`port`"):
        ServeConfig(port=70000)


def test_serve_cli_refuses_bad_settings_before_loading(tmp_path):
    from hiergenre.cli.main import main

    assert main(["serve", "--run", str(tmp_path), "--max-upload-mb", "0"]) == 2
    assert main(["serve", "--run", str(tmp_path), "--port", "99999"]) == 2
    assert main(["serve", "--run", str(tmp_path / "no-run")]) == 2  # not a run directory


def test_decode_and_threshold_query_parameters(client, tiny_run):
    cover = ("a.jpg", _covers(tiny_run, 1)[0].read_bytes())
    full = _post(client, cover).json()["results"][0]["paths"]
    cut = _post(client, cover, decode="threshold", threshold=1.0).json()["results"][0]["paths"]
    assert len(full[0]["path"]) > 1 and [p["path"] for p in cut] == [p["path"][:1] for p in full]
    assert _post(client, cover, threshold=1.5).status_code == 422
