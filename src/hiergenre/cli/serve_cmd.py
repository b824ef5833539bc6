"""`hiergenre serve`: the web page and JSON API over a trained run."""

from __future__ import annotations

from pathlib import Path

import typer

from hiergenre.cli.common import BACKEND, DEVICE, console_err
from hiergenre.cli.defaults import library_value

o = typer.Option


def _serve(field: str):
    """A ServeConfig default (serve/app.py)."""
    return library_value("serve/app.py", f"ServeConfig.{field}")


def serve(
    run: Path = o(..., "--run", help="A trained run directory."),
    host: str = o(
        _serve("host"), "--host", help="Address to bind (0.0.0.0 exposes it to the network)."
    ),
    port: int = o(_serve("port"), "--port", help="TCP port."),
    max_upload_mb: float = o(
        _serve("max_upload_mb"), "--max-upload-mb", help="Largest request body accepted (MB)."
    ),
    device: str = DEVICE,
    backend: str = BACKEND,
) -> None:
    """Serve the model: a web page at /, a JSON API (/predict, /taxonomy/GENRE, /health, /docs)."""
    import uvicorn

    from hiergenre.predictor import load_predictor
    from hiergenre.serve import ServeConfig, create_app

    config = ServeConfig(host=host, port=port, max_upload_mb=max_upload_mb)
    predictor = load_predictor(run, device or "auto", backend=backend)
    app = create_app(predictor, config)
    console_err.print(f"serving {run} on http://{host}:{port}/ (Ctrl-C stops)", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning")
