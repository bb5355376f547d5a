"""The OpenAPI description of the API, and the page at /docs that renders it.

The document is built from module-level dicts (PATHS, SCHEMAS) so that a new route
adds its entry next to the others, and from the code's own definitions (the class
names, the reasons and their messages, the image types, MAX_BATCH). It cannot
drift unnoticed: tests/test_openapi.py has schemathesis call every route with
generated requests and fail on any status, header or body the document does not
describe.
"""

import copy
from pathlib import Path

from starlette.staticfiles import StaticFiles

from feedback.export import MAX_ID
from recognizer.answers import MESSAGES
from recognizer.contract import CLASS_NAMES, IMAGE_SIZE
from serving.bodies import MAX_FIELD_BYTES, MAX_FORM_FIELDS
from serving.middleware import REQUEST_ID_PATTERN
from serving.predictions import IMAGE_TYPES, MAX_STROKES, MODES
from serving.submissions import MODEL_VERSION as MODEL_VERSION_FORMAT

DOCS_PAGE = StaticFiles(directory=Path(__file__).resolve().parent / "docs", html=True)
"""/docs: a page of our own (no CDN, within the CSP) that renders /openapi.json: each
endpoint's fields in words, every answer type in full, a curl line and a sample response
(the schemas' `examples`), and a form that tries POST /predict with a drawing or a file."""


