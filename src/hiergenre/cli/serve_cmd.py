"""`hiergenre serve`: the web page and JSON API over a trained run."""

from __future__ import annotations

from pathlib import Path

import typer

from hiergenre.cli.common import BACKEND, DEVICE, console_err

o = typer.Option


def serve(
    run: Path = o(..., "--run", help="A trained run directory."),
    host: str = o(
        "127.0.0.1", "--host", help="Address to bind (0.0.0.0 exposes it to the network)."
    ),
    port: int = o(8000, "--port", help="TCP port."),
    max_upload_mb: float = o(20.0, "--max-upload-mb", help="Largest request body accepted (MB)."),
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
