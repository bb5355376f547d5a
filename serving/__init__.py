"""Number Visualizer's HTTP service: the recognizer behind a small Starlette app."""

import recognizer  # noqa: F401  (first: it sets OpenBLAS to one thread before NumPy loads)
