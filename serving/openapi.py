"""The OpenAPI description of the API, written by hand.

The surface is small and stable, so a static document is clearer than one
generated from docstrings, and it can describe every error response exactly.
"""

from serving.contract import CLASS_NAMES, IMAGE_SIZE


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


_PROBABILITIES = {
    "type": "object",
    "properties": {name: {"type": "number", "minimum": 0, "maximum": 1} for name in CLASS_NAMES},
    "required": list(CLASS_NAMES),
}

_IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp")

_PREDICT_ERRORS = {
    "400": _error(
        "Malformed JSON, a missing or non-string image, invalid base64, bytes that are not "
        "an image, or too many images in a batch."
    ),
    "405": _error("A method other than POST."),
    "413": _error("The body is over MAX_BODY_BYTES, or the image has over MAX_IMAGE_PIXELS."),
    "415": _error("A Content-Type other than JSON, an image type or multipart/form-data."),
    "503": _error("The model is not loaded yet."),
}


def build_spec(version: str, max_batch: int) -> dict:
    """The document served at /openapi.json."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Number Visualizer",
            "version": version,
            "description": "Recognise a hand-drawn digit with a small CNN trained on MNIST. "
            'Every error is JSON: {"error": "<what was wrong and what to do>"}.',
        },
        "paths": {
            "/predict": {
                "post": {
                    "summary": "Recognise the digit in one image, or in a batch of images",
                    "parameters": [
                        {
                            "name": "include_input",
                            "in": "query",
                            "schema": {"type": "boolean", "default": False},
                            "description": "For raw and multipart bodies: also return the "
                            f"{IMAGE_SIZE}x{IMAGE_SIZE} input the model saw.",
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"oneOf": [_ref("ImageRequest"), _batch(max_batch)]}
                            },
                            **{
                                t: {"schema": {"type": "string", "format": "binary"}}
                                for t in _IMAGE_TYPES
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
                        "200": {
                            "description": 'One prediction, or {"predictions": [...]} for a batch.',
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "oneOf": [_ref("Prediction"), _ref("BatchPrediction")]
                                    }
                                }
                            },
                        },
                        **_PREDICT_ERRORS,
                    },
                }
            },
            "/health": _get("Model and service status", _ref("Health")),
            "/health/live": _get("Liveness: the process answers", {"type": "object"}),
            "/health/ready": {
                "get": {
                    "summary": "Readiness: the model is loaded and its warm-up inference passed",
                    "responses": {
                        "200": {"description": "Ready."},
                        "503": _error("Not ready yet."),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {
                        "200": {"description": "Text format", "content": {"text/plain": {}}}
                    },
                }
            },
        },
        "components": {"schemas": _schemas()},
    }


def _get(summary: str, schema: dict) -> dict:
    ok = {"description": "OK", "content": {"application/json": {"schema": schema}}}
    return {"get": {"summary": summary, "responses": {"200": ok}}}


def _batch(max_batch: int) -> dict:
    return {
        "type": "object",
        "properties": {
            "images": {
                "type": "array",
                "items": {"type": "string", "contentEncoding": "base64"},
                "minItems": 1,
                "maxItems": max_batch,
            },
            "include_input": {"type": "boolean", "default": False},
        },
        "required": ["images"],
    }


def _schemas() -> dict:
    return {
        "ImageRequest": {
            "type": "object",
            "properties": {
                "image": {
                    "type": "string",
                    "description": "Base64 PNG/JPEG/WebP/GIF/BMP, with or without a "
                    "data:image/...;base64, prefix.",
                },
                "include_input": {"type": "boolean", "default": False},
            },
            "required": ["image"],
        },
        "Prediction": {
            "type": "object",
            "properties": {
                "digit": {"type": ["integer", "null"], "minimum": 0, "maximum": 9},
                "confidence": {"type": "number"},
                "probabilities": _PROBABILITIES,
                "blank": {
                    "type": "boolean",
                    "description": "True when the image has no ink: digit is null, "
                    "confidence and all probabilities are 0.",
                },
                "message": {"type": "string", "description": "Only when blank."},
                "model_version": {"type": "string"},
                "input": {
                    "type": "array",
                    "description": "Only with include_input: the 28x28 image the model saw, "
                    "0 (background) to 1 (ink).",
                    "items": {"type": "array", "items": {"type": "number"}},
                },
            },
            "required": ["digit", "confidence", "probabilities", "blank", "model_version"],
        },
        "BatchPrediction": {
            "type": "object",
            "properties": {"predictions": {"type": "array", "items": _ref("Prediction")}},
            "required": ["predictions"],
        },
        "Health": {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": ["healthy"]},
                "model_loaded": {"type": "boolean"},
                "model_version": {"type": "string"},
                "model_sha256": {"type": "string"},
            },
        },
        "Error": {
            "type": "object",
            "properties": {"error": {"type": "string"}},
            "required": ["error"],
        },
    }
