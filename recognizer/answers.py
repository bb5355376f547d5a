"""What the service says about one drawing: a digit, or an honest "no digit here".

The model's eleventh output scores letters, shapes, scribbles and several digits
drawn together; a compact filled blob (a dot blown up by the preprocessing, a filled
square) that the model does not read as a digit is caught by its shape as well: it is as
thick as it is long. Both the
single-digit and the number mode shape their answers here, so a reason means the same
everywhere.
"""

import numpy as np

from recognizer.contract import CLASS_NAMES, DIGIT_CLASSES, NOT_A_DIGIT, NOT_A_DIGIT_THRESHOLD
from recognizer.preprocess import median_in_place

MESSAGES: dict[str, str] = {
    "blank": "No ink found: draw a digit.",
    "not_a_digit": "This does not look like a digit. Draw one digit, 0 to 9, large and clear.",
    "several_digits": "This looks like several digits. Draw one digit, or switch to number mode.",
    "not_a_number": "This does not look like a number. Write digits 0 to 9 side by side.",
}
"""Every reason an answer can give for not naming a digit (or, in number mode, a number: no
part of the drawing is a digit), with its human message."""

BLOB_THICKNESS = 10.0
"""Median ink run, in pixels of the 28x28 input, from which a mark is a blob rather than a
stroke. The preprocessing scales the ink to 20 px, so a dot or a dash barely longer than
the pen is wide becomes a disc 12-17 px thick; the thickest of 3,000 canvas-drawn MNIST
test digits measure 8 (the median is 3)."""

BLOB_DIGIT_CONFIDENCE = 0.5
"""A blob is still read as a digit when the model gives one digit at least this much. A few
people write with a marker so thick that an 8's loops fill in: 17 of MNIST's 60,000 training
digits are blobs by BLOB_THICKNESS, and the model reads most of them right, while the
dots and filled squares of the non-digit suite get at most 0.002 for any digit."""


def judge(image: np.ndarray, probabilities: np.ndarray) -> str | None:
    """The reason this 28x28 input and its 11 probabilities are not a digit, or None."""
    if probabilities[NOT_A_DIGIT] >= NOT_A_DIGIT_THRESHOLD:
        return "not_a_digit"
    unsure = probabilities[:DIGIT_CLASSES].max() < BLOB_DIGIT_CONFIDENCE
    return "not_a_digit" if unsure and is_blob(image) else None


def is_blob(image: np.ndarray) -> bool:
    """Whether the normalised ink is one compact mark: as thick across as it is long."""
    ink = image >= 0.5
    if not ink.any():
        return True
    return min(_median_run(ink), _median_run(ink.T)) >= BLOB_THICKNESS


def _median_run(ink: np.ndarray) -> float:
    """The median length of the horizontal runs of ink, as np.median gives it.

    Every row gets a column of paper on each side and the rows are laid end to end, so
    one diff finds every run and no run joins the next row's.
    """
    rows, cols = ink.shape
    padded = np.zeros((rows, cols + 2), dtype=np.int8)
    padded[:, 1:-1] = ink
    edges = np.diff(padded.ravel())
    return median_in_place(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1))


def digit_probabilities(probabilities: np.ndarray) -> dict[str, float]:
    """The ten digits' probabilities, rounded for JSON (float64 first: 0.9876, not 0.98760002)."""
    rounded = probabilities[:DIGIT_CLASSES].astype(np.float64).round(4)
    return dict(zip(CLASS_NAMES, rounded.tolist(), strict=True))


def digit_answer(probabilities: np.ndarray, version: str) -> dict:
    """The answer for a drawing the model reads as a digit."""
    digit = int(probabilities[:DIGIT_CLASSES].argmax())
    named = digit_probabilities(probabilities)
    return {
        "digit": digit,
        "confidence": named[str(digit)],
        "probabilities": named,
        "blank": False,
        "model_version": version,
    }


def rejected_answer(reason: str, version: str, probabilities: np.ndarray | None = None) -> dict:
    """The answer for a drawing that holds no single digit, saying why in words and in code."""
    return {
        "digit": None,
        "confidence": 0.0,
        "probabilities": (
            dict.fromkeys(CLASS_NAMES, 0.0)
            if probabilities is None
            else digit_probabilities(probabilities)
        ),
        "blank": reason == "blank",
        "reason": reason,
        "message": MESSAGES[reason],
        "model_version": version,
    }


def answer(image: np.ndarray | None, probabilities: np.ndarray | None, version: str) -> dict:
    """The answer for one preprocessed drawing (None when the canvas was blank)."""
    if image is None or probabilities is None:
        return rejected_answer("blank", version)
    reason = judge(image, probabilities)
    if reason is not None:
        return rejected_answer(reason, version, probabilities)
    return digit_answer(probabilities, version)
