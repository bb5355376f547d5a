"""The OpenAPI document cannot drift: schemathesis checks every route's real answers against it.

It generates requests from /openapi.json (valid ones and, for the request bodies,
invalid ones), sends them to a real server process, and fails on a 5xx, or on any
status, header, content type or body the document does not describe, or on a
request the document calls invalid that the server accepts.
"""

import copy
import itertools
import re

import httpx
import msgspec
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from bench.server import free_port, start_server, stop_server, wait_ready
from serving.openapi import REF, SHAPES, build_spec
from serving.settings import Settings


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    port = free_port()
    feedback_db = tmp_path_factory.mktemp("openapi") / "feedback.sqlite3"
    process = start_server(port, LOG_LEVEL="warning", FEEDBACK_DB=str(feedback_db))
    try:
        wait_ready(process, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)


@pytest.fixture(scope="module")
def api_schema(base_url):
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


def test_every_route_answers_as_documented(api_schema):
    """Each operation, with generated requests; schemathesis's own pytest plugin is not used
    because it does not run under this pytest version."""
    checked = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def answers_as_documented(case):
            # A schema-valid string need not be an image, so a 400 for it is right.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        try:
            answers_as_documented()
        except Unsatisfiable:  # nothing to make invalid: a GET without parameters
            assert mode is GenerationMode.NEGATIVE, operation.label
        checked.append(f"{operation.label} {mode}")
    assert {"POST /predict negative", "POST /predict positive", "GET /health positive"} <= set(
        checked
    ), checked


def test_the_document_describes_what_the_code_enforces(base_url):
    spec = httpx.get(f"{base_url}/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert schemas["PredictBody"]["properties"]["image"]["minLength"] == 1
    assert schemas["PredictBody"]["properties"]["image"]["contentEncoding"] == "base64"
    assert schemas["PredictBody"]["properties"]["images"]["maxItems"] == Settings().max_batch
    label = schemas["FeedbackBody"]["properties"]["label"]["anyOf"][0]
    assert label["maxLength"] == Settings().max_digits
    assert set(schemas["Health"]["required"]) >= {"model_parameters", "model_sha256"}
    health = httpx.get(f"{base_url}/health").json()
    assert set(health) == set(schemas["Health"]["properties"])
    assert "503" in spec["paths"]["/health"]["get"]["responses"]
    ready = spec["paths"]["/health/ready"]["get"]["responses"]["200"]
    assert ready["content"]["application/json"]["schema"]


def test_every_documented_response_names_the_headers_every_response_carries(base_url):
    spec = httpx.get(f"{base_url}/openapi.json").json()
    answers = [
        answer
        for path in spec["paths"].values()
        for operation in path.values()
        for answer in operation["responses"].values()
    ]
    assert answers
    assert all({"X-Request-ID", "Server-Timing"} <= set(a.get("headers", {})) for a in answers)
    pattern = spec["components"]["headers"]["ServerTiming"]["schema"]["pattern"]
    for response in (httpx.get(f"{base_url}/health"), httpx.post(f"{base_url}/predict")):
        assert re.fullmatch(pattern, response.headers["server-timing"]), response.headers


def test_the_components_are_the_schemas_of_the_types(base_url):
    """Each served schema is msgspec's for its type, except the example, this server's
    MAX_BATCH and MAX_DIGITS, and the rule that a body sends image or images."""
    served = httpx.get(f"{base_url}/openapi.json").json()["components"]["schemas"]
    _, generated = msgspec.json.schema_components(SHAPES, ref_template=REF)
    assert set(served) == set(generated)
    defaults = Settings()
    for name, schema in served.items():
        expected = copy.deepcopy(generated[name])
        expected["description"] = " ".join(expected["description"].split())
        if name == "PredictBody":
            expected["properties"]["images"]["maxItems"] = defaults.max_batch
            expected["oneOf"] = [{"required": ["image"]}, {"required": ["images"]}]
        if name == "FeedbackBody":
            expected["properties"]["label"]["anyOf"][0]["maxLength"] = defaults.max_digits
        example = schema.pop("examples")
        assert schema == expected, name
        assert len(example) == 1, name


def test_every_field_of_every_type_is_described():
    """The docs page shows each field with its description: the types must say it."""
    schemas = build_spec("test", 64)["components"]["schemas"]
    undescribed = [
        f"{name}.{field}"
        for name, schema in schemas.items()
        for field, prop in schema.get("properties", {}).items()
        if "description" not in prop and "$ref" not in prop
    ]
    assert schemas and not undescribed, undescribed
