"""`fetch_covers` against a real HTTP server on 127.0.0.1 that injects every fault the fetcher
must survive: 404, 503 then 200, 429 with Retry-After, a 307 chain, a redirect loop, a slow
response, truncated bodies, HTML served as a JPEG, a body over the size limit, a reset
connection; then Ctrl-C and SIGKILL mid-way followed by a re-run."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hiergenre.data.fetch import FetchConfig, fetch_covers, plan_fetch
from hiergenre.data.http import HttpPolicy, retry_after_seconds
from hiergenre.data.ledger import LEDGER, Ledger
from hiergenre.errors import ConfigError

MBID = "0123abcd-0000-4000-8000-{:012d}"


def jpeg(seed: int, size: int = 40) -> bytes:
    """A distinct small JPEG cover."""
    small = np.random.default_rng(seed).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC).save(buf, "JPEG")
    return buf.getvalue()


class Server:
    """A scripted HTTP server: each path answers from a list of steps (the last one repeats)."""

    def __init__(self, routes: dict[str, list[tuple]], delay: float = 0.0):
        self.routes, self.delay = routes, delay
        self.hits: Counter = Counter()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.agents: set[str] = set()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                with server.lock:
                    n = server.hits[self.path]
                    server.hits[self.path] += 1
                    server.times[self.path].append(time.monotonic())
                    server.agents.add(self.headers.get("User-Agent", ""))
                steps = server.routes.get(self.path, [("status", 404)])
                server.answer(self, steps[min(n, len(steps) - 1)])

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # clients hang up on purpose
                pass

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, h: BaseHTTPRequestHandler, step: tuple) -> None:
        kind, *args = step
        time.sleep(self.delay)
        if kind == "image":
            self._send(h, 200, args[0], {"Content-Type": "image/jpeg"})
        elif kind == "status":
            self._send(h, args[0], b"no", args[1] if len(args) > 1 else {})
        elif kind == "redirect":
            self._send(h, 307, b"", {"Location": args[0]})
        elif kind == "html":
            page = b"<html><body>Not found</body></html>"
            self._send(h, 200, page, {"Content-Type": "image/jpeg"})
        elif kind == "slow":
            time.sleep(args[0])
            self._send(h, 200, args[1], {"Content-Type": "image/jpeg"})
        elif kind == "short-body":  # declares the whole length, sends a part, closes
            h.send_response(200)
            h.send_header("Content-Length", str(len(args[0])))
            h.end_headers()
            h.wfile.write(args[0][: len(args[0]) // 2])
        elif kind == "cut-file":  # no length: the body ends at the close, the JPEG is cut
            h.send_response(200)
            h.end_headers()
            h.wfile.write(args[0][: len(args[0]) * 2 // 3])
        elif kind == "huge":
            self._send(h, 200, b"x" * 1024, {"Content-Length": str(10 * 2**20)}, length=False)
        elif kind == "reset":
            h.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.close_connection = True
            h.request.close()

    @staticmethod
    def _send(h, code: int, body: bytes, headers: dict, length: bool = True) -> None:
        h.send_response(code)
        for key, value in headers.items():
            h.send_header(key, value)
        if length:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def config(server: Server, **kw) -> FetchConfig:
    """Tiny delays and limits so every fault resolves in milliseconds."""
    http = HttpPolicy(user_agent="", rate_per_host=1000.0, connect_timeout=2.0, read_timeout=0.3,
                      retries=2, backoff_base=0.01, backoff_max=0.05, jitter=0.5,
                      max_bytes=200_000)  # fmt: skip
    base = {"caa_base_url": f"{server.url}/caa", "workers": 4, "http": http, "contact": "t@x.org"}
    return FetchConfig(**{**base, **kw})


def write_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    lines = ["album_id,mbid,url"] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def faults(tmp_path):
    covers = {k: jpeg(k) for k in range(10)}
    caa = "/caa/release-group/{}/front-500"
    routes = {
        caa.format(MBID.format(1)): [("redirect", "/ia/1a")],
        "/ia/1a": [("redirect", "/ia/1b")],
        "/ia/1b": [("image", covers[1])],
        caa.format(MBID.format(2)): [("status", 404)],
        "/img/2": [("image", covers[2])],
        "/img/3": [("status", 503), ("status", 503), ("image", covers[3])],
        "/img/4": [("status", 429, {"Retry-After": "1"}), ("image", covers[4])],
        "/loop": [("redirect", "/loop")],
        "/slow": [("slow", 1.0, covers[5])],
        "/short": [("short-body", covers[6])],
        "/cut": [("cut-file", covers[7])],
        "/html": [("html",)],
        "/huge": [("huge",)],
        "/reset": [("reset",)],
        "/busy": [("status", 503)],
    }
    server = Server(routes)
    u = server.url
    rows = [("a01", MBID.format(1), f"{u}/never"), ("a02", MBID.format(2), f"{u}/img/2"),
            ("a03", "", f"{u}/img/3"), ("a04", "", f"{u}/img/4"), ("a05", "", f"{u}/loop"),
            ("a06", "", f"{u}/slow"), ("a07", "", f"{u}/short"), ("a08", "", f"{u}/cut"),
            ("a09", "", f"{u}/html"), ("a10", "", f"{u}/huge"), ("a11", "", f"{u}/reset"),
            ("a12", MBID.format(12), f"{u}/gone"), ("a13", "", ""), ("a14", "", f"{u}/busy"),
            ("../evil", "", f"{u}/img/2")]  # fmt: skip
    yield server, write_csv(tmp_path / "albums.csv", rows), covers
    server.close()


EXPECTED = {
    "ok": 4,
    "failed:too-many-redirects": 1,
    "failed:timeout": 1,
    "failed:truncated": 2,  # a short body (retried) and a cut JPEG (verification)
    "failed:not-an-image": 1,
    "failed:too-large": 1,
    "failed:connection": 1,
    "failed:http-503": 1,
    "not-found:http-404": 1,
    "not-found:no-source": 1,
}


def test_every_fault_is_counted_retried_and_leaves_no_partial_file(tmp_path, faults):
    server, source, covers = faults
    out = tmp_path / "covers"
    summary = fetch_covers(source, out, config(server))
    assert dict(summary.outcomes) == EXPECTED
    assert [s["reason"] for s in summary.skipped_input] == ["bad-id"]
    assert summary.sources == {"caa": 1, "url": 3}
    hits = server.hits
    assert hits["/ia/1b"] == 1 and hits["/never"] == 0  # CAA first, its 307 chain followed
    assert hits["/img/3"] == 3 and hits["/img/4"] == 2  # 503, 503, 200 / 429, 200
    gap = server.times["/img/4"][1] - server.times["/img/4"][0]
    assert gap >= 0.95  # Retry-After: 1 honoured although the backoff is 10 ms
    assert hits["/loop"] == 6  # the first request and 5 redirects, not retried
    assert hits["/slow"] == hits["/short"] == hits["/reset"] == hits["/busy"] == 3
    assert hits["/cut"] == hits["/html"] == hits["/huge"] == 1  # not retried: it would not help
    assert server.agents == {"hiergenre/0.1.0 (+t@x.org)"}

    entries = Ledger(out).load()
    assert len(entries) == 14
    assert entries["a01"].source == "caa" and entries["a01"].url.endswith("/ia/1b")
    assert entries["a02"].source == "url"  # CAA said 404, the URL had it
    assert entries["a12"].status == "not-found" and entries["a05"].attempts == 6
    files = sorted(p.name for p in out.iterdir())
    assert files == ["a01.jpg", "a02.jpg", "a03.jpg", "a04.jpg", LEDGER]  # nothing partial
    for k in (1, 2, 3, 4):
        data = (out / f"a{k:02d}.jpg").read_bytes()
        assert data == covers[k]
        assert entries[f"a{k:02d}"].sha1 == hashlib.sha1(data).hexdigest()


def test_rerun_resumes_and_retry_failed_retries_only_failures(tmp_path, faults):
    server, source, _ = faults
    out = tmp_path / "covers"
    fetch_covers(source, out, config(server, sources=("url",)))
    before = Counter(server.hits)
    again = fetch_covers(source, out, config(server, sources=("url",)))
    assert server.hits == before and not again.outcomes  # nothing asked twice
    assert again.already_done == 3 and again.skipped_failures == 11  # a01 has only an mbid URL
    plan = plan_fetch(source, out, config(server, retry_failed=True))
    assert plan.to_fetch == 11 and plan.already_done == 3
    retried = fetch_covers(source, out, config(server, retry_failed=True))
    assert server.hits["/img/2"] == before["/img/2"] and server.hits["/img/3"] == 3
    assert retried.outcomes["ok"] == 1  # a01 now through the Cover Art Archive
    assert len(Ledger(out).load()) == 14


def _slow_server(n: int, delay: float) -> tuple[Server, dict[int, bytes]]:
    covers = {k: jpeg(100 + k, size=64) for k in range(n)}
    return Server({f"/c/{k}": [("image", covers[k])] for k in range(n)}, delay=delay), covers


def _source(tmp_path: Path, server: Server, covers: dict[int, bytes]) -> Path:
    return write_csv(tmp_path / "s.csv", [(f"c{k:03d}", "", f"{server.url}/c/{k}") for k in covers])


def _assert_complete(out: Path, covers: dict[int, bytes]) -> None:
    names = {p.name for p in out.iterdir()}
    assert names == {f"c{k:03d}.jpg" for k in covers} | {LEDGER}  # no temp file anywhere
    for k, data in covers.items():
        assert (out / f"c{k:03d}.jpg").read_bytes() == data  # none corrupt
    assert all(e.status == "ok" for e in Ledger(out).load().values())


def test_ctrl_c_stops_cleanly_and_a_rerun_fetches_each_cover_once(tmp_path):
    server, covers = _slow_server(40, delay=0.02)
    source = _source(tmp_path, server, covers)
    out = tmp_path / "covers"

    def ctrl_c(done: int, total: int) -> None:
        if done >= 10:
            raise KeyboardInterrupt

    first = fetch_covers(source, out, config(server, workers=3), progress=ctrl_c)
    assert first.interrupted and 10 <= sum(first.outcomes.values()) < 40
    have = {p.stem for p in out.glob("c*.jpg")}
    assert have == set(Ledger(out).load())  # every cover on disk is in the ledger, and back
    asked = Counter(server.hits)
    second = fetch_covers(source, out, config(server, workers=3))
    assert not second.interrupted and second.already_done == len(have)
    for k in covers:
        assert server.hits[f"/c/{k}"] == 1 or f"c{k:03d}" not in have  # done ones: not asked again
    assert sum(server.hits.values()) - sum(asked.values()) == 40 - len(have)
    _assert_complete(out, covers)
    server.close()


@pytest.mark.slow
def test_sigkill_mid_fetch_then_rerun_completes_without_refetching(tmp_path):
    server, covers = _slow_server(60, delay=0.03)
    source = _source(tmp_path, server, covers)
    out = tmp_path / "covers"
    code = (
        "import sys; from hiergenre.data.fetch import FetchConfig, fetch_covers;"
        "from hiergenre.data.http import HttpPolicy;"
        "http = HttpPolicy(user_agent='', rate_per_host=1000.0, retries=0);"
        "fetch_covers(sys.argv[1], sys.argv[2], FetchConfig(workers=2, http=http,"
        " sources=('url',), caa_base_url=sys.argv[3]))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    args = [sys.executable, "-c", code, str(source), str(out), f"{server.url}/caa"]
    proc = subprocess.Popen(args, env=env)
    ledger = out / LEDGER
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if ledger.is_file() and len(ledger.read_bytes().splitlines()) >= 8:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    have = {p.stem for p in out.glob("c*.jpg")}
    assert 8 <= len(have) < 60
    (out / ".c059.jpg.stale.tmp").write_bytes(b"\xff\xd8half")  # what a kill mid-write leaves
    asked = Counter(server.hits)
    second = fetch_covers(source, out, config(server, workers=3))
    assert second.stale_temp_removed >= 1  # ours, and any the killed downloads left
    assert all(server.hits[f"/c/{int(a[1:])}"] == asked[f"/c/{int(a[1:])}"] for a in have)
    assert second.already_done == len(have)
    _assert_complete(out, covers)
    server.close()


def test_mumu_metadata_and_csv_are_fetch_sources(tmp_path):
    server = Server({"/im/B1.jpg": [("image", jpeg(1))],
                     f"/caa/release/{MBID.format(7)}/front-250": [("image", jpeg(2))]})  # fmt: skip
    meta = tmp_path / "amazon_metadata_MuMu.json"  # the Python-literal Amazon dump
    meta.write_text(f"{{'amazon_id': 'B1', 'imUrl': '{server.url}/im/B1.jpg'}}\n{{'asin': ''}}\n")
    summary = fetch_covers(meta, tmp_path / "a", config(server))
    assert summary.outcomes == {"ok": 1} and summary.skipped_input[0]["reason"] == "no-id"
    labels = tmp_path / "MuMu_dataset_multi-label.csv"
    row = f"B7,{MBID.format(7)},t,r,a,Pop\n"  # two tracks of one album
    header = "amazon_id,album_mbid,MSD_track_id,recording_mbid,artist_mbid,genres\n"
    labels.write_text(header + row * 2)
    summary = fetch_covers(labels, tmp_path / "b", config(server, mbid_kind="release", size=250))
    assert summary.outcomes == {"ok": 1} and summary.albums == 1
    assert (tmp_path / "b" / "B7.jpg").read_bytes() == jpeg(2)
    server.close()


def test_bad_options_and_retry_after_dates():
    with pytest.raises(ConfigError, match="250, 500 or 1200"):
        FetchConfig(size=300).validate()
    with pytest.raises(ConfigError, match="caa, url"):
        FetchConfig(sources=("caa", "spotify")).validate()
    assert retry_after_seconds("7") == 7.0 and retry_after_seconds(None) is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert retry_after_seconds("soon") is None


def test_cli_dry_run_and_summary(tmp_path, faults, capsys):
    from hiergenre.cli.main import main

    server, source, _ = faults
    out = tmp_path / "covers"
    base = ["data", "fetch", str(source), "--out", str(out), "--caa-base-url", f"{server.url}/caa"]
    assert main([*base, "--dry-run"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "14 albums; 0 already fetched" in text and "14 to fetch" in text
    assert sum(server.hits.values()) == 0 and not out.exists()  # the plan asks nothing
    fast = ["--timeout", "0.3", "--retries", "0", "--rate", "1000", "--max-mb", "0.2"]
    assert main([*base, *fast, "--sources", "caa"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "1 ok" in text and "2 not-found:http-404" in text
    assert json.loads((out / LEDGER).read_text().splitlines()[0])["status"] in ("ok", "not-found")
    assert main([*base, "--size", "640"]) == 2
