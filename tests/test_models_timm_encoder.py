"""Any timm model as the encoder: by name, its own preprocessing, weights from a file, a loud
notice without weights, and a tiny architecture trained, evaluated, predicted and exported."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import huggingface_hub.constants
import pytest
import torch
from helpers import covers_dataset
from safetensors.torch import save, save_file
from test_train_cli import _taxonomy_file

from hiergenre.cli.main import main
from hiergenre.errors import CheckpointError, ConfigError
from hiergenre.models import get_model
from hiergenre.models.timm_encoder import TimmEncoder
from hiergenre.taxonomy import Taxonomy


@pytest.fixture(autouse=True)
def offline_hub(tmp_path, monkeypatch):
    """No hub, and an empty Hugging Face cache: the weights cannot be had."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return Taxonomy.from_parents({"Rock": "Music", "Jazz": "Music", "Metal": "Rock"})


def test_preprocessing_comes_from_timm_pretrained_config(tax):
    vit = get_model("timm/test_vit", "level1", tax)
    eff = get_model("timm/test_efficientnet", "level1", tax)
    assert vit.input_mean == (0.5, 0.5, 0.5) and vit.input_std == (0.5, 0.5, 0.5)
    assert eff.input_mean == pytest.approx((0.485, 0.456, 0.406))
    assert eff.encoder.native_size == 160
    assert vit.encoder_frozen  # pretrained encoders are frozen by default (linear probes)
    assert vit(torch.rand(2, 3, 160, 160)).shape == (2, 2)


def test_without_weights_a_loud_notice_and_pretrained_false(tax):
    model = get_model("timm/test_resnet", "level1", tax)
    assert model.pretrained is False
    assert "WITHOUT pretrained weights" in model.notice and "--weights" in model.notice
    quiet = get_model("timm/test_resnet", "level1", tax, weights="none")
    assert quiet.notice is None


def test_weights_file_loads_every_tensor_and_drops_the_classifier(tmp_path):
    import timm

    torch.manual_seed(3)
    source = timm.create_model("test_resnet", pretrained=False)  # with its 1000-way classifier
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    enc = TimmEncoder("test_resnet", weights_file=str(path))
    assert enc.pretrained is True and enc.notice is None
    for key, value in enc.net.state_dict().items():
        assert torch.equal(value, source.state_dict()[key]), key
    other = tmp_path / "other.safetensors"
    save_file({"conv1.weight": torch.zeros(3, 3, 3, 3)}, str(other))
    with pytest.raises(CheckpointError, match="not a state dict of timm/test_resnet"):
        TimmEncoder("test_resnet", weights_file=str(other))


def test_an_unknown_timm_name_is_a_config_error(tax):
    with pytest.raises(ConfigError, match="timm has no model 'resnet_zz'"):
        get_model("timm/resnet_zz", "level1", tax)


HUB_FILE = "/timm/test_resnet.r160_in1k/resolve/main/model.safetensors"  # test_resnet's hf_hub_id
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _hub_handler(files: dict[str, bytes], status: int, seen: list[tuple[str, str]]):
    """A Hugging Face `resolve` endpoint on 127.0.0.1: `files` by path, 404 else, or `status`."""

    class Hub(BaseHTTPRequestHandler):
        def _answer(self, with_body: bool) -> None:
            seen.append((self.command, self.path))
            body = files.get(self.path.split("?")[0])
            code = status if status != 200 else (200 if body is not None else 404)
            self.send_response(code)
            self.send_header("X-Repo-Commit", COMMIT)  # the hub sends it on 404s too
            if code == 200:
                self.send_header("ETag", f'"{hashlib.sha256(body).hexdigest()}"')
                self.send_header("Content-Length", str(len(body)))
            else:
                body = b'{"error": "no"}'
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
            self._answer(with_body=False)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(with_body=True)

        def log_message(self, *args) -> None:
            pass

    return Hub


