"""What the service says about one drawing: a digit, or an honest "no digit here".

The model's eleventh output scores letters, shapes, scribbles and several digits
drawn together; a compact filled blob (a dot blown up by the preprocessing, a filled
square) that the model does not read as a digit is caught by its shape as well: it is as
thick as it is long. Both the single-digit and the number mode shape their answers here,
as the types below, so a reason means the same everywhere. The types are the API's answers:
the server encodes them as they are, and its OpenAPI document takes their JSON Schema (with
the descriptions written here).
"""

from typing import Annotated, Literal

import msgspec
import numpy as np
from msgspec import UNSET, Meta, Struct, UnsetType

from recognizer.contract import (
    CLASS_NAMES,
    DIGIT_CLASSES,
    IMAGE_SIZE,
    MAX_DIGITS_LIMIT,
    NOT_A_DIGIT,
    NOT_A_DIGIT_THRESHOLD,
)
from recognizer.preprocess import ink_runs, median_in_place

MESSAGES: dict[str, str] = {
    "blank": "No ink found: draw a digit.",
    "not_a_digit": "This does not look like a digit. Draw one digit, 0 to 9, large and clear.",
    "several_digits": "This looks like several digits. Draw one digit, or switch to number mode.",
    "not_a_number": "This does not look like a number. Write digits 0 to 9 side by side.",
}
"""Every reason an answer can give for not naming a digit (or, in number mode, a number: no
part of the drawing is a digit), with its human message."""

Reason = Literal[tuple(MESSAGES)]  # type: ignore[valid-type]
"""The code of a reason: MESSAGES' keys."""

Probability = Annotated[float, Meta(ge=0, le=1)]

Probabilities = msgspec.defstruct(
    "Probabilities",
    [
        (f"p{name}", Annotated[Probability, Meta(description=f"The probability of a {name}.")])
        for name in CLASS_NAMES
    ],
    rename={f"p{name}": name for name in CLASS_NAMES},
    forbid_unknown_fields=True,
    frozen=True,
    module=__name__,
    namespace={"__doc__": "The ten digits' probabilities (all 0 for a blank canvas)."},
)
"""Built from CLASS_NAMES, the keys "0" to "9", positionally: Probabilities(*ten_floats)."""

DigitRead = Annotated[
    Annotated[int, Meta(ge=0, le=DIGIT_CLASSES - 1)] | None,
    Meta(description="The digit read, or null when there is none (see `reason`)."),
]
Blank = Annotated[bool, Meta(description="True when the image has no ink.")]
Message = Annotated[str, Meta(description="Only with a reason: what to do.")]
ModelVersion = Annotated[
    str, Meta(description="The version of the model that answered (as in GET /health).")
]
SeenInput = Annotated[
    list[Annotated[list[Probability], Meta(min_length=IMAGE_SIZE, max_length=IMAGE_SIZE)]],
    Meta(
        min_length=IMAGE_SIZE,
        max_length=IMAGE_SIZE,
        description=f"Only with include_input: the {IMAGE_SIZE}x{IMAGE_SIZE} image the model "
        "saw, 0 (background) to 1 (ink).",
    ),
]


class DigitFields(Struct, kw_only=True):
    """What a digit-mode answer and each part of a number say alike."""

    digit: DigitRead
    confidence: Annotated[
        float, Meta(ge=0, le=1, description="The digit's probability; 0 with no digit.")
    ]
    probabilities: Probabilities  # type: ignore[valid-type]
    reason: Annotated[Reason, Meta(description="Only when digit is null: why.")] | UnsetType = UNSET
    message: Message | UnsetType = UNSET


class Answer(DigitFields, kw_only=True):
    """The answer in digit mode: one digit, or none and why."""

    blank: Blank
    model_version: ModelVersion
    input: SeenInput | UnsetType = UNSET


class NumberDigit(DigitFields, kw_only=True):
    """One part of a number: a digit as in digit mode (a null digit with a reason when the
    part is not a digit), and where it is."""

    box: Annotated[
        list[Annotated[int, Meta(ge=0)]],
        Meta(
            min_length=4,
            max_length=4,
            description="x0, y0, x1, y1 (x1, y1 exclusive) of the part's ink, in the pixels "
            "of the image sent.",
        ),
    ]
    input: SeenInput | UnsetType = UNSET


class NumberAnswer(Struct, kw_only=True):
    """The answer in number mode: the digits left to right."""

    number: Annotated[
        Annotated[str, Meta(pattern="^[0-9]+$")] | None,
        Meta(
            description="The digits read, left to right; null when the image is blank or a "
            "part is not a digit."
        ),
    ]
    digits: Annotated[
        list[NumberDigit],
        Meta(
            max_length=MAX_DIGITS_LIMIT,
            description="Each part of the drawing, left to right; empty when blank.",
        ),
    ]
    confidence: Annotated[
        float,
        Meta(
            ge=0,
            le=1,
            description="The product of the digits' confidences and of the split's share "
            "among the readings of the same ink as digits; 0 with no number.",
        ),
    ]
    blank: Blank
    reason: Annotated[Reason, Meta(description="Only when number is null: why.")] | UnsetType = (
        UNSET
    )
    message: Message | UnsetType = UNSET
    model_version: ModelVersion


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
    """The median length of the horizontal runs of ink, as np.median gives it."""
    _, starts, ends = ink_runs(ink)
    return median_in_place(ends - starts)


def _read(probabilities: np.ndarray | None, reason: str | None) -> dict:
    """The fields every digit answer has (DigitFields): the digit the model names, with the
    ten probabilities rounded for JSON (float64 first: 0.9876, not 0.98760002); or, with a
    reason, no digit and why."""
    values = (
        [0.0] * DIGIT_CLASSES
        if probabilities is None
        else probabilities[:DIGIT_CLASSES].astype(np.float64).round(4).tolist()
    )
    named = Probabilities(*values)
    if reason is not None:
        return {
            "digit": None,
            "confidence": 0.0,
            "probabilities": named,
            "reason": reason,
            "message": MESSAGES[reason],
        }
    digit = int(probabilities[:DIGIT_CLASSES].argmax())  # type: ignore[index]
    return {"digit": digit, "confidence": values[digit], "probabilities": named}


def digit_answer(probabilities: np.ndarray, version: str) -> Answer:
    """The answer for a drawing the model reads as a digit."""
    return Answer(**_read(probabilities, None), blank=False, model_version=version)


def rejected_answer(reason: str, version: str, probabilities: np.ndarray | None = None) -> Answer:
    """The answer for a drawing that holds no single digit, saying why in words and in code."""
    return Answer(**_read(probabilities, reason), blank=reason == "blank", model_version=version)


def number_digit(
    probabilities: np.ndarray, reason: str | None, box: list[int], image: np.ndarray | None
) -> NumberDigit:
    """One part of a number, read as in digit mode, with its box (and its input, if given)."""
    seen = UNSET if image is None else seen_input(image)
    return NumberDigit(**_read(probabilities, reason), box=box, input=seen)


def seen_input(image: np.ndarray) -> list[list[float]]:
    """A 28x28 input as include_input returns it: rounded to 3 decimals, as nested lists."""
    return image.astype(np.float64).round(3).tolist()


def answer(image: np.ndarray | None, probabilities: np.ndarray | None, version: str) -> Answer:
    """The answer for one preprocessed drawing (None when the canvas was blank)."""
    if image is None or probabilities is None:
        return rejected_answer("blank", version)
    reason = judge(image, probabilities)
    if reason is not None:
        return rejected_answer(reason, version, probabilities)
    return digit_answer(probabilities, version)
