"""The OpenAPI description of the API, and the page at /docs that renders it.

The schemas are the shapes' own (serving.shapes and recognizer.answers, through msgspec's
JSON Schema), so the document describes what the code decodes and encodes by
construction. The paths are assembled from the route table: each route's summary is its
handler's docstring, and OPERATIONS adds what no type can say (parameters, statuses and
when each is given). tests/test_openapi.py has schemathesis call every route as well.
"""

from collections.abc import Iterable
from pathlib import Path

import msgspec
from starlette.routing import BaseRoute, Route
from starlette.staticfiles import StaticFiles

from feedback.export import FIELDS as EXPORT_FIELDS
from feedback.export import FORMATS, MAX_ID
from recognizer.answers import Answer, NumberAnswer, NumberDigit, Probabilities
from recognizer.contract import CLASS_NAMES, MAX_DIGITS, Mode
from serving.bodies import MAX_FIELD_BYTES, MAX_FORM_FIELDS
from serving.middleware import REQUEST_ID_PATTERN, SERVER_TIMING_PATTERN, TIMING_NAME
from serving.predictions import IMAGE_TYPES
from serving.shapes import (
    KEY_PATTERN,
    BatchPrediction,
    Error,
    FeedbackBody,
    FeedbackFields,
    FeedbackStored,
    Health,
    NumberBatchPrediction,
    NumberPrediction,
    PredictBody,
    Prediction,
    Status,
    whole,
    with_request_id,
)

DOCS_PAGE = StaticFiles(directory=Path(__file__).resolve().parent / "docs", html=True)
"""/docs: a page of our own (no CDN, within the CSP) that renders /openapi.json: each
endpoint's fields in words, every answer type in full, a curl line and a sample response
(the schemas' `examples`), and a form that tries POST /predict with a drawing or a file."""

SHAPES = (
    PredictBody,
    Prediction,
    NumberPrediction,
    BatchPrediction,
    NumberBatchPrediction,
    Health,
    Status,
    FeedbackBody,
    FeedbackStored,
    Error,
)
"""The types the routes decode and answer; the components are theirs and those they use."""
REF = "#/components/schemas/{name}"


def type_schemas() -> dict[str, dict]:
    """The JSON Schema of every shape, by name, as msgspec gives it (descriptions, taken
    from docstrings, on one line)."""
    _, schemas = msgspec.json.schema_components(SHAPES, ref_template=REF)
    for schema in schemas.values():
        schema["description"] = " ".join(schema["description"].split())
    return schemas


def server_schemas(max_batch: int, max_digits: int) -> dict[str, dict]:
    """type_schemas with this server's settings and the one rule a Struct cannot say."""
    schemas = type_schemas()
    body = schemas["PredictBody"]
    body["properties"]["images"]["maxItems"] = max_batch
    body["oneOf"] = [{"required": ["image"]}, {"required": ["images"]}]
    schemas["FeedbackBody"]["properties"]["label"]["anyOf"][0]["maxLength"] = max_digits
    return schemas


def ref(shape: type) -> dict:
    """A reference to a shape's schema."""
    return {"$ref": REF.format(name=shape.__name__)}


HEADERS = {
    "X-Request-ID": {"$ref": "#/components/headers/RequestId"},
    "Server-Timing": {"$ref": "#/components/headers/ServerTiming"},
}
"""The headers of every response."""


def response(description: str, schema: dict | None = None, media_type: str = "") -> dict:
    """A response that, like every response, carries X-Request-ID and Server-Timing; JSON
    unless another media type is named."""
    if schema is None:
        return {"description": description, "headers": HEADERS}
    content = {media_type or "application/json": {"schema": schema}}
    return {"description": description, "headers": HEADERS, "content": content}


def error(description: str) -> dict:
    return response(description, ref(Error))


def one_of(*shapes: type) -> dict:
    return {"oneOf": [ref(shape) for shape in shapes]}


NOT_LOADED = error("The model is not loaded yet (only while starting); retry shortly.")
BINARY = {"type": "string", "format": "binary"}
MODE = {**msgspec.json.schema(Mode), "default": "digit"}


def form(shape: type | None = None) -> dict:
    """A multipart form: the drawing as the file part 'image', and `shape`'s fields as text
    parts (each as in the JSON body)."""
    fields = msgspec.structs.fields(shape) if shape else ()
    return {
        "type": "object",
        "properties": {"image": BINARY, **{f.name: {"type": "string"} for f in fields}},
        "required": ["image", *(f.name for f in fields if f.required)],
    }


