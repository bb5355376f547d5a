"""From request bodies to predictions, with no knowledge of HTTP.

Parsing turns a body read by serving.bodies in any of the accepted forms (JSON, raw
image, multipart, JSON batch) into a PredictionRequest; predict() runs the lean hot path:
decode, preprocess, one session.run for the whole batch, and shape the answers.
"""

import base64
import binascii
from dataclasses import dataclass

import numpy as np
from msgspec import UNSET

from recognizer.answers import Answer, NumberAnswer, answer, rejected_answer, seen_input
from recognizer.contract import IMAGE_SIZE, MODES, Mode
from recognizer.model import DigitModel
from recognizer.numbers import TooManyDigits, number_answer, number_layout, read_parts
from recognizer.pieces import Layout, looks_like_several_digits
from recognizer.preprocess import ImageError, Picture, canvas_to_input, decode_image, ink_image
from serving.bodies import BadRequest, Body, UnsupportedMediaType, decode_json
from serving.shapes import PredictBody

GAP_INK = 0.1
"""A column of the 28x28 input whose ink stays below this is a gap (the resampling smears
a little ink into real gaps)."""
IMAGE_TYPES = frozenset(
    ("image/png", "image/jpeg", "image/jpg", "image/webp", "image/gif", "image/bmp")
)
ASCII_WHITESPACE = b" \t\n\r\v\f"
"""What base64 may be wrapped with (the base64 tool wraps lines)."""


@dataclass(frozen=True)
class PredictionRequest:
    """Images (still encoded) to predict, and how to answer."""

    images: list[bytes]
    batch: bool = False
    include_input: bool = False
    mode: Mode = "digit"
    """"digit" (one digit per image) or "number" (a whole number per image)."""
    strokes: list[tuple[float, float]] | None = None
    """The page's stroke hint for a single image in number mode: each stroke's [x0, x1]."""


def parse_body(
    body: Body, include_input: bool, max_batch: int, mode: str = "digit"
) -> PredictionRequest:
    """Any accepted body to a PredictionRequest; raises BadRequest saying what was wrong.

    `mode` comes from the URL (?mode=number) for raw and multipart bodies; JSON may say
    "mode" itself.
    """
    mode = check_mode(mode, "the 'mode' parameter")
    if body.is_json:
        return parse_json(body.content, max_batch, mode)
    if body.media_type in IMAGE_TYPES:
        return PredictionRequest([body.content], include_input=include_input, mode=mode)
    if body.is_form:
        image = form_image(body)
        return PredictionRequest([image], include_input=include_input, mode=mode)
    raise UnsupportedMediaType(
        f"unsupported Content-Type {body.media_type or '(none)'!r}; send application/json, "
        "an image type (image/png, image/jpeg, ...) or multipart/form-data with a field 'image'"
    )


def check_mode(mode: str, where: str) -> Mode:
    """The mode, if it is one the service knows."""
    if mode not in MODES:
        raise BadRequest(f"{where} must be {PredictBody.errors['mode']}, not {mode[:30]!r}")
    return mode  # type: ignore[return-value]


def parse_json(body: bytes, max_batch: int, mode: Mode = "digit") -> PredictionRequest:
    """A PredictBody: {"image": b64} or {"images": [b64, ...]}, with optional
    "include_input", "mode" (else the query's) and, for one image, "strokes"."""
    sent = decode_json(body, PredictBody)
    mode = mode if sent.mode is UNSET else sent.mode
    if sent.image is not UNSET and sent.images is not UNSET:
        raise BadRequest('send either "image" or "images", not both')
    if sent.images is not UNSET:
        if len(sent.images) > max_batch:
            raise BadRequest(
                f"'images' has {len(sent.images)} items; send at most {max_batch} at once"
            )
        images = [decode_base64(item, f"images[{i}]") for i, item in enumerate(sent.images)]
        return PredictionRequest(images, batch=True, include_input=sent.include_input, mode=mode)
    if sent.image is UNSET:
        raise BadRequest(
            'the JSON object needs an "image" field holding a base64 PNG or JPEG '
            '(or "images" with a list of them)'
        )
    return PredictionRequest(
        [decode_base64(sent.image, "image")],
        include_input=sent.include_input,
        mode=mode,
        strokes=None if sent.strokes is None else [_stroke(*pair) for pair in sent.strokes],
    )


def _stroke(x0: float, x1: float) -> tuple[float, float]:
    """A stroke's [x0, x1] as a range: a stroke drawn right to left is the same stroke."""
    return (x0, x1) if x0 <= x1 else (x1, x0)


def decode_base64(value: str, field: str) -> bytes:
    """A base64 string, with or without a data: URL prefix, to bytes."""
    if value.startswith("data:"):
        header, comma, value = value.partition(",")
        if not comma or not header.endswith(";base64"):
            raise BadRequest(f"'{field}' is a data: URL without ';base64,' data")
    try:
        # Whitespace is allowed (the base64 tool wraps lines); anything else non-base64 is not.
        # bytes.translate drops it at C speed (str.split took 55 ms on a megabyte of "A\n").
        data = value.encode("ascii").translate(None, ASCII_WHITESPACE)
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"'{field}' is not valid base64 ({exc})") from exc


