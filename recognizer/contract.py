"""The model's input and output contract, defined once.

Training builds the network for it, export names the ONNX graph after it,
evaluation feeds it, the server prepares canvases for it and the browser's
offline runtime mirrors it. Change it here and everything else follows (after a
retrain).
"""

from typing import Final, Literal, get_args

import numpy as np

INPUT_NAME: Final = "image"
"""ONNX input: float32, N x 28 x 28 x 1, values in [0, 1], white ink on black."""

OUTPUT_NAME: Final = "probabilities"
"""ONNX output: float32, N x 11, calibrated softmax over the digits 0-9 and "not a digit"."""

IMAGE_SIZE: Final = 28
"""Side of the square image the model sees, as in MNIST."""

DIGIT_BOX: Final = 20
"""MNIST fits each digit's longer side into this many pixels before centring."""

MNIST_CENTRE: Final = (14.0, 14.0)
"""Where MNIST puts the centre of mass, in (row, column) pixel indices. Measured on the
training set: the mean is (14.00, 14.01), with a spread of 0.3 px."""

PIXEL_MAX: Final = 255.0
"""8-bit pixels are divided by this to give the model's [0, 1] range."""

DIGIT_CLASSES: Final = 10
"""The digits 0-9 are the model's first ten outputs, in order."""

NOT_A_DIGIT: Final = 10
"""Index of the eleventh output: letters, shapes, scribbles, dots and several digits."""

OUTPUT_CLASSES: Final = DIGIT_CLASSES + 1
CLASS_NAMES: Final = tuple(str(d) for d in range(DIGIT_CLASSES))
"""Keys of the probabilities in every answer: the digits only."""

NOT_A_DIGIT_THRESHOLD: Final = 0.5
"""A drawing is answered "not a digit" when the model gives that class at least this
probability. Chosen on the project's own suites (see the model card): it keeps rejected
real digits under 0.5 % while catching most non-digits."""

Mode = Literal["digit", "number"]
"""How a drawing is read: "digit" (one digit per image) or "number" (a whole number per
image, digit by digit). The requests, the feedback records and their table take these."""

MODES: Final = get_args(Mode)

MAX_DIGITS: Final = 12
"""Most digits read in one drawing in number mode, unless the server's MAX_DIGITS says otherwise."""

MAX_DIGITS_LIMIT: Final = 64
"""The highest MAX_DIGITS a server accepts."""

MODEL_FILE: Final = "digit_cnn.onnx"
CARD_FILE: Final = "model_card.json"
WEIGHTS_FILE: Final = "digit_cnn.weights.h5"
"""The Keras weights beside the ONNX model, for fine-tuning; the server never reads them."""


def scaled(images: np.ndarray) -> np.ndarray:
    """8-bit pixels (MNIST's uint8) to the model's float32 range [0, 1]; floats pass through."""
    if images.dtype == np.uint8:
        return images.astype(np.float32) / PIXEL_MAX
    return images.astype(np.float32, copy=False)


def model_batch(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) images, uint8 pixels or floats in [0, 1], to the model's input array."""
    return np.ascontiguousarray(scaled(images)).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1)
