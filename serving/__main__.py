"""`python -m serving` (and the `number-visualizer` script): run the app under uvicorn.

The model is checked here first, so a missing or mismatched model ends the
process with one clear line instead of a lifespan traceback from every worker.
"""

import sys

import uvicorn

from serving.model import ModelError, read_verified
from serving.settings import load_settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def log_config(level: str) -> dict:
    """One format for uvicorn's and our loggers, applied by uvicorn in every worker."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"format": LOG_FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "line",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
    }


def main() -> None:
    """Check the model, then serve on HOST:PORT with WORKERS processes."""
    settings = load_settings()
    try:
        read_verified(settings.model_path)
    except ModelError as exc:
        sys.exit(f"number-visualizer: cannot start: {exc}")
    # The import string lets uvicorn start several workers, each building its own app.
    uvicorn.run(
        "serving.app:app",
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=False,  # RequestLogMiddleware writes one structured line per request
        log_config=log_config(settings.log_level),
        server_header=False,
    )


if __name__ == "__main__":
    main()