def form_image(body: Body) -> bytes:
    """The bytes of the file field 'image' of a multipart form."""
    if "image" in body.fields:
        raise BadRequest("the form field 'image' must be a file (a part with a filename)")
    image = body.files.get("image")
    if image is None:
        raise BadRequest(
            "the multipart form has no field named 'image'; upload the file as 'image'"
        )
    if not image:
        raise BadRequest("the multipart field 'image' is empty")
    return image


def prepare(images: list[bytes], max_pixels: int) -> list[tuple[Picture, np.ndarray | None]]:
    """Decode and preprocess each image: the decoded picture and its 28x28 array (None for a
    blank canvas). The picture is kept for the rare drawing that needs a second look."""
    prepared = []
    for index, data in enumerate(images):
        try:
            picture = decode_image(data, max_pixels)
            prepared.append((picture, canvas_to_input(picture)))
        except ImageError as exc:
            exc.args = (f"{_which(index, len(images))}{exc}",)
            raise
    return prepared


def _which(index: int, count: int) -> str:
    """The prefix naming an image in an error's message: "images[2]: " in a batch, else none."""
    return f"images[{index}]: " if count > 1 else ""


def predict(
    request: PredictionRequest, model: DigitModel, max_pixels: int, max_digits: int
) -> list[Answer] | list[NumberAnswer]:
    """One answer per image, in order; the non-blank ones go through the model together."""
    if request.mode == "number":
        return predict_numbers(request, model, max_pixels, max_digits)
    prepared = prepare(request.images, max_pixels)
    drawn = [array for _, array in prepared if array is not None]
    probabilities = iter(model.predict(np.stack(drawn)) if drawn else ())
    version = model.info.version
    answers = []
    for picture, array in prepared:
        scores = None if array is None else next(probabilities)
        reply = answer(array, scores, version)
        if _may_be_several(array, reply) and looks_like_several_digits(ink_image(picture)):
            reply = rejected_answer("several_digits", version, scores)
        if request.include_input:
            reply.input = seen_input(np.zeros((IMAGE_SIZE, IMAGE_SIZE)) if array is None else array)
        answers.append(reply)
    return answers


def _may_be_several(image: np.ndarray | None, reply: Answer) -> bool:
    """Whether a drawing deserves the full look for digits side by side (the segmentation's
    `looks_like_several_digits`, which answers "several digits" rather than "not a digit" or
    one of them): the model refused it (it refuses most rows of digits by itself), or its
    28x28 input has a column with almost no ink between inked ones. A normal digit is
    neither (1 in 2,000 canvas-drawn MNIST digits has such a column), so the hot path does
    not pay for the look."""
    if image is None:
        return False
    if reply.reason == "not_a_digit":
        return True
    columns = np.flatnonzero(image.max(axis=0) >= GAP_INK)
    return bool(columns.size) and columns[-1] - columns[0] + 1 > columns.size


def predict_numbers(
    request: PredictionRequest, model: DigitModel, max_pixels: int, max_digits: int
) -> list[NumberAnswer]:
    """One number per image, in order; the candidate digits of every image go through the
    model together (in two runs when a narrow piece is doubted, see read_parts), and each
    image's best reading is chosen from them."""
    drawings = number_drawings(request, max_pixels, max_digits)
    return read_numbers(request, drawings, model, max_digits)


def number_drawings(request: PredictionRequest, max_pixels: int, max_digits: int) -> list[Layout]:
    """Each image decoded and laid out in pieces (recognizer.numbers.number_layout): the cheap
    first half of number mode, which also tells how costly the reading will be."""
    drawings = []
    for index, data in enumerate(request.images):
        where = _which(index, len(request.images))
        try:
            picture = decode_image(data, max_pixels)
            drawings.append(number_layout(picture, max_digits, request.strokes))
        except ImageError as exc:
            exc.args = (f"{where}{exc}",)
            raise
        except TooManyDigits as exc:
            raise BadRequest(f"{where}{exc}") from exc
    return drawings


def read_numbers(
    request: PredictionRequest, drawings: list[Layout], model: DigitModel, max_digits: int
) -> list[NumberAnswer]:
    """The answers for drawings laid out by number_drawings: the model's runs and readings."""
    version = model.info.version
    answers = []
    for index, (part, chunk) in enumerate(read_parts(drawings, model.predict, model.submit)):
        try:
            answers.append(number_answer(part, chunk, version, max_digits, request.include_input))
        except TooManyDigits as exc:
            raise BadRequest(f"{_which(index, len(drawings))}{exc}") from exc
    return answers


def observed_digits(answers: list[Answer] | list[NumberAnswer]) -> list[int | None]:
    """The digits of the answers for the metrics: each digit of a number counts."""
    return [
        digit
        for answer in answers
        for digit in (
            [d.digit for d in answer.digits] if isinstance(answer, NumberAnswer) else [answer.digit]
        )
    ]
