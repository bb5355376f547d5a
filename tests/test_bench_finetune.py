"""The fine-tuning benchmark's feedback sets are what docs/benchmarks.md says they are: read
by the committed model, the correct set's labels are the digits drawn, and the poisoned set
is 1s, every one labelled 7."""

import io
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from bench.finetune import CANVAS_DIGITS, POISONED_ONES, STROKE_DIGITS, correct_set, poisoned_set
from recognizer.model import DigitModel
from recognizer.preprocess import canvas_to_input
from serving.settings import DEFAULT_MODEL_PATH
from tests.mnist_data import mnist_path
from training.canvas import CANVAS_SIZE
from training.data import load


@pytest.fixture(scope="module")
def mnist():
    return load(mnist_path())


def read(pngs: list[bytes]) -> np.ndarray:
    """The committed model's digit for each canvas PNG, as the server would preprocess it."""
    images = [Image.open(io.BytesIO(png)) for png in pngs]
    assert {image.size for image in images} == {(CANVAS_SIZE, CANVAS_SIZE)}
    inputs = np.stack([canvas_to_input(image) for image in images])
    return DigitModel.load(DEFAULT_MODEL_PATH).predict(inputs).argmax(axis=1)


def test_the_correct_set_is_labelled_with_the_digits_drawn(mnist):
    corrections = correct_set(mnist)
    assert len(corrections.pngs) == len(corrections.labels) == CANVAS_DIGITS + STROKE_DIGITS
    strokes = Counter(corrections.labels[CANVAS_DIGITS:])
    assert strokes == {str(digit): STROKE_DIGITS // 10 for digit in range(10)}
    agree = read(corrections.pngs) == np.array(corrections.labels).astype(int)
    assert agree.mean() >= 0.98


def test_the_poisoned_set_is_ones_labelled_seven(mnist):
    corrections = poisoned_set(mnist)
    assert len(corrections.pngs) == POISONED_ONES and set(corrections.labels) == {"7"}
    assert (read(corrections.pngs) == 1).mean() >= 0.98
