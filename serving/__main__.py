"""`python -m serving` (and the `number-visualizer` script): check everything, then serve.

Settings, the open-files limit and the port are checked here, once, before any worker
starts, and the model before any connection is taken (serving.runtime.server: by this process,
or by each forked worker, which reports back), so a bad value ends the process with one
clear line and a non-zero exit instead of a traceback from every worker (or, with
several workers, a supervisor that exits 0 after its workers failed).
"""

import sys

from serving.runtime.server import StartupError, serve
from serving.settings import SettingError, check_resources, load_settings


def main() -> None:
    """Serve on HOST:PORT with WORKERS processes, if every setting and the model check out."""
    try:
        settings = load_settings()
        check_resources(settings)
    except SettingError as exc:
        sys.exit(f"number-visualizer: cannot start: {exc}")
    try:
        serve(settings)
    except StartupError as exc:
        print(f"number-visualizer: cannot start: {exc}", file=sys.stderr)
        sys.exit(exc.code)


if __name__ == "__main__":
    main()
