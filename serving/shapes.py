"""The shapes of the HTTP API that are not the recognizer's answers: request bodies, the
answers' envelopes, health, feedback and errors.

Each is declared once, as a msgspec Struct: the routes decode bodies into them (which
validates every field and its limits in one step) and encode answers from them, and
serving.openapi publishes their JSON Schema. A body's `errors` say, field by field, what a
client must send instead (serving.bodies.decode_json puts them in the 400's message).
"""

from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from recognizer.answers import Answer, NumberAnswer
from recognizer.contract import IMAGE_SIZE, MAX_DIGITS_LIMIT, MODES, Mode
from serving.middleware import REQUEST_ID_PATTERN

MAX_STROKES = 1000
"""More strokes than this in a hint is no drawing from the page."""
MAX_TEXT = 128
"""Longest model version, request id or idempotency key accepted."""
KEY_PATTERN = rf"[\x21-\x7e]{{1,{MAX_TEXT}}}"
"""An idempotency key: printable ASCII without spaces."""
MODEL_VERSION_PATTERN = rf"[A-Za-z0-9][A-Za-z0-9._+-]{{0,{MAX_TEXT - 1}}}"
"""A version as the training writes it (20261125.225646, 20261125.225646-ft-quick): the
export shows it, so it starts with a letter or digit, never like a spreadsheet formula."""


def whole(pattern: str) -> str:
    """`pattern` matching a whole string: msgspec, like JSON Schema, searches a pattern, and
    Python's $ also matches before a final newline, which (?!\\n) refuses."""
    return f"^(?:{pattern})$(?!\\n)"


Image = Annotated[
    str,
    Meta(
        min_length=1,
        description="Base64 of a PNG, JPEG, WebP, GIF or BMP, with or without a "
        "data:image/...;base64, prefix; whitespace is ignored.",
        extra_json_schema={"contentEncoding": "base64", "contentMediaType": "image/*"},
    ),
]
RequestId = Annotated[str, Meta(pattern=whole(REQUEST_ID_PATTERN))]
"""A request's id: the client's X-Request-ID if it matches REQUEST_ID_PATTERN, else ours."""
AnswerId = Annotated[
    RequestId,
    Meta(description="The request's id (X-Request-ID), as in the server's log line."),
]
Digits = Annotated[str, Meta(pattern=whole("[0-9]+"), max_length=MAX_DIGITS_LIMIT)]
OneDigit = Annotated[int, Meta(ge=0, le=9)]


class PredictBody(Struct, kw_only=True):
    """POST /predict's JSON body: one image (`image`), or a batch (`images`, at most
    MAX_BATCH) answered in order; not both."""

    image: Image | UnsetType = UNSET
    images: (
        Annotated[
            list[Image],
            Meta(min_length=1, description="Several images, answered in order (a batch)."),
        ]
        | UnsetType
    ) = UNSET
    include_input: Annotated[
        bool,
        Meta(
            description=f"Also return the {IMAGE_SIZE}x{IMAGE_SIZE} input the model saw, as "
            "`input`."
        ),
    ] = False
    mode: (
        Annotated[
            Mode,
            Meta(
                description="`digit`: one digit per image. `number`: a whole number per "
                "image, split into digits (at most MAX_DIGITS), each with its box. Default: "
                "the `mode` query parameter, else digit.",
                extra_json_schema={"default": "digit"},
            ),
        ]
        | UnsetType
    ) = UNSET
    strokes: Annotated[
        Annotated[
            list[Annotated[list[float], Meta(min_length=2, max_length=2)]],
            Meta(max_length=MAX_STROKES),
        ]
        | None,
        Meta(
            description="Number mode's stroke hint for one image, as the page sends it: each "
            "pen stroke's [x0, x1] in the image's pixels. Cuts between touching digits then "
            "pass only between strokes."
        ),
    ] = None

    errors: ClassVar[dict[str, str]] = {
        "": 'an object such as {"image": "<base64 PNG>"}',
        "image": "a string of base64 image data, not empty",
        "images": "a non-empty list of base64 strings",
        "images[]": "a string of base64 image data, not empty",
        "include_input": "true or false",
        "mode": " or ".join(f'"{mode}"' for mode in MODES),
        "strokes": f"a list of at most {MAX_STROKES} [x0, x1] pairs",
        "strokes[]": "[x0, x1], two finite numbers",
        "strokes[][]": "a finite number, the x0 or x1 of a stroke",
    }


