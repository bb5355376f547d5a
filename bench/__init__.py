"""Benchmarks of the inference service: `python -m bench` (or `make bench`)."""

import recognizer  # noqa: F401  (first: timings run as the server does, OpenBLAS on one thread)
