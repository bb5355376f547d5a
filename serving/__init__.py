"""Number Visualizer's inference service: onnxruntime behind a small Starlette app."""

import os

# Each worker is one process per core: OpenBLAS must not start threads of its own for the
# preprocessing's small matrix products (with two threads on two busy cores a 20 us product
# took 3 ms). It reads this once, when NumPy is first imported, which serving is first to do.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