class FeedbackFields(Struct, kw_only=True):
    """POST /feedback's fields but the drawing: a multipart form's text fields."""

    label: Annotated[
        Digits | OneDigit,
        Meta(
            description="The true digit, or the true number's digits in number mode (at most "
            "MAX_DIGITS). A JSON integer 0-9 is accepted too."
        ),
    ]
    answer: Annotated[
        Digits | OneDigit | None,
        Meta(description="The digit or number the service answered; null if none."),
    ] = None
    model_version: Annotated[
        str,
        Meta(
            pattern=whole(MODEL_VERSION_PATTERN),
            description="The model_version of the answer this corrects.",
        ),
    ]
    mode: (
        Annotated[Mode, Meta(description="Default: number when the label has several digits.")]
        | UnsetType
    ) = UNSET
    answer_request_id: Annotated[
        RequestId | None, Meta(description="The request_id of the answer this corrects.")
    ] = None
    client_id: Annotated[
        Annotated[str, Meta(pattern=whole(KEY_PATTERN))] | None,
        Meta(description="An idempotency key (as the Idempotency-Key header)."),
    ] = None

    errors: ClassVar[dict[str, str]] = {
        "": 'an object: {"image", "label", "answer", "model_version"}',
        "label": "a digit 0-9 or a string of digits, e.g. '7' or '2026'",
        "answer": "a digit 0-9 or a string of digits, e.g. '7' or '2026'",
        "model_version": f"up to {MAX_TEXT} letters, digits and . _ + -, starting with a "
        "letter or digit",
        "mode": "'digit' or 'number'",
        "answer_request_id": f"a request id: up to {MAX_TEXT} letters, digits and . _ : -, "
        "starting with a letter or digit",
        "client_id": f"up to {MAX_TEXT} printable characters without spaces",
    }


class FeedbackBody(FeedbackFields, kw_only=True):
    """POST /feedback's JSON body: a user's correction (or confirmation) of an answer."""

    image: Annotated[Image, Meta(description="The drawing the answer was for.")]

    errors: ClassVar[dict[str, str]] = {
        **FeedbackFields.errors,
        "image": "a string of base64 image data, not empty: the drawing the answer was for",
    }


class Prediction(Answer, kw_only=True):
    """An Answer with the request's id: POST /predict's answer to one image."""

    request_id: AnswerId


class NumberPrediction(NumberAnswer, kw_only=True):
    """A NumberAnswer with the request's id: POST /predict's answer to one image in number
    mode."""

    request_id: AnswerId


class BatchPrediction(Struct, kw_only=True):
    """POST /predict's answer to a batch: one Answer per image, in order."""

    predictions: Annotated[list[Answer], Meta(description="An Answer per image, in order.")]
    request_id: AnswerId


class NumberBatchPrediction(Struct, kw_only=True):
    """POST /predict's answer to a batch in number mode: one NumberAnswer per image, in
    order."""

    predictions: Annotated[
        list[NumberAnswer], Meta(description="A NumberAnswer per image, in order.")
    ]
    request_id: AnswerId


class Health(Struct, kw_only=True, forbid_unknown_fields=True):
    """GET /health: the service's status and which model it serves."""

    status: Annotated[Literal["healthy"], Meta(description="Always healthy.")]
    model_loaded: Annotated[
        bool,
        Meta(
            description="Always true (until then the server answers 503).",
            extra_json_schema={"const": True},
        ),
    ]
    model_version: Annotated[str, Meta(description="The version of the served model.")]
    model_sha256: Annotated[
        str,
        Meta(
            pattern="^[0-9a-f]{64}$",
            description="The sha256 of the served ONNX file (as GET /model.onnx).",
        ),
    ]
    model_parameters: Annotated[
        Annotated[int, Meta(ge=0)] | None,
        Meta(description="The model's parameter count, when its card says it."),
    ]
    feedback: Annotated[
        bool,
        Meta(
            description="Whether POST /feedback collects corrections (FEEDBACK); the page "
            "hides its control when false."
        ),
    ]


class Status(Struct, forbid_unknown_fields=True):
    """A probe's answer: alive from /health/live, ready from /health/ready."""

    status: Annotated[
        Literal["alive", "ready"],
        Meta(description="alive from /health/live, ready from /health/ready."),
    ]


class FeedbackStored(Struct, forbid_unknown_fields=True):
    """POST /feedback's answer: the stored submission's id."""

    id: Annotated[int, Meta(ge=1, description="The stored row's id.")]


class Error(Struct, forbid_unknown_fields=True):
    """Every error's body."""

    error: Annotated[str, Meta(description="What was wrong and what to do.")]


def with_request_id(
    answer: Answer | NumberAnswer, request_id: str
) -> Prediction | NumberPrediction:
    """POST /predict's answer to one image: its answer and the request's id."""
    shape = NumberPrediction if isinstance(answer, NumberAnswer) else Prediction
    return shape(**msgspec.structs.asdict(answer), request_id=request_id)
