"""The HTTP contract, through the real app with its lifespan and the committed model."""

import io
import json
import logging
from dataclasses import replace

import numpy as np
from conftest import REQUEST_ID, b64
from PIL import Image
from starlette.testclient import TestClient

from recognizer.contract import CARD_FILE as CARD_NAME
from recognizer.contract import CLASS_NAMES
from recognizer.preprocess import canvas_to_input, decode_image
from serving.app import create_app
from serving.middleware import SECURITY_HEADERS

PREDICTION_KEYS = {"digit", "confidence", "probabilities", "blank", "model_version", "request_id"}


def blank_png(side: int = 280) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (side, side), (255, 255, 255, 255)).save(buffer, format="PNG")
    return buffer.getvalue()


def card_version(settings) -> str:
    card = json.loads(settings.model_path.with_name(CARD_NAME).read_text())
    return card["model"]["version"]


def assert_prediction(answer: dict, settings) -> None:
    assert set(answer) == PREDICTION_KEYS
    assert answer["blank"] is False
    assert list(answer["probabilities"]) == list(CLASS_NAMES)
    assert abs(sum(answer["probabilities"].values()) - 1.0) < 1e-3  # each is rounded to 4 places
    assert answer["confidence"] == max(answer["probabilities"].values())
    assert answer["probabilities"][str(answer["digit"])] == answer["confidence"]
    assert answer["model_version"] == card_version(settings)


def test_every_body_form_gives_the_same_answer(client, canvases, settings):
    """JSON (with and without a data: URL prefix), raw PNG and multipart carry the same image."""
    png = canvases[0][0]
    answers = [
        client.post("/predict", json={"image": b64(png)}),
        client.post("/predict", json={"image": "data:image/png;base64," + b64(png)}),
        client.post("/predict", content=png, headers={"Content-Type": "image/png"}),
        client.post(
            "/predict",
            files={"image": ("digit.png", png, "image/png")},
            data={"note": "other fields are ignored"},
        ),
    ]
    for response in answers:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == answers[0].json()
    assert_prediction(answers[0].json(), settings)


def test_jpeg_body(client, canvases, settings):
    buffer = io.BytesIO()
    Image.open(io.BytesIO(canvases[0][2])).convert("RGB").save(buffer, format="JPEG", quality=90)
    response = client.post(
        "/predict", content=buffer.getvalue(), headers={"Content-Type": "image/jpeg"}
    )
    assert response.status_code == 200
    assert_prediction(response.json(), settings)


def test_batch_answers_each_image_in_order(client, canvases):
    images = [*canvases[0][:10], blank_png()]
    response = client.post("/predict", json={"images": [b64(png) for png in images]})
    assert response.status_code == 200
    answers = response.json()["predictions"]
    assert len(answers) == len(images)
    single = [client.post("/predict", json={"image": b64(png)}).json() for png in images]
    assert response.json()["request_id"] == REQUEST_ID  # once, for the whole batch
    assert answers == [{k: v for k, v in answer.items() if k != "request_id"} for answer in single]
    assert answers[-1]["blank"] is True


def test_fixture_digits_are_recognised(client, canvases):
    """Real MNIST digits drawn on a canvas: the committed model must get nearly all right."""
    pngs, labels = canvases
    predicted = []
    for start in range(0, len(pngs), 50):
        batch = [b64(png) for png in pngs[start : start + 50]]
        response = client.post("/predict", json={"images": batch})
        predicted += [answer["digit"] for answer in response.json()["predictions"]]
    accuracy = np.mean(np.array(predicted) == np.array(labels))
    assert accuracy >= 0.97, f"accuracy on {len(labels)} canvas digits is {accuracy:.3f}"


def test_include_input_is_exactly_what_the_model_saw(client, canvases, settings):
    png = canvases[0][4]
    expected = canvas_to_input(decode_image(png, settings.max_image_pixels))
    by_json = client.post("/predict", json={"image": b64(png), "include_input": True}).json()
    by_query = client.post(
        "/predict?include_input=true", content=png, headers={"Content-Type": "image/png"}
    ).json()
    assert by_json == by_query
    seen = np.array(by_json["input"])
    assert seen.shape == (28, 28)
    assert seen.min() >= 0.0 and seen.max() == 1.0
    np.testing.assert_allclose(seen, expected, atol=0.0005)
    assert "input" not in client.post("/predict", json={"image": b64(png)}).json()


def test_blank_canvas_gets_the_documented_answer(client, settings):
    response = client.post("/predict", content=blank_png(), headers={"Content-Type": "image/png"})
    assert response.status_code == 200
    assert response.json() == {
        "digit": None,
        "confidence": 0.0,
        "probabilities": dict.fromkeys(CLASS_NAMES, 0.0),
        "blank": True,
        "reason": "blank",
        "message": "No ink found: draw a digit.",
        "model_version": card_version(settings),
        "request_id": REQUEST_ID,
    }


def test_health_live_and_ready(client, settings):
    health = client.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "healthy" and body["model_loaded"] is True
    assert body["model_version"] == card_version(settings)
    card = json.loads(settings.model_path.with_name(CARD_NAME).read_text())
    assert body["model_sha256"] == card["model"]["sha256"]
    assert client.get("/health/live").json() == {"status": "alive"}
    assert client.get("/health/ready").status_code == 200


def test_not_ready_until_the_lifespan_has_loaded_the_model(settings):
    unstarted = TestClient(create_app(settings))  # no `with`: the lifespan has not run
    assert unstarted.get("/health/live").status_code == 200
    for path in ("/health/ready", "/health"):
        response = unstarted.get(path)
        assert response.status_code == 503
        assert "not loaded" in response.json()["error"]


