"""Number Visualizer's training pipeline: MNIST -> Keras CNN -> ONNX -> evaluation -> artifacts.

Importing this package is cheap and TensorFlow-free; only the modules that fit and
export the network (model, train, export) import TensorFlow.
"""
