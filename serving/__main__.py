"""`python -m serving` (and the `number-visualizer` script): check the model, then serve.

The model is checked here first, so a missing or mismatched model ends the
process with one clear line instead of a lifespan traceback from every worker.
"""

import sys

from serving.model import ModelError, read_verified
from serving.server import serve
from serving.settings import load_settings


def main() -> None:
    """Serve on HOST:PORT with WORKERS processes, if the model checks out."""
    settings = load_settings()
    try:
        read_verified(settings.model_path)
    except ModelError as exc:
        sys.exit(f"number-visualizer: cannot start: {exc}")
    serve(settings)


if __name__ == "__main__":
    main()
