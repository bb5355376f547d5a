"""Benchmarks of the inference service: `python -m bench` (or `make bench`)."""

import os

# In-process timings run under the server's conditions: OpenBLAS on one thread (see
# serving/__init__.py). Set here because the package is imported before NumPy is.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
