"""From a POST /feedback body to a Feedback record, with no knowledge of HTTP.

The body is read by the reader /predict uses (serving.bodies: JSON with a base64 image,
or a multipart form with the drawing as a file), every field is checked before anything
is stored, and the drawing goes through the served preprocessing once more so that the
record holds exactly the 28x28 input(s) the model saw: one in digit mode, one per digit
in number mode.
"""

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from feedback import Feedback
from recognizer.contract import CLASS_NAMES
from recognizer.model import DigitModel
from recognizer.preprocess import decode_image
from serving.bodies import BadRequest, Body, UnsupportedMediaType, load_json
from serving.middleware import REQUEST_ID_PATTERN
from serving.predictions import decode_base64, form_image, prepare

if TYPE_CHECKING:
    from recognizer.lattice import Reading

MODES = ("digit", "number")
MAX_TEXT = 128
"""Longest model version, request id or idempotency key accepted."""
_TEXT = re.compile(rf"[\x21-\x7e]{{1,{MAX_TEXT}}}")  # printable ASCII, no spaces
TEXT_SHAPE = f"up to {MAX_TEXT} printable characters without spaces"
MODEL_VERSION = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._+-]{{0,{MAX_TEXT - 1}}}")
"""A version as the training writes it (20261125.225646, 20261125.225646-ft-quick): the
export shows it, so it starts with a letter or digit, never like a spreadsheet formula."""
REQUEST_ID = re.compile(REQUEST_ID_PATTERN)
"""An answer's request id, as the server gives or accepts it (serving.middleware)."""
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Submission:
    """A checked submission whose drawing is still encoded."""

    image: bytes
    label: str
    answer: str | None
    model_version: str
    mode: str
    answer_request_id: str | None
    client_key: str | None


def parse_submission(body: Body, idempotency_key: str | None, max_digits: int) -> Submission:
    """JSON or multipart to a Submission; raises BadRequest saying which field is wrong."""
    if body.is_json:
        fields = _json_fields(body.content)
        image = decode_base64(fields.get("image"), "image") if "image" in fields else None
    elif body.is_form:
        fields = body.fields
        image = form_image(body) if "image" in fields or "image" in body.files else None
    else:
        raise UnsupportedMediaType(
            f"unsupported Content-Type {body.media_type or '(none)'!r}; send application/json "
            '({"image", "label", "answer", "model_version"}) or multipart/form-data'
        )
    if not image:
        raise BadRequest("'image' is missing or empty: send the drawing the answer was for")
    label = _digits(fields.get("label"), "label")
    if label is None:
        raise BadRequest("'label' is missing: send the true digit (or number) as text, e.g. '7'")
    mode = fields.get("mode") or ("number" if len(label) > 1 else "digit")
    if mode not in MODES:
        raise BadRequest("'mode' must be 'digit' or 'number'")
    if mode == "digit" and len(label) != 1:
        raise BadRequest(f"'label' must be one digit in digit mode, not {label!r}")
    if len(label) > max_digits:
        raise BadRequest(f"'label' has {len(label)} digits; a number has at most {max_digits}")
    client_key = _text(fields.get("client_id"), "client_id")
    header_key = _text(idempotency_key, "Idempotency-Key")
    if client_key and header_key and client_key != header_key:
        raise BadRequest("the Idempotency-Key header and 'client_id' differ; send one of them")
    model_version = _text(
        fields.get("model_version"),
        "model_version",
        MODEL_VERSION,
        f"up to {MAX_TEXT} letters, digits and . _ + -, starting with a letter or digit",
    )
    if model_version is None:
        raise BadRequest("'model_version' is missing: send the model_version of the answer")
    return Submission(
        image=image,
        label=label,
        answer=_digits(fields.get("answer"), "answer"),
        model_version=model_version,
        mode=mode,
        answer_request_id=_text(
            fields.get("answer_request_id"),
            "answer_request_id",
            REQUEST_ID,
            f"a request id: up to {MAX_TEXT} letters, digits and . _ : -, starting with a "
            "letter or digit",
        ),
        client_key=header_key or client_key,
    )