OPERATIONS: dict[tuple[str, str], dict] = {
    ("/predict", "POST"): {
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
                "description": "`digit` or `number`; anything else is a 400. JSON may say "
                "`mode` itself.",
            },
            {
                "name": "X-Request-ID",
                "in": "header",
                "schema": {"type": "string"},
                "description": "An id of your own for this request: kept if it matches "
                f"`{REQUEST_ID_PATTERN}`, else replaced by a new one (never refused).",
            },
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": ref(PredictBody)},
                **{media_type: {"schema": BINARY} for media_type in sorted(IMAGE_TYPES)},
                "multipart/form-data": {"schema": form()},
            },
        },
        "responses": {
            "200": response(
                'One answer, or {"predictions": [...]} for a batch.',
                one_of(Prediction, NumberPrediction, BatchPrediction, NumberBatchPrediction),
            ),
            "400": error(
                "Malformed JSON, a field that does not fit PredictBody, no image or images (or "
                "both), bytes that are not an image, a batch over MAX_BATCH, include_input "
                "not true/false, a mode other than digit or number, more than MAX_DIGITS "
                "digits in number mode, or a multipart body that cannot be parsed (more than "
                f"one file, {MAX_FORM_FIELDS} fields or {MAX_FIELD_BYTES} bytes in a field)."
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
    },
    ("/health", "GET"): {
        "responses": {"200": response("Healthy.", ref(Health)), "503": NOT_LOADED},
    },
    ("/health/live", "GET"): {
        "responses": {"200": response('{"status": "alive"}', ref(Status))},
    },
    ("/health/ready", "GET"): {
        "responses": {"200": response('{"status": "ready"}', ref(Status)), "503": NOT_LOADED},
    },
    ("/model.onnx", "GET"): {
        "description": "The bytes the server itself runs. `ETag` and `X-Model-SHA256` give "
        "their sha256 (the same as `model_sha256` in /health), `X-Model-Version` the version; "
        "`If-None-Match` with the ETag gets 304.",
        "responses": {
            "200": response("The ONNX file.", {"type": "string"}, "application/octet-stream"),
            "304": response("The client already holds this model."),
            "503": NOT_LOADED,
        },
    },
    ("/metrics", "GET"): {
        "responses": {
            "200": response("The Prometheus text format.", {"type": "string"}, "text/plain")
        },
    },
    ("/feedback", "POST"): {
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "schema": {"type": "string", "pattern": whole(KEY_PATTERN)},
                "description": "Resending the same submission with the same key stores "
                "nothing new and answers 200 with the first id; another submission with a "
                "used key gets 422.",
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": ref(FeedbackBody)},
                "multipart/form-data": {"schema": form(FeedbackFields)},
            },
        },
        "responses": {
            "201": response("Stored; the id of the new row.", ref(FeedbackStored)),
            "200": response("Already stored under this idempotency key.", ref(FeedbackStored)),
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
                "The model is loading, or the feedback database is unavailable or did not "
                "answer within FEEDBACK_TIMEOUT."
            ),
        },
    },
    ("/feedback/export", "GET"): {
        "security": [{"feedbackToken": []}],
        "parameters": [
            {
                "name": "format",
                "in": "query",
                "schema": {"type": "string", "enum": list(FORMATS), "default": "ndjson"},
            },
            {
                "name": "after",
                "in": "query",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID, "default": 0},
                "description": "Only submissions with a larger id (ASCII digits; anything "
                "else is a 400).",
            },
        ],
        "responses": {
            "200": {
                "description": f"One row per submission: {', '.join(EXPORT_FIELDS)}. `image` "
                "is base64 of the drawing, `inputs` base64 of float32 little-endian, one 28x28 "
                "input per digit of the label.",
                "headers": HEADERS,
                "content": {media: {"schema": {"type": "string"}} for media in FORMATS.values()},
            },
            "400": error("A format other than ndjson or csv, or a bad 'after'."),
            "401": error("No token, or the wrong one."),
            "404": error("Export is off: FEEDBACK_TOKEN is not set."),
            "503": error(
                "The feedback database is unavailable or did not answer within FEEDBACK_TIMEOUT."
            ),
        },
    },
    ("/openapi.json", "GET"): {
        "responses": {"200": response("OpenAPI 3.1.", {"type": "object"})},
    },
}
"""What each documented operation adds to its route: parameters, body and statuses."""