@pytest.fixture
def hub(monkeypatch):
    """Start a hub on 127.0.0.1, point huggingface_hub at it: start(files, status) -> requests."""
    servers = []

    def start(files: dict[str, bytes], status: int = 200) -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        server = ThreadingHTTPServer(("127.0.0.1", 0), _hub_handler(files, status, seen))
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        _point_hub_at(monkeypatch, f"http://127.0.0.1:{server.server_address[1]}")
        return seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _point_hub_at(monkeypatch, endpoint: str) -> None:
    """huggingface_hub reads its URL template at import: patch it with the endpoint, go online.

    Its first request headers of the process also fetch `{ENDPOINT}/api/agent-harnesses` (a
    telemetry registry cached per process and in HF_HOME): seed that cache as empty, so the hub
    sees only the weights' requests whichever test runs first.
    """
    from huggingface_hub.utils import _detect_agent

    monkeypatch.setattr(_detect_agent, "_registry", _detect_agent._EMPTY_REGISTRY)
    constants = huggingface_hub.constants
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    template = endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)


def test_hub_weights_download_from_the_hub_then_come_from_the_cache(hub, tax):
    import timm

    torch.manual_seed(5)
    source = timm.create_model("test_resnet", pretrained=False)  # with its 1000-way classifier
    seen = hub({HUB_FILE: save({k: v.contiguous() for k, v in source.state_dict().items()})})
    enc = TimmEncoder("test_resnet")
    assert enc.pretrained is True and enc.notice is None
    for key, value in enc.net.state_dict().items():
        assert torch.equal(value, source.state_dict()[key]), key
    assert ("GET", HUB_FILE) in seen and all(path == HUB_FILE for _, path in seen)

    before = list(seen)
    model = get_model("timm/test_resnet", "level1", tax)  # the cache answers: no request at all
    assert model.pretrained is True and model.notice is None
    assert seen == before
    (conv1,) = [v for k, v in model.state_dict().items() if k.endswith("net.conv1.0.weight")]
    assert torch.equal(conv1, source.conv1[0].weight)


@pytest.mark.parametrize("down", ["answers 500", "closed port"])
def test_a_hub_that_cannot_serve_gives_the_notice_at_once(hub, monkeypatch, down):
    if down == "closed port":
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            endpoint, seen = f"http://127.0.0.1:{free.getsockname()[1]}", []
        _point_hub_at(monkeypatch, endpoint)
    else:
        seen = hub({HUB_FILE: b"never served"}, status=500)
        endpoint = huggingface_hub.constants.ENDPOINT
    enc = TimmEncoder("test_resnet")
    assert enc.pretrained is False and "WITHOUT pretrained weights" in enc.notice
    assert f"{endpoint} cannot serve it" in enc.notice and "\n" not in enc.notice
    assert seen == ([] if down == "closed port" else [("HEAD", HUB_FILE)])  # no retries


@pytest.mark.slow
def test_a_timm_model_trains_evaluates_predicts_and_exports(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HIERGENRE_CACHE", str(tmp_path / "cache"))
    taxonomy, data, run = _taxonomy_file(tmp_path), covers_dataset(tmp_path), tmp_path / "run"
    code = main(["train", "flat", "--model", "timm/test_resnet", "--taxonomy", str(taxonomy),
                 "--data", str(data), "--device", "cpu", "--quiet", "--out", str(run)])  # fmt: skip
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "WITHOUT pretrained weights" in printed.out + printed.err
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["image_size"] == 160  # its native size, not the CNNs' 64
    summary = json.loads((run / "summary.json").read_text())
    assert summary["solver"] == "lbfgs" and summary["head_fit"]["chosen_l2"]
    assert summary["pretrained"] is False and "WITHOUT" in summary["notice"]

    assert main(["evaluate", str(run), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    for key, value in summary["test"].items():
        if isinstance(value, float):
            assert scored[key] == pytest.approx(value, abs=1e-6), key

    cover = str(data / "img" / "0.png")
    assert main(["predict", cover, "--run", str(run), "--json"]) == 0
    paths = json.loads(capsys.readouterr().out)[0]["paths"]
    assert paths and paths[0]["path"][0] in ("Rock", "Jazz")

    assert main(["export", str(run), "--onnx"]) == 0
    assert "max |onnxruntime - hiergenre predict|" in " ".join(capsys.readouterr().out.split())
    assert (run / "model.onnx").stat().st_size > 10_000