def to_record(submission: Submission, inputs: np.ndarray, request_id: str) -> Feedback:
    """The record to store, with the model's inputs as float32 little-endian bytes."""
    return Feedback(
        label=submission.label,
        answer=submission.answer,
        model_version=submission.model_version,
        mode=submission.mode,
        image=submission.image,
        inputs=np.ascontiguousarray(inputs, dtype="<f4").tobytes(),
        request_id=request_id,
        answer_request_id=submission.answer_request_id,
        client_key=submission.client_key,
    )


def model_inputs(
    submission: Submission, model: DigitModel, max_pixels: int, max_digits: int
) -> np.ndarray:
    """The (n, 28, 28) inputs the model saw for this submission's drawing."""
    if submission.mode == "digit":
        return digit_inputs(submission, max_pixels)
    return number_inputs(submission, model, max_pixels, max_digits)


def digit_inputs(submission: Submission, max_pixels: int) -> np.ndarray:
    """The 1 x 28 x 28 input the model saw for a single digit; BadRequest if blank."""
    ((_, array),) = prepare([submission.image], max_pixels)
    if array is None:
        raise BadRequest("the drawing has no ink; there is nothing to learn from")
    return array[np.newaxis]


def number_inputs(
    submission: Submission, model: DigitModel, max_pixels: int, max_digits: int
) -> np.ndarray:
    """The inputs the model saw for each digit of the labelled number, left to right.

    Number mode splits a drawing into candidate digits and lets the model choose among
    the readings; here the label chooses: of every candidate the model was shown, the
    reading with exactly len(label) digits that best explains the label. So a correction
    of a wrong split still teaches the right digits. BadRequest if no such reading exists.
    """
    from recognizer.numbers import TooManyDigits, number_parts  # number mode only

    label = submission.label
    try:
        parts = number_parts(decode_image(submission.image, max_pixels), max_digits)
    except TooManyDigits as exc:
        raise BadRequest(str(exc)) from exc
    if not parts.inputs:
        raise BadRequest("the drawing has no ink; there is nothing to learn from")
    probabilities = model.predict(np.stack(parts.inputs))[:, : len(CLASS_NAMES)]
    path = _labelled_path(parts.reading, np.log(np.maximum(probabilities, 1e-9)), label)
    if path is None:
        raise BadRequest(
            f"the label has {len(label)} digits but the drawing cannot be split into "
            f"{len(label)} digits; check the label"
        )
    return np.stack([parts.inputs[k] for k in path])


def _labelled_path(reading: "Reading", log_p: np.ndarray, label: str) -> list[int] | None:
    """The crops of the best reading with exactly len(label) digits, scored by the model's
    log-probability of each label digit (plus the segmenter's prior), or None."""
    digits = [int(c) for c in label]
    best = np.full((reading.nodes, len(digits) + 1), -np.inf)
    best[0, 0] = 0.0
    came: dict[tuple[int, int], tuple[int, int]] = {}
    for start, end, crop, prior in sorted(reading.edges):
        for i, digit in enumerate(digits):
            total = best[start, i] + prior + log_p[crop, digit]
            if total > best[end, i + 1]:
                best[end, i + 1], came[end, i + 1] = total, (start, crop)
    if not np.isfinite(best[-1, -1]):
        return None
    path, node = [], reading.nodes - 1
    for i in range(len(digits), 0, -1):
        node, crop = came[node, i]
        path.append(crop)
    return path[::-1]


def _json_fields(body: bytes) -> dict:
    document = load_json(body)
    if not isinstance(document, dict):
        raise BadRequest(
            'the JSON body must be an object: {"image", "label", "answer", "model_version"}'
        )
    return document


def _digits(value: object, field: str) -> str | None:
    """A digit or a string of digits (a JSON number 0-9 is accepted too); None if absent."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9:
        return str(value)
    if not isinstance(value, str) or not _DIGITS.fullmatch(value) or len(value) > MAX_TEXT:
        raise BadRequest(f"'{field}' must be a digit 0-9 or a string of digits, e.g. '7' or '2026'")
    return value


def _text(
    value: object, field: str, pattern: re.Pattern[str] = _TEXT, shape: str = TEXT_SHAPE
) -> str | None:
    """A short token (a version, an id, a key) that matches `pattern`; None if absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BadRequest(f"'{field}' must be {shape}")
    return value