SEVEN_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAABwAAAAcAQAAAABaduI5AAAAQklEQVR42mP8z8DwkYmBgYEBnfjPyMLAxMDwD8"
    "JlYfz/BC6LYJ2AsBj+/5f/ABX7rwCT/ecAk/3xHyb7E24HH4aVADO4Eg9Bu5tDAAAAAElFTkSuQmCC"
)
"""A 28x28 PNG of a 7, base64: the examples' image (the docs' curl lines send it)."""
VERSION = "20261125.225646"
REQUEST_ID = "c3de3923627625e5f27436001e84745b"


def _probabilities(digit: int, p: float) -> Probabilities:  # type: ignore[valid-type]
    return Probabilities(*[p if name == str(digit) else 0.0 for name in CLASS_NAMES])


def _digit(digit: int, box: list[int]) -> NumberDigit:
    return NumberDigit(
        digit=digit, confidence=0.9997, probabilities=_probabilities(digit, 0.9997), box=box
    )


SEVEN = Answer(
    digit=7,
    confidence=0.9997,
    probabilities=_probabilities(7, 0.9997),
    blank=False,
    model_version=VERSION,
)
SEVENTY_ONE = NumberAnswer(
    number="71",
    digits=[_digit(7, [7, 5, 23, 24]), _digit(1, [41, 5, 44, 24])],
    confidence=0.9994,
    blank=False,
    model_version=VERSION,
)
EXAMPLES: dict[str, msgspec.Struct] = {
    "PredictBody": PredictBody(image=SEVEN_PNG),
    "Probabilities": SEVEN.probabilities,
    "Answer": SEVEN,
    "Prediction": with_request_id(SEVEN, REQUEST_ID),
    "NumberDigit": SEVENTY_ONE.digits[1],
    "NumberAnswer": SEVENTY_ONE,
    "NumberPrediction": with_request_id(SEVENTY_ONE, REQUEST_ID),
    "BatchPrediction": BatchPrediction(predictions=[SEVEN, SEVEN], request_id=REQUEST_ID),
    "NumberBatchPrediction": NumberBatchPrediction(
        predictions=[SEVENTY_ONE], request_id=REQUEST_ID
    ),
    "Health": Health(
        status="healthy",
        model_loaded=True,
        model_version=VERSION,
        model_sha256="8c7ae29baa4e86780c57c979ee3002ae570a9fa96bcdd9d49512156d5d361550",
        model_parameters=165675,
        feedback=True,
    ),
    "FeedbackBody": FeedbackBody(
        image=SEVEN_PNG, label="7", answer="1", model_version=VERSION, mode="digit"
    ),
    "FeedbackStored": FeedbackStored(42),
    "Status": Status("ready"),
    "Error": Error("'include_input' must be true or false, not 'yes'"),
}
"""One example per type, built as the types: the docs page shows them as sample requests
and responses."""


def paths(routes: Iterable[BaseRoute]) -> dict[str, dict]:
    """The documented operations of the route table, in its order, each summarised by its
    handler's docstring."""
    documented: dict[str, dict] = {}
    for route in routes:
        if not isinstance(route, Route):
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            operation = OPERATIONS.get((route.path, method))
            if operation is not None:
                summary = " ".join((route.endpoint.__doc__ or "").split("\n\n")[0].split())
                item = documented.setdefault(route.path, {})
                item[method.lower()] = {"summary": summary, **operation}
    return documented


def build_spec(
    version: str, max_batch: int, max_digits: int = MAX_DIGITS, routes: Iterable = ()
) -> dict:
    """The document served at /openapi.json, for this server's routes and limits."""
    schemas = server_schemas(max_batch, max_digits)
    for name, example in EXAMPLES.items():
        schemas[name]["examples"] = [msgspec.to_builtins(example)]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Number Visualizer",
            "version": version,
            "description": "Recognize a hand-drawn digit, or a number, with a small CNN "
            'trained on MNIST. Every error is JSON: {"error": "<what was wrong and what to '
            'do>"}. Every response carries X-Request-ID, and Server-Timing: '
            f"{TIMING_NAME};dur=<ms>, the server's own time for the request.",
        },
        "paths": paths(routes),
        "components": {
            "schemas": schemas,
            "headers": {
                "RequestId": {
                    "schema": {"type": "string", "pattern": whole(REQUEST_ID_PATTERN)},
                    "required": True,
                },
                "ServerTiming": {
                    "schema": {"type": "string", "pattern": SERVER_TIMING_PATTERN},
                    "description": "Milliseconds from the request's head parsed to the "
                    "response's head, in the server (serving/middleware.py).",
                },
            },
            "securitySchemes": {"feedbackToken": {"type": "http", "scheme": "bearer"}},
        },
    }