def test_metrics_count_requests_latency_and_digits(settings, canvases):
    with TestClient(create_app(settings)) as fresh:
        digits = [
            fresh.post("/predict", content=png, headers={"Content-Type": "image/png"}).json()[
                "digit"
            ]
            for png in canvases[0][:3]
        ]
        fresh.post("/predict", content=blank_png(), headers={"Content-Type": "image/png"})
        fresh.post("/predict", content=b"junk", headers={"Content-Type": "image/png"})
        text = fresh.get("/metrics").text
    assert 'http_requests_total{route="/predict",status="200"} 4.0' in text
    assert 'http_requests_total{route="/predict",status="400"} 1.0' in text
    assert 'http_request_duration_seconds_count{route="/predict"} 5.0' in text
    assert 'http_request_duration_seconds_bucket{le="+Inf",route="/predict"} 5.0' in text
    for digit in set(digits):
        assert f'predictions_total{{digit="{digit}"}} {digits.count(digit)}.0' in text
    assert 'predictions_total{digit="blank"} 1.0' in text


def test_metrics_label_unknown_paths_as_static(settings):
    """Random URLs must not add label values: the metrics would grow without bound."""
    with TestClient(create_app(settings)) as fresh:
        for i in range(3):
            fresh.get(f"/no-such-page-{i}")
        fresh.get("/health/live")
        text = fresh.get("/metrics").text
    assert 'http_requests_total{route="static",status="404"} 3.0' in text
    assert 'http_requests_total{route="/health/live",status="200"} 1.0' in text
    assert "no-such-page" not in text


def test_openapi_documents_the_routes_and_error_responses(client):
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert {"/predict", "/health", "/health/live", "/health/ready", "/metrics"} <= set(
        spec["paths"]
    )
    responses = spec["paths"]["/predict"]["post"]["responses"]
    assert {"200", "400", "405", "413", "415"} <= set(responses)


def test_security_headers_on_every_kind_of_response(client):
    for response in (
        client.get("/health"),
        client.get("/"),
        client.get("/no-such-file.js"),
        client.post("/predict", content=b"{", headers={"Content-Type": "application/json"}),
    ):
        for name, value in SECURITY_HEADERS:
            assert response.headers[name.decode()] == value.decode(), response.url
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_web_page_is_served_from_web_dir_only(client, settings):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.content == (settings.web_dir / "index.html").read_bytes()
    for escape in ("/../pyproject.toml", "/%2e%2e/pyproject.toml", "/..%2fserving/app.py"):
        assert client.get(escape).status_code == 404, escape


def test_cors_is_off_by_default_and_on_when_configured(client, settings):
    origin = {"Origin": "https://example.org"}
    assert "access-control-allow-origin" not in client.get("/health", headers=origin).headers
    allowed = replace(settings, cors_origins=("https://example.org",))
    with TestClient(create_app(allowed)) as cors_client:
        response = cors_client.get("/health", headers=origin)
        other = cors_client.get("/health", headers={"Origin": "https://evil.example"})
    assert response.headers["access-control-allow-origin"] == "https://example.org"
    assert "access-control-allow-origin" not in other.headers


def test_large_palette_and_one_bit_images(client, canvases):
    """Pillow cannot box-reduce these modes; a 1200x1200 upload must still be read."""
    png = canvases[0][5]
    expected = client.post("/predict", content=png, headers={"Content-Type": "image/png"}).json()
    big = Image.open(io.BytesIO(png)).convert("L").resize((1200, 1200))
    for mode in ("P", "1"):
        buffer = io.BytesIO()
        big.convert(mode).save(buffer, format="PNG")
        response = client.post(
            "/predict", content=buffer.getvalue(), headers={"Content-Type": "image/png"}
        )
        assert response.status_code == 200, (mode, response.text)
        assert response.json()["digit"] == expected["digit"], mode


def test_every_response_carries_a_request_id_and_predictions_repeat_it(settings, caplog):
    """A sane client id is kept; anything else is replaced; the log line names the id."""
    caplog.set_level(logging.INFO, logger="serving.requests")
    with TestClient(create_app(settings)) as fresh:
        own = fresh.post(
            "/predict",
            content=blank_png(),
            headers={"Content-Type": "image/png", "X-Request-ID": "client-42.a:b"},
        )
        assert own.headers["x-request-id"] == own.json()["request_id"] == "client-42.a:b"
        for bad_id in ("", "a b", "x" * 129, "<script>"):
            replaced = fresh.get("/no-such-page", headers={"X-Request-ID": bad_id})
            assert len(replaced.headers["x-request-id"]) == 32, bad_id
        generated = fresh.post("/predict", json={"images": [b64(blank_png())]})
        assert generated.headers["x-request-id"] == generated.json()["request_id"]
        error = fresh.post("/predict", content=b"{", headers={"Content-Type": "application/json"})
        assert error.status_code == 400 and len(error.headers["x-request-id"]) == 32
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "serving.requests"]
    assert {"client-42.a:b", generated.headers["x-request-id"]} <= {
        line["request_id"] for line in logged
    }


def test_the_api_page_is_self_hosted(client):
    """/docs renders /openapi.json with our own script: nothing from another host."""
    page = client.get("/docs/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "http" not in page.text.replace('href="../openapi.json"', "")
    script = client.get("/docs/docs.js")
    assert script.status_code == 200 and 'fetch("../openapi.json")' in script.text
    assert client.get("/docs").status_code == 200  # redirected to /docs/
