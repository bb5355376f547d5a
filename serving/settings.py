"""Every setting of the service, read from environment variables in one place.

Container platforms and Kubernetes configure a process through its environment,
so that is the only source. Tests build a Settings of their own and pass it to
create_app, which is why nothing here is read at import time by the app itself.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.config import Config
from starlette.datastructures import CommaSeparatedStrings

from serving.contract import MODEL_FILE

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_PATH = REPO_ROOT / "artifacts" / MODEL_FILE
DEFAULT_WEB_DIR = REPO_ROOT / "web"


@dataclass(frozen=True)
class Settings:
    """Resolved configuration; the defaults are the documented ones."""

    host: str = "127.0.0.1"
    port: int = 8000
    model_path: Path = DEFAULT_MODEL_PATH
    web_dir: Path = DEFAULT_WEB_DIR
    workers: int = 1
    ort_threads: int = 1
    max_body_bytes: int = 1_048_576
    max_image_pixels: int = 4_000_000
    """2000x2000: far above any canvas (280 CSS px at 4x DPR is 1120x1120), far below a bomb."""
    max_batch: int = 64
    cors_origins: tuple[str, ...] = ()
    log_level: str = "info"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (or the mapping given), falling back to the defaults."""
    config = Config(environ=os.environ if environ is None else environ)
    default = Settings()
    return Settings(
        host=config("HOST", default=default.host),
        port=config("PORT", cast=int, default=default.port),
        model_path=config("MODEL_PATH", cast=Path, default=default.model_path),
        web_dir=config("WEB_DIR", cast=Path, default=default.web_dir),
        workers=config("WORKERS", cast=int, default=default.workers),
        ort_threads=config("ORT_THREADS", cast=int, default=default.ort_threads),
        max_body_bytes=config("MAX_BODY_BYTES", cast=int, default=default.max_body_bytes),
        max_image_pixels=config("MAX_IMAGE_PIXELS", cast=int, default=default.max_image_pixels),
        max_batch=config("MAX_BATCH", cast=int, default=default.max_batch),
        cors_origins=tuple(config("CORS_ORIGINS", cast=CommaSeparatedStrings, default="")),
        log_level=config("LOG_LEVEL", default=default.log_level).lower(),
    )
