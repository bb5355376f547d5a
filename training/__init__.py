"""Number Visualizer's training pipeline: MNIST -> Keras CNN -> ONNX -> evaluation -> artifacts.

Importing this package is cheap and TensorFlow-free; only the modules that fit and
export the network (network, train, onnx_export) import TensorFlow.
"""

import recognizer  # noqa: F401  (first: evaluation runs as the server does, OpenBLAS on one thread)