def ref(name: str) -> dict:
    """A reference to a schema in SCHEMAS."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


HEADERS = {
    "X-Request-ID": {"$ref": "#/components/headers/RequestId"},
    "Server-Timing": {"$ref": "#/components/headers/ServerTiming"},
}
"""The headers of every response."""


def response(description: str, schema: dict) -> dict:
    """A JSON response that, like every response, carries X-Request-ID and Server-Timing."""
    return {"description": description, "headers": HEADERS, "content": json_content(schema)}


def error(description: str) -> dict:
    return response(description, ref("Error"))


NOT_LOADED = error("The model is not loaded yet (only while starting); retry shortly.")

IMAGE = {
    "type": "string",
    "minLength": 1,
    "contentEncoding": "base64",
    "contentMediaType": "image/*",
    "description": "Base64 of a PNG, JPEG, WebP, GIF or BMP, with or without a "
    "data:image/...;base64, prefix; whitespace is ignored.",
}

INCLUDE_INPUT = {
    "type": "boolean",
    "default": False,
    "description": f"Also return the {IMAGE_SIZE}x{IMAGE_SIZE} input the model saw, as `input`.",
}

MODE = {
    "type": "string",
    "enum": list(MODES),
    "default": "digit",
    "description": "`digit`: one digit per image. `number`: a whole number per image, split "
    "into digits (at most MAX_DIGITS, 12 by default), each with its box.",
}

MODEL_VERSION = {
    "type": "string",
    "description": "The version of the model that answered (as in GET /health).",
}
DIGIT_CONFIDENCE = {
    "type": "number",
    "minimum": 0,
    "maximum": 1,
    "description": "The digit's probability; 0 with no digit.",
}
BLANK = {"type": "boolean", "description": "True when the image has no ink."}
MESSAGE = {"type": "string", "description": "Only with a reason: what to do."}
STROKES = {
    "type": ["array", "null"],
    "maxItems": MAX_STROKES,
    "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
    "description": "Number mode's stroke hint, as the page sends it: each pen stroke's "
    "[x0, x1] in the image's pixels. Cuts between touching digits then pass "
    "only between strokes.",
}


def reason(what: str) -> dict:
    """The `reason` field of an answer whose `what` is null."""
    return {
        "type": "string",
        "enum": sorted(MESSAGES),
        "description": f"Only when {what} is null: why there is no {what}.",
    }


SCHEMAS: dict[str, dict] = {
    "ImageRequest": {
        "type": "object",
        "description": "One image, as JSON.",
        "properties": {
            "image": IMAGE,
            "include_input": INCLUDE_INPUT,
            "mode": MODE,
            "strokes": STROKES,
        },
        "required": ["image"],
        "not": {"required": ["images"]},
    },
    "BatchRequest": {
        "type": "object",
        "description": "Several images in one request (at most MAX_BATCH), answered in order.",
        "properties": {
            "images": {"type": "array", "items": IMAGE, "minItems": 1, "maxItems": "MAX_BATCH"},
            "include_input": INCLUDE_INPUT,
            "mode": MODE,
        },
        "required": ["images"],
        "not": {"required": ["image"]},
    },
    "Probabilities": {
        "type": "object",
        "description": "The ten digits' probabilities (all 0 for a blank canvas).",
        "properties": {
            name: {"type": "number", "minimum": 0, "maximum": 1} for name in CLASS_NAMES
        },
        "required": list(CLASS_NAMES),
        "additionalProperties": False,
    },
    "Answer": {
        "type": "object",
        "description": "The answer in digit mode: one digit, or none and why.",
        "properties": {
            "digit": {
                "type": ["integer", "null"],
                "minimum": 0,
                "maximum": 9,
                "description": "The digit read, or null when there is none (see `reason`).",
            },
            "confidence": DIGIT_CONFIDENCE,
            "probabilities": ref("Probabilities"),
            "blank": BLANK,
            "reason": reason("digit"),
            "message": MESSAGE,
            "model_version": MODEL_VERSION,
            "input": {
                "type": "array",
                "description": "Only with include_input: the image the model saw, "
                "0 (background) to 1 (ink).",
                "items": {
                    "type": "array",
                    "items": {"type": "number", "minimum": 0, "maximum": 1},
                    "minItems": IMAGE_SIZE,
                    "maxItems": IMAGE_SIZE,
                },
                "minItems": IMAGE_SIZE,
                "maxItems": IMAGE_SIZE,
            },
        },
        "required": ["digit", "confidence", "probabilities", "blank", "model_version"],
    },
    "NumberDigit": {
        "type": "object",
        "description": "One part of a number: a digit as in single-digit mode (a null digit "
        "with a reason when the part is not a digit), and where it is.",
        "properties": {
            "digit": {
                "type": ["integer", "null"],
                "minimum": 0,
                "maximum": 9,
                "description": "The part's digit, or null when the part is not one.",
            },
            "confidence": DIGIT_CONFIDENCE,
            "probabilities": ref("Probabilities"),
            "box": {
                "type": "array",
                "description": "x0, y0, x1, y1 (x1, y1 exclusive) of the part's ink, in the "
                "pixels of the image sent.",
                "items": {"type": "integer", "minimum": 0},
                "minItems": 4,
                "maxItems": 4,
            },
            "reason": {
                "type": "string",
                "enum": sorted(MESSAGES),
                "description": "Only when digit is null: why the part is not a digit.",
            },
            "message": MESSAGE,
            "input": {"description": "Only with include_input, as in Answer."},
        },
        "required": ["digit", "confidence", "probabilities", "box"],
    },
    "NumberAnswer": {
        "type": "object",
        "description": "The answer in number mode: the digits left to right.",
        "properties": {
            "number": {
                "type": ["string", "null"],
                "pattern": "^[0-9]+$",
                "description": "The digits read, left to right; null when the image is blank "
                "or a part is not a digit.",
            },
            "digits": {
                "type": "array",
                "items": ref("NumberDigit"),
                "maxItems": 64,
                "description": "Each part of the drawing, left to right; empty when blank.",
            },
            "confidence": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "The product of the digits' confidences and of the split's share "
                "among the readings of the same ink as digits; 0 with no number.",
            },
            "blank": BLANK,
            "reason": reason("number"),
            "message": MESSAGE,
            "model_version": MODEL_VERSION,
        },
        "required": ["number", "digits", "confidence", "blank", "model_version"],
    },
    "NumberPrediction": {
        "description": "A NumberAnswer with the request's id: POST /predict's answer to one "
        "image in number mode.",
        "allOf": [ref("NumberAnswer")],
        "properties": {"request_id": {"$ref": "#/components/schemas/RequestId"}},
        "required": ["request_id"],
    },
    "Prediction": {
        "description": "An Answer with the request's id: POST /predict's answer to one image.",
        "allOf": [ref("Answer")],
        "properties": {"request_id": {"$ref": "#/components/schemas/RequestId"}},
        "required": ["request_id"],
    },
    "BatchPrediction": {
        "type": "object",
        "description": "POST /predict's answer to a batch: one answer per image, in order.",
        "properties": {
            "predictions": {
                "type": "array",
                "items": {"oneOf": [ref("Answer"), ref("NumberAnswer")]},
                "description": "An Answer per image (a NumberAnswer in number mode).",
            },
            "request_id": ref("RequestId"),
        },
        "required": ["predictions", "request_id"],
    },
    "RequestId": {
        "type": "string",
        "pattern": "^[A-Za-z0-9._:-]{1,128}$",
        "description": "The client's X-Request-ID if it matches this pattern, else a new one; "
        "it is in the log line of the request.",
    },
    "Health": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["healthy"], "description": "Always healthy."},
            "model_loaded": {
                "type": "boolean",
                "enum": [True],
                "description": "Always true (until then the server answers 503).",
            },
            "model_version": MODEL_VERSION,
            "model_sha256": {
                "type": "string",
                "pattern": "^[0-9a-f]{64}$",
                "description": "The sha256 of the served ONNX file (as GET /model.onnx).",
            },
            "model_parameters": {
                "type": ["integer", "null"],
                "minimum": 0,
                "description": "The model's parameter count, when its card says it.",
            },
            "feedback": {
                "type": "boolean",
                "description": "Whether POST /feedback collects corrections (FEEDBACK); the "
                "page hides its control when false.",
            },
        },
        "required": [
            "status",
            "model_loaded",
            "model_version",
            "model_sha256",
            "model_parameters",
            "feedback",
        ],
        "additionalProperties": False,
    },
    "FeedbackRequest": {
        "type": "object",
        "properties": {
            "image": IMAGE,
            "label": {
                "type": "string",
                "pattern": "^[0-9]{1,12}$",
                "description": "The true digit, or the true number's digits in number mode. "
                "A JSON integer 0-9 is accepted too.",
            },
            "answer": {
                "type": ["string", "integer", "null"],
                "description": "The digit or number the service answered, or null.",
            },
            "model_version": {
                "type": "string",
                "pattern": f"^{MODEL_VERSION_FORMAT.pattern}$",
                "description": "The model_version of the answer this corrects.",
            },
            "mode": {
                "type": "string",
                "enum": ["digit", "number"],
                "description": "Default: number when the label has several digits.",
            },
            "answer_request_id": {
                "type": "string",
                "pattern": f"^{REQUEST_ID_PATTERN}$",
                "description": "The request_id of the answer this corrects.",
            },
            "client_id": {
                "type": "string",
                "description": "An idempotency key (as the Idempotency-Key header).",
            },
        },
        "required": ["image", "label", "model_version"],
    },
    "FeedbackStored": {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "minimum": 1, "description": "The stored row's id."}
        },
        "required": ["id"],
        "additionalProperties": False,
    },
    "Status": {
        "type": "object",
        "properties": {
            "status": {
                "type": "string",
                "enum": ["alive", "ready"],
                "description": "alive from /health/live, ready from /health/ready.",
            }
        },
        "required": ["status"],
        "additionalProperties": False,
    },
    "Error": {
        "type": "object",
        "properties": {
            "error": {"type": "string", "description": "What was wrong and what to do."}
        },
        "required": ["error"],
        "additionalProperties": False,
    },
}

SEVEN_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAABwAAAAcAQAAAABaduI5AAAAQklEQVR42mP8z8DwkYmBgYEBnfjPyMLAxMDwD8"
    "JlYfz/BC6LYJ2AsBj+/5f/ABX7rwCT/ecAk/3xHyb7E24HH4aVADO4Eg9Bu5tDAAAAAElFTkSuQmCC"
)
"""A 28x28 PNG of a 7, base64: the examples' image (the docs' curl lines send it)."""


def _probabilities(**named: float) -> dict[str, float]:
    return {name: named.get(f"d{name}", 0.0) for name in CLASS_NAMES}


_SEVEN = {
    "digit": 7,
    "confidence": 0.9997,
    "probabilities": _probabilities(d3=0.0001, d7=0.9997, d9=0.0001),
    "blank": False,
    "model_version": "20261125.225646",
}
_REQUEST_ID = "c3de3923627625e5f27436001e84745b"

EXAMPLES: dict[str, dict] = {
    "ImageRequest": {"image": SEVEN_PNG},
    "BatchRequest": {"images": [SEVEN_PNG, SEVEN_PNG], "mode": "digit"},
    "Answer": _SEVEN,
    "Prediction": {**_SEVEN, "request_id": _REQUEST_ID},
    "NumberDigit": {
        "digit": 1,
        "confidence": 0.9997,
        "probabilities": _probabilities(d1=0.9997),
        "box": [41, 5, 44, 24],
    },
    "NumberPrediction": {
        "number": "71",
        "digits": [
            {k: _SEVEN[k] for k in ("digit", "confidence", "probabilities")}
            | {"box": [7, 5, 23, 24]},
            {
                "digit": 1,
                "confidence": 0.9997,
                "probabilities": _probabilities(d1=0.9997),
                "box": [41, 5, 44, 24],
            },
        ],
        "confidence": 0.9994,
        "blank": False,
        "model_version": "20261125.225646",
        "request_id": _REQUEST_ID,
    },
    "BatchPrediction": {"predictions": [_SEVEN, _SEVEN], "request_id": _REQUEST_ID},
    "Health": {
        "status": "healthy",
        "model_loaded": True,
        "model_version": "20261125.225646",
        "model_sha256": "8c7ae29baa4e86780c57c979ee3002ae570a9fa96bcdd9d49512156d5d361550",
        "model_parameters": 165675,
        "feedback": True,
    },
    "FeedbackRequest": {
        "image": SEVEN_PNG,
        "label": "7",
        "answer": "1",
        "model_version": "20261125.225646",
        "mode": "digit",
    },
    "FeedbackStored": {"id": 42},
    "Status": {"status": "ready"},
    "Error": {"error": "'include_input' must be true or false, not 'yes'"},
}
"""One true example per type, answers as the committed model gives them: the docs page shows
them as sample requests and responses."""

PATHS: dict[str, dict] = {
    "/predict": {
        "post": {
            "summary": "Recognize the digit in one image, or in a batch of images",
            "parameters": [
                {
                    "name": "include_input",
                    "in": "query",
                    "schema": {"type": "boolean", "default": False},
                    "description": "For raw and multipart bodies: `true` or `false`, exactly as "
                    "in JSON; anything else is a 400.",
                },
                {
                    "name": "mode",
                    "in": "query",
                    "schema": MODE,
                    "description": "For raw and multipart bodies (JSON may say `mode` "
                    "itself): `digit` or `number`; anything else is a 400.",
                },
                {
                    "name": "X-Request-ID",
                    "in": "header",
                    "schema": {"type": "string"},
                    "description": "An id of your own for this request: kept if it is 1-128 "
                    "of A-Z a-z 0-9 . _ : -, starting with a letter or digit, else replaced by "
                    "a new one (never refused).",
                },
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"oneOf": [ref("ImageRequest"), ref("BatchRequest")]}
                    },
                    **{
                        media_type: {"schema": {"type": "string", "format": "binary"}}
                        for media_type in sorted(IMAGE_TYPES)
                    },
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {"image": {"type": "string", "format": "binary"}},
                            "required": ["image"],
                        }
                    },
                },
            },
            "responses": {
                "200": response(
                    'One answer, or {"predictions": [...]} for a batch.',
                    {
                        "oneOf": [
                            ref("Prediction"),
                            ref("NumberPrediction"),
                            ref("BatchPrediction"),
                        ]
                    },
                ),
                "400": error(
                    "Malformed JSON, no image or images (or both), an image that is not a "
                    "non-empty base64 string, bytes that are not an image, an empty or too "
                    "large batch, include_input not true/false, a mode other than digit or "
                    "number, more than MAX_DIGITS digits in number mode, or a multipart body "
                    f"that cannot be parsed (more than one file, {MAX_FORM_FIELDS} fields or "
                    f"{MAX_FIELD_BYTES} bytes in a field)."
                ),
                "405": error("A method other than POST."),
                "408": error("The body did not arrive within CLIENT_TIMEOUT."),
                "413": error(
                    "The body is over MAX_BODY_BYTES, an image over MAX_IMAGE_PIXELS, or the "
                    "images together over MAX_REQUEST_PIXELS (weighed before decoding)."
                ),
                "415": error("A Content-Type other than JSON, an image type or multipart."),
                "503": NOT_LOADED,
            },
        }
    },
    "/health": {
        "get": {
            "summary": "Service status and which model it serves",
            "responses": {"200": response("Healthy.", ref("Health")), "503": NOT_LOADED},
        }
    },
    "/health/live": {
        "get": {
            "summary": "Liveness: the process answers HTTP",
            "responses": {"200": response('{"status": "alive"}', ref("Status"))},
        }
    },
    "/health/ready": {
        "get": {
            "summary": "Readiness: the model is loaded and its warm-up inference passed",
            "responses": {"200": response('{"status": "ready"}', ref("Status")), "503": NOT_LOADED},
        }
    },
    "/model.onnx": {
        "get": {
            "summary": "The served ONNX model, for the page's recognizer on the device",
            "description": (
                "The bytes the server itself runs. `ETag` and `X-Model-SHA256` give their "
                "sha256 (the same as `model_sha256` in /health), `X-Model-Version` the version; "
                "`If-None-Match` with the ETag gets 304."
            ),
            "responses": {
                "200": {
                    "description": "The ONNX file.",
                    "headers": HEADERS,
                    "content": {"application/octet-stream": {"schema": {"type": "string"}}},
                },
                "304": {"description": "The client already holds this model.", "headers": HEADERS},
                "503": NOT_LOADED,
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics, added up over all worker processes",
            "responses": {
                "200": {
                    "description": "The Prometheus text format.",
                    "headers": HEADERS,
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/feedback": {
        "post": {
            "summary": "Store a correction (or confirmation) of an answer, for fine-tuning",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,128}$"},
                    "description": "Resending the same submission with the same key stores "
                    "nothing new and answers 200 with the first id; another submission with a "
                    "used key gets 422.",
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": ref("FeedbackRequest")},
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "image": {"type": "string", "format": "binary"},
                                "label": {"type": "string"},
                                "answer": {"type": "string"},
                                "model_version": {"type": "string"},
                                "mode": {"type": "string"},
                                "answer_request_id": {"type": "string"},
                                "client_id": {"type": "string"},
                            },
                            "required": ["image", "label", "model_version"],
                        }
                    },
                },
            },
            "responses": {
                "201": response("Stored; the id of the new row.", ref("FeedbackStored")),
                "200": response(
                    "Already stored under this idempotency key.", ref("FeedbackStored")
                ),
                "400": error(
                    "Malformed body, a missing or bad field, bytes that are not an image, a "
                    "blank drawing, or a label that does not fit the drawing's digits."
                ),
                "404": error("Feedback collection is switched off (FEEDBACK=off)."),
                "405": error("A method other than POST."),
                "408": error("The body did not arrive within CLIENT_TIMEOUT."),
                "413": error(
                    "The body is over MAX_BODY_BYTES, or the image over MAX_IMAGE_PIXELS or "
                    "MAX_REQUEST_PIXELS."
                ),
                "415": error("A Content-Type other than JSON or multipart."),
                "422": error(
                    "The Idempotency-Key (or client_id) was already used for a different "
                    "submission; nothing is stored. Use a new key for a new submission."
                ),
                "503": error(
                    "The model is loading, or the feedback database is unavailable or did "
                    "not answer within FEEDBACK_TIMEOUT."
                ),
            },
        }
    },
    "/feedback/export": {
        "get": {
            "summary": "Every stored submission, as NDJSON or CSV (needs FEEDBACK_TOKEN)",
            "security": [{"feedbackToken": []}],
            "parameters": [
                {
                    "name": "format",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["ndjson", "csv"], "default": "ndjson"},
                },
                {
                    "name": "after",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID, "default": 0},
                    "description": "Only submissions with a larger id (ASCII digits; "
                    "anything else is a 400).",
                },
            ],
            "responses": {
                "200": {
                    "description": "One row per submission: id, created_at, mode, label, "
                    "answer, model_version, request_id, answer_request_id, image (base64 of "
                    "the drawing) and inputs (base64 of float32 little-endian, one 28x28 "
                    "input per digit of the label).",
                    "headers": HEADERS,
                    "content": {
                        "application/x-ndjson": {"schema": {"type": "string"}},
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                "400": error("A format other than ndjson or csv, or a bad 'after'."),
                "401": error("No token, or the wrong one."),
                "404": error("Export is off: FEEDBACK_TOKEN is not set."),
                "503": error(
                    "The feedback database is unavailable or did not answer within "
                    "FEEDBACK_TIMEOUT."
                ),
            },
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "responses": {"200": response("OpenAPI 3.1.", {"type": "object"})},
        }
    },
}


def build_spec(version: str, max_batch: int) -> dict:
    """The document served at /openapi.json, for this server's MAX_BATCH."""
    schemas = copy.deepcopy(SCHEMAS)
    schemas["BatchRequest"]["properties"]["images"]["maxItems"] = max_batch
    for name, example in EXAMPLES.items():
        schemas[name]["examples"] = [example]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Number Visualizer",
            "version": version,
            "description": "Recognize a hand-drawn digit with a small CNN trained on MNIST. "
            'Every error is JSON: {"error": "<what was wrong and what to do>"}. '
            "Every response carries X-Request-ID, and Server-Timing: app;dur=<ms>, the "
            "server's own time for the request.",
        },
        "paths": copy.deepcopy(PATHS),
        "components": {
            "schemas": schemas,
            "headers": {
                "RequestId": {"schema": ref("RequestId"), "required": True},
                "ServerTiming": {
                    "schema": {"type": "string", "pattern": "^app;dur=[0-9]+\\.[0-9]{3}$"},
                    "description": "Milliseconds from the request's head parsed to the "
                    "response's head, in the server (serving/middleware.py).",
                },
            },
            "securitySchemes": {"feedbackToken": {"type": "http", "scheme": "bearer"}},
        },
    }
