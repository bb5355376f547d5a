"""The model's input and output contract, defined once.

Training builds the network for it, export names the ONNX graph after it,
evaluation feeds it, and the server prepares canvases for it. Change it here
and everything else follows (after a retrain).
"""

from typing import Final

INPUT_NAME: Final = "image"
"""ONNX input: float32, N x 28 x 28 x 1, values in [0, 1], white ink on black."""

OUTPUT_NAME: Final = "probabilities"
"""ONNX output: float32, N x 10, softmax probabilities for the digits 0-9."""

IMAGE_SIZE: Final = 28
"""Side of the square image the model sees, as in MNIST."""

DIGIT_BOX: Final = 20
"""MNIST fits each digit's longer side into this many pixels before centring."""

NUM_CLASSES: Final = 10
CLASS_NAMES: Final = tuple(str(d) for d in range(NUM_CLASSES))
