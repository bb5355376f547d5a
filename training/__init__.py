"""Number Visualizer's training pipeline: MNIST -> Keras CNN -> ONNX -> evaluation -> artifacts.

Importing this package is cheap and TensorFlow-free; only the modules that fit and
export the network (model, train, export) import TensorFlow.
"""

import os

# Evaluation and its in-process timings run under the server's conditions: OpenBLAS on one
# thread (see serving/__init__.py). Set here because `python -m training.numbers` imports
# NumPy before serving: with OpenBLAS's own threads on two busy cores, a touching six-digit
# number took three times as long in process as the server takes for it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
