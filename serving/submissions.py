"""From a POST /feedback body to a Feedback record, with no knowledge of HTTP.

The body is read by the reader /predict uses (serving.bodies: JSON with a base64 image,
or a multipart form with the drawing as a file), every field is checked before anything
is stored, and the drawing goes through the served preprocessing once more so that the
record holds exactly the 28x28 input(s) the model saw: one in digit mode, one per digit
in number mode.
"""

import re
from typing import TYPE_CHECKING

import numpy as np
from msgspec import UNSET

from feedback import Feedback, Submission
from recognizer.contract import CLASS_NAMES
from recognizer.model import DigitModel
from recognizer.preprocess import decode_image
from serving.bodies import BadRequest, Body, UnsupportedMediaType, convert_fields, decode_json
from serving.predictions import decode_base64, form_image, prepare
from serving.shapes import KEY_PATTERN, FeedbackBody, FeedbackFields

if TYPE_CHECKING:
    from recognizer.lattice import Reading

KEY = re.compile(KEY_PATTERN)
"""An Idempotency-Key header, as the client_id field takes it."""


def parse_submission(
    body: Body, idempotency_key: str | None, max_digits: int
) -> tuple[Submission, str | None]:
    """JSON (a FeedbackBody) or a multipart form (FeedbackFields and the drawing as a file)
    to a Submission and its idempotency key; raises BadRequest saying which field is wrong."""
    sent: FeedbackFields
    if body.is_json:
        sent = decode_json(body.content, FeedbackBody)
        image = decode_base64(sent.image, "image")
    elif body.is_form:
        has_image = "image" in body.fields or "image" in body.files
        image = form_image(body) if has_image else b""
        sent = convert_fields(body.fields, FeedbackFields)
    else:
        raise UnsupportedMediaType(
            f"unsupported Content-Type {body.media_type or '(none)'!r}; send application/json "
            '({"image", "label", "answer", "model_version"}) or multipart/form-data'
        )
    if not image:
        raise BadRequest("'image' is missing or empty: send the drawing the answer was for")
    label = str(sent.label)
    mode = ("number" if len(label) > 1 else "digit") if sent.mode is UNSET else sent.mode
    if mode == "digit" and len(label) != 1:
        raise BadRequest(f"'label' must be one digit in digit mode, not {label!r}")
    if len(label) > max_digits:
        raise BadRequest(f"'label' has {len(label)} digits; a number has at most {max_digits}")
    if idempotency_key and not KEY.fullmatch(idempotency_key):
        raise BadRequest(f"'Idempotency-Key' must be {FeedbackFields.errors['client_id']}")
    if sent.client_id and idempotency_key and sent.client_id != idempotency_key:
        raise BadRequest("the Idempotency-Key header and 'client_id' differ; send one of them")
    submission = Submission(
        mode=mode,
        label=label,
        answer=None if sent.answer is None else str(sent.answer),
        model_version=sent.model_version,
        answer_request_id=sent.answer_request_id,
        image=image,
    )
    return submission, idempotency_key or sent.client_id


def to_record(
    submission: Submission, inputs: np.ndarray, request_id: str, client_key: str | None
) -> Feedback:
    """The record to store, with the model's inputs as float32 little-endian bytes."""
    return Feedback(
        **vars(submission),
        inputs=np.ascontiguousarray(inputs, dtype="<f4").tobytes(),
        request_id=request_id,
        client_key=client_key,
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
