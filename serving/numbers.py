"""Number mode: a drawing of several digits to one answer for the whole number.

The drawing is split into digits by serving.segment; each digit's ink goes through the
same preprocessing as a single drawing (normalize_digit), and all of them through the
model together. A digit the model does not accept is answered as in single-digit mode
(`"digit": null` with a reason), and then the number is not claimed.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from serving.answers import MESSAGES, digit_answer, judge, rejected_answer
from serving.contract import DIGIT_CLASSES, IMAGE_SIZE
from serving.preprocess import normalize_digit
from serving.segment import Reading, TooManyParts, best_path, candidates

NUMBER_MESSAGES: dict[str, str] = {
    "not_a_digit": "Part of this drawing does not look like a digit; redraw the marked part.",
}
"""What the number as a whole says when one of its digits is not read."""


SURENESS_WEIGHT = 0.5
"""Weight of the model's confidence in the named digit in a part's score (see reading_scores)."""

REJECTED_SCORE = -5.0
"""A candidate the judge rejects (not a digit) counts as this much less sure, so that a
reading made of digits wins whenever there is one."""


class TooManyDigits(ValueError):
    """The drawing holds more digits than MAX_DIGITS."""


@dataclass(frozen=True)
class NumberParts:
    """Every candidate digit of a drawing as the model will see it, and how they chain."""

    reading: Reading
    inputs: list[np.ndarray]


def number_parts(ink: np.ndarray, scale: float, max_digits: int) -> NumberParts:
    """Segment a drawing's ink and prepare each candidate digit; raises TooManyDigits."""
    try:
        reading = candidates(ink, scale, max_parts=max_digits)
    except TooManyParts as exc:
        raise _too_many(exc.count, max_digits) from exc
    inputs = []
    for crop in reading.crops:
        image = normalize_digit(crop.ink)
        inputs.append(np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32) if image is None else image)
    return NumberParts(reading, inputs)


def _too_many(count: int, max_digits: int) -> TooManyDigits:
    return TooManyDigits(
        f"the drawing has {count} or more separate parts; number mode reads at most "
        f"{max_digits} digits (MAX_DIGITS)"
    )


def number_answer(
    parts: NumberParts,
    probabilities: np.ndarray,
    version: str,
    max_digits: int,
    include_input: bool = False,
) -> dict:
    """The answer for a whole number: the reading the model is surest of, each digit with
    its box, and the number if every digit is read. Raises TooManyDigits over the limit."""
    if not parts.inputs:
        return blank_number(version)
    reasons = [judge(image, p) for image, p in zip(parts.inputs, probabilities, strict=True)]
    path = best_path(parts.reading, reading_scores(probabilities, reasons))
    if len(path) > max_digits:
        raise _too_many(len(path), max_digits)
    digits = []
    for k in path:
        p, reason = probabilities[k], reasons[k]
        reply = digit_answer(p, version) if reason is None else rejected_answer(reason, version, p)
        del reply["blank"], reply["model_version"]
        reply["box"] = list(parts.reading.crops[k].box)
        if include_input:
            reply["input"] = parts.inputs[k].astype(np.float64).round(3).tolist()
        digits.append(reply)
    unread = [d for d in digits if d["digit"] is None]
    answer: dict = {
        "number": None if unread else "".join(str(d["digit"]) for d in digits),
        "digits": digits,
        "confidence": 0.0 if unread else _product([d["confidence"] for d in digits]),
        "blank": False,
        "model_version": version,
    }
    if unread:
        answer["reason"] = unread[0]["reason"]
        answer["message"] = NUMBER_MESSAGES.get(answer["reason"], unread[0]["message"])
    return answer


def reading_scores(probabilities: np.ndarray, reasons: list[str | None]) -> np.ndarray:
    """How much each candidate part counts towards a reading: the log of the model's belief
    that it is one digit (1 - "not a digit", which covers several digits drawn together),
    plus half the log of its confidence in the digit it names given that.

    The first term is what tells a pair of touching digits (the model, trained on them as
    "not a digit", says so) from one wide digit; the confidence alone does not: a calibrated
    model is as sure of half a 5 being a 5 as of the whole.
    """
    digit_mass = np.maximum(probabilities[:, :DIGIT_CLASSES].sum(axis=1), 1e-6)
    top = np.maximum(probabilities[:, :DIGIT_CLASSES].max(axis=1), 1e-6)
    rejected = np.array([0.0 if r is None else REJECTED_SCORE for r in reasons])
    return np.log(digit_mass) + SURENESS_WEIGHT * np.log(top / digit_mass) + rejected


def blank_number(version: str) -> dict:
    """A number-mode answer for a canvas with no ink."""
    return {
        "number": None,
        "digits": [],
        "confidence": 0.0,
        "blank": True,
        "reason": "blank",
        "message": MESSAGES["blank"],
        "model_version": version,
    }


def read_number(
    ink: np.ndarray,
    scale: float,
    run_model: Callable[[np.ndarray], np.ndarray],
    version: str,
    max_digits: int = 64,
) -> dict:
    """Everything after decoding, for one drawing: what evaluation and tests call."""
    parts = number_parts(ink, scale, max_digits)
    if not parts.inputs:
        return blank_number(version)
    return number_answer(parts, run_model(np.stack(parts.inputs)), version, max_digits)


def _product(confidences: list[float]) -> float:
    """The number's confidence: the chance that every digit is right, if they err apart."""
    return round(float(np.prod(confidences)), 4)
