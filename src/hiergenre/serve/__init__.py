"""`hiergenre serve`: a FastAPI app over a loaded `Predictor` (JSON API, OpenAPI docs, a page)."""

from hiergenre.serve.app import ServeConfig, create_app

__all__ = ["ServeConfig", "create_app"]
