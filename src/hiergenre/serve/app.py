"""The web app: `GET /health`, `POST /predict`, `GET /taxonomy/{genre}`, the page at `/`.

Uploads are decoded by the same `decode_image` as every other command (size limit, broken files,
decompression bombs), then fed to the predictor, whose lock serialises inference: requests are
served concurrently by the threadpool without racing on the model.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from hiergenre.data.audio import AUDIO_SUFFIXES
from hiergenre.data.images import IMAGE_SUFFIXES, ImageDecodeError
from hiergenre.errors import ConfigError, HiergenreError, UnknownGenreError
from hiergenre.predictor import DecodeOptions, Predictor
from hiergenre.serve.limits import BodyLimit
from hiergenre.taxonomy.explain import explain_genre

log = logging.getLogger(__name__)
STATIC = resources.files("hiergenre.serve") / "static"


@dataclass(frozen=True)
class ServeConfig:
    """Server settings; `max_upload_mb` bounds a whole request body (413 above it)."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_mb: float = 20.0
    max_files: int = 32

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"`port` must be between 0 and 65535, got {self.port}")
        if not self.max_upload_mb > 0:
            raise ConfigError(f"`max_upload_mb` must be positive, got {self.max_upload_mb}")
        if self.max_files < 1:
            raise ConfigError(f"max_files must be at least 1, got {self.max_files}")

    @property
    def max_upload_bytes(self) -> int:
        """The body limit in bytes (1 MB = 1,000,000 bytes)."""
        return int(self.max_upload_mb * 1_000_000)


def _read_upload(
    predictor: Predictor, upload: UploadFile, folder: Path, i: int
) -> tuple[np.ndarray | None, str | None]:
    """One uploaded file -> (uint8 (S, S, 3), None), or (None, why it cannot be read), via a
    temporary file and the shared decoder."""
    suffix = Path(upload.filename or "").suffix.lower()
    known = IMAGE_SUFFIXES + AUDIO_SUFFIXES  # an audio file: its embedded cover
    path = folder / f"{i}{suffix if suffix in known else '.img'}"
    path.write_bytes(upload.file.read())
    try:
        return predictor.load_pixels(path), None
    except ImageDecodeError as exc:
        detail = f" ({exc.detail})" if exc.detail and exc.reason != "not-an-image" else ""
        hint = "upload a JPEG, PNG, WebP, GIF, BMP or TIFF cover, or an audio file with one"
        return None, f"cannot read the image: {exc.reason}{detail}; {hint}"


def _predict(predictor: Predictor, files: list[UploadFile], options: DecodeOptions) -> list[dict]:
    """Per file, in order: {"filename", "paths", "error"}; a file that cannot be read gets its
    reason and no paths, the others are answered (as `hiergenre predict` skips a broken cover)."""
    with tempfile.TemporaryDirectory(prefix="hiergenre-upload-") as tmp:
        read = [_read_upload(predictor, f, Path(tmp), i) for i, f in enumerate(files)]
    pixels = [px for px, error in read if error is None]
    decoded = iter(
        predictor.paths_from_probs(predictor.probs_from_pixels(np.stack(pixels)), options)
        if pixels
        else ()
    )
    return [{"filename": f.filename or f"upload {i + 1}", "error": error,
             "paths": [] if error else [p.to_dict() for p in next(decoded)]}
            for i, (f, (_, error)) in enumerate(zip(files, read, strict=True))]  # fmt: skip


def _all_failed(results: list[dict]) -> JSONResponse:
    """400 when no file could be read: the first reason in one line, and every file's."""
    first = results[0]
    more = f" (and {len(results) - 1} more files could not be read)" if len(results) > 1 else ""
    detail = f"{first['filename']}: {first['error']}{more}"
    return JSONResponse({"detail": detail, "results": results}, status_code=400)


def _add_routes(app: FastAPI, predictor: Predictor, config: ServeConfig) -> None:

    @app.get("/health", summary="Is the model loaded? Which run, model and input size.")
    def health() -> dict:
        run = predictor.run
        return {"status": "ok", "model": predictor.model_name, "run": str(run.run_dir),
                "device": predictor.device, "image_size": predictor.image_size,
                "nodes": predictor.taxonomy.num_nodes, "root": predictor.taxonomy.root,
                "max_upload_mb": config.max_upload_mb}  # fmt: skip

    @app.post("/predict", summary="Top coherent genre paths of one or more uploaded covers.",
              response_model=None)  # fmt: skip
    def predict(
        files: list[UploadFile] = File(..., description="One or more cover images."),
        top_k: int = Query(3, ge=1, le=20, description="Paths per cover."),
        decode: str = Query("greedy", description="greedy | beam | threshold | min-distance."),
        threshold: float | None = Query(None, ge=0, le=1, description="Stop threshold."),
    ) -> dict | JSONResponse:
        if len(files) > config.max_files:
            raise HTTPException(400, f"{len(files)} files in one request: send at most "
                                     f"{config.max_files}")  # fmt: skip
        options = DecodeOptions(top_k, decode, threshold)
        results = _predict(predictor, files, options)
        if all(r["error"] for r in results):
            return _all_failed(results)
        return {"model": predictor.model_name, "results": results}

    @app.get("/taxonomy/{genre}", summary="explain-taxonomy for a genre (any spelling or alias).")
    def taxonomy(genre: str, depth: int = Query(1, ge=0, le=4)) -> dict:
        return explain_genre(predictor.taxonomy, genre, depth=depth).to_dict()

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(UnknownGenreError)
    def unknown_genre(_: Request, exc: UnknownGenreError) -> JSONResponse:
        suggestions = [s for name in exc.names for s in exc.suggestions.get(name, [])]
        return JSONResponse({"detail": str(exc), "suggestions": suggestions}, status_code=404)

    @app.exception_handler(HiergenreError)
    def user_error(_: Request, exc: HiergenreError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        msg = f"{where or 'request'}: {first.get('msg', 'invalid')}; see /docs for the API"
        return JSONResponse({"detail": msg}, status_code=422)


def create_app(predictor: Predictor, config: ServeConfig = ServeConfig()) -> FastAPI:
    """The FastAPI app serving `predictor` (docs at /docs, schema at /openapi.json)."""
    app = FastAPI(
        title="hiergenre",
        description="Album genres from cover art over a 4-level genre taxonomy.",
        version=_version(),
    )
    app.add_middleware(BodyLimit, max_bytes=config.max_upload_bytes)
    _add_error_handlers(app)
    _add_routes(app, predictor, config)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app


def _version() -> str:
    """The installed package's version (the package facade sits above this layer)."""

    try:
        return version("hiergenre")
    except PackageNotFoundError:
        return "unknown"
