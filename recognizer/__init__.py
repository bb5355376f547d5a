"""Number Visualizer's recognizer: from a drawing's pixels to an honest answer.

The core that the server and training share, with no web code and no TensorFlow: the
input contract, PNG decoding, preprocessing, the ONNX model, segmentation of numbers
(pieces, cuts, the reading lattice) and the shape of every answer.
"""

import os

# One process per core: OpenBLAS must not start threads of its own for the preprocessing's
# small matrix products (with two threads on two busy cores a 20 us product took 3 ms).
# It reads this once, when NumPy is first imported; every room imports the recognizer
# before NumPy (serving, training and bench through their own __init__).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
