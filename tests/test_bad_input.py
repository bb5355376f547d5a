"""Bad input gets a clear 4xx JSON error, never a 5xx, and the server keeps serving."""

import asyncio
import io
import struct
import zlib
from dataclasses import replace

import pytest
from conftest import b64
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image
from starlette.testclient import TestClient

from serving.app import create_app
from serving.middleware import BodyLimitMiddleware

JSON = {"Content-Type": "application/json"}
PNG = {"Content-Type": "image/png"}


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(side: int, full: bool = True) -> bytes:
    """A greyscale PNG of side x side black pixels: small, but inflating to side**2 bytes."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + pixels
    rows = side if full else 1
    idat = b"".join(compressor.compress(row) for _ in range(rows)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def small_png(noise: bool = False) -> bytes:
    buffer = io.BytesIO()
    image = Image.effect_noise((64, 64), 60) if noise else Image.new("L", (28, 28), 255)
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def multipart(field: str, content: bytes) -> tuple[bytes, dict]:
    boundary = "nvboundary42"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="d.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def nested_multipart(depth: int) -> tuple[bytes, dict]:
    parts = (
        f"--b{i}\r\nContent-Type: multipart/mixed; boundary=b{i + 1}\r\n\r\n" for i in range(depth)
    )
    return "".join(parts).encode(), {"Content-Type": "multipart/form-data; boundary=b0"}


BAD_REQUESTS = {
    "malformed JSON": (b'{"image": ', JSON, 400, "not valid JSON"),
    "deeply nested JSON": (b'{"other": ' + b"[" * 5_000, JSON, 400, "nested too deeply"),
    "a megabyte of JSON elements": (b"[" + b"[[]]," * 200_000 + b"1]", JSON, 400, "too many"),
    "JSON that is not an object": (b'["a"]', JSON, 400, "must be an object"),
    "JSON without image": (b'{"picture": "x"}', JSON, 400, '"image" field'),
    "image is a number": (b'{"image": 7}', JSON, 400, "must be a string"),
    "image is null": (b'{"image": null}', JSON, 400, "must be a string"),
    "invalid base64": (b'{"image": "not*base64!"}', JSON, 400, "not valid base64"),
    "base64 of text": (b'{"image": "aGVsbG8gd29ybGQ="}', JSON, 400, "not a readable image"),
    "data URL without base64": (b'{"image": "data:image/png,abc"}', JSON, 400, ";base64,"),
    "include_input not a bool": (
        b'{"image": "AAAA", "include_input": "yes"}',
        JSON,
        400,
        "true or false",
    ),
    "image and images both": (b'{"image": "AAAA", "images": ["AAAA"]}', JSON, 400, "not both"),
    "images not a list": (b'{"images": "abc"}', JSON, 400, "non-empty list"),
    "images empty": (b'{"images": []}', JSON, 400, "non-empty list"),
    "empty image": (b'{"image": ""}', JSON, 400, "empty"),
    "text body as PNG": (b"hello, world", PNG, 400, "not a readable image"),
    "empty PNG body": (b"", PNG, 400, "empty"),
    "truncated PNG": (small_png(noise=True)[:2000], PNG, 400, "truncated"),
    "unsupported content type": (b"hello", {"Content-Type": "text/plain"}, 415, "Content-Type"),
    "no content type": (b"hello", {}, 415, "Content-Type"),
    "SVG is not accepted": (b"<svg/>", {"Content-Type": "image/svg+xml"}, 415, "Content-Type"),
    "multipart without image field": (*multipart("file", small_png()), 400, "'image'"),
    "multipart without parts": (
        b"hello",
        {"Content-Type": "multipart/form-data; boundary=zz"},
        400,
        "cannot be parsed",
    ),
    "multipart nested 3,000 deep": (*nested_multipart(3000), 400, "cannot be parsed"),
    "multipart with empty image": (*multipart("image", b""), 400, "empty"),
    "image with too many pixels": (bomb_png(3000), PNG, 413, "pixels"),
    "decompression bomb": (bomb_png(20_000, full=False), PNG, 413, "pixels"),
}


@pytest.mark.parametrize("name", BAD_REQUESTS)
def test_bad_request_gets_a_clear_json_error(client, name):
    body, headers, status, words = BAD_REQUESTS[name]
    response = client.post("/predict", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"error"}
    assert words in response.json()["error"]
    assert "Traceback" not in response.text


def form(*parts: tuple[str | None, str | None, bytes]) -> tuple[bytes, dict]:
    """A multipart body of (name, filename, content) parts; a None name or filename is left
    out of the part's Content-Disposition."""
    boundary = "nvboundary42"

    def part(name: str | None, filename: str | None, content: bytes) -> bytes:
        disposition = "form-data" + (f'; name="{name}"' if name else "")
        disposition += f'; filename="{filename}"' if filename else ""
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n"
        return head.encode() + content + b"\r\n"

    body = b"".join(part(*p) for p in parts) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


IMAGE = ("image", "d.png", small_png())
FORM_LIMITS = {
    "two files": (form(IMAGE, ("other", "e.png", small_png())), "Too many files"),
    "17 text fields": (form(*[(f"f{i}", None, b"x") for i in range(17)], IMAGE), "Too many fields"),
    "a 5 KB text field": (form(("note", None, b"x" * 5000), IMAGE), "Part exceeded"),
    "a part without a name": (form((None, "d.png", small_png())), '"name" must be provided'),
    "the image as a text field": (form(("image", None, b"abc")), "must be a file"),
}


@pytest.mark.parametrize("name", FORM_LIMITS)
def test_a_form_past_its_limits_is_a_400_that_says_which(client, name):
    (body, headers), words = FORM_LIMITS[name]
    response = client.post("/predict", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]


def test_a_form_within_its_limits_is_answered(client):
    body, headers = form(*[(f"f{i}", None, b"x" * 4000) for i in range(16)], IMAGE)
    assert client.post("/predict", content=body, headers=headers).status_code == 200


def gif(side: int) -> str:
    buffer = io.BytesIO()
    Image.new("L", (side, side), 255).save(buffer, format="GIF")
    return b64(buffer.getvalue())


def test_images_over_the_request_pixel_budget_are_413_before_decoding(settings):
    """Any format is weighed from its header (GIFs here, which Pillow decodes)."""
    small = replace(settings, max_request_pixels=3 * 100 * 100)
    with TestClient(create_app(small)) as client:
        assert client.post("/predict", json={"images": [gif(100)] * 3}).status_code == 200
        over = client.post("/predict", json={"images": [gif(100)] * 4})
        assert over.status_code == 413
        assert "40,000 pixels in all" in over.json()["error"]
        junk = client.post("/predict", json={"images": [b64(b"junk")] * 4})
        assert junk.status_code == 400  # weighs nothing; the decoder refuses it


def test_batch_over_the_limit_and_a_bad_item(client, settings, canvases):
    good = b64(canvases[0][0])
    too_many = client.post("/predict", json={"images": [good] * (settings.max_batch + 1)})
    assert too_many.status_code == 400
    assert f"at most {settings.max_batch}" in too_many.json()["error"]
    one_bad = client.post("/predict", json={"images": [good, good, b64(b"junk")]})
    assert one_bad.status_code == 400
    assert one_bad.json()["error"].startswith("images[2]:")
    not_string = client.post("/predict", json={"images": [good, 5]})
    assert "'images[1]' must be a string" in not_string.json()["error"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_method(client, method):
    response = client.request(method, "/predict")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "POST" in response.json()["error"]


def test_body_over_the_limit_is_refused_with_413(settings):
    small = replace(settings, max_body_bytes=10_000)
    with TestClient(create_app(small)) as client:
        declared = client.post("/predict", content=b"x" * 10_001, headers=PNG)
        streamed = client.post("/predict", content=iter([b"x" * 4000] * 5), headers=PNG)
        just_fits = client.post("/predict", content=small_png(), headers=PNG)
    for response in (declared, streamed):
        assert response.status_code == 413
        assert "larger than 10,000 bytes" in response.json()["error"]
    assert just_fits.status_code == 200


@pytest.mark.parametrize("declare_length", [True, False])
def test_body_limit_stops_reading_early(declare_length):
    """Measured at the ASGI level: a 100-chunk body over the limit is not read to the end."""
    chunks_read = 0

    async def receive():
        nonlocal chunks_read
        chunks_read += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": chunks_read < 100}

    async def reading_app(scope, receive, send):
        while (await receive()).get("more_body"):
            pass
        raise AssertionError("the app read the whole body")

    sent = []

    async def send(message):
        sent.append(message)

    headers = [(b"content-length", b"100000")] if declare_length else []
    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": headers}
    asyncio.run(BodyLimitMiddleware(reading_app, max_body_bytes=5000)(scope, receive, send))
    assert sent[0]["status"] == 413
    assert chunks_read == (0 if declare_length else 6)


def test_server_keeps_serving_after_bad_input(client, canvases):
    for body, headers, _, _ in BAD_REQUESTS.values():
        client.post("/predict", content=body, headers=headers)
    response = client.post("/predict", content=canvases[0][0], headers=PNG)
    assert response.status_code == 200
    assert response.json()["digit"] is not None


CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/bmp",
        "image/webp",
        "multipart/form-data; boundary=x",
        "multipart/form-data",
        "text/plain",
        "",
    ]
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=10,
)


@hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.binary(max_size=2048), content_type=CONTENT_TYPES)
def test_fuzz_random_bodies_never_5xx(client, body, content_type):
    response = client.post("/predict", content=body, headers={"Content-Type": content_type})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert "error" in response.json()


@hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    document=st.dictionaries(
        st.sampled_from(["image", "images", "include_input", "other"]), JSON_VALUES, max_size=3
    )
)
def test_fuzz_json_documents_never_5xx(client, document):
    response = client.post("/predict", json=document)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert "error" in response.json()


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_fuzz_corrupted_pngs_never_5xx(client, canvases, data):
    """Real canvas PNGs with random bytes flipped or cut: the decoder's edge cases."""
    png = bytearray(canvases[0][data.draw(st.integers(0, 9))])
    for _ in range(data.draw(st.integers(1, 8))):
        png[data.draw(st.integers(0, len(png) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(8, len(png)))
    response = client.post("/predict", content=bytes(png[:cut]), headers=PNG)
    assert response.status_code in (200, 400, 413), response.text


@pytest.mark.parametrize("value", ["maybe", "-1", "5e-324", "1", "0", "yes", "TRUE", ""])
def test_include_input_in_the_query_is_read_exactly_as_in_json(client, value):
    """Only true and false, as a JSON body allows; anything else is a 400, not a silent false."""
    response = client.post(f"/predict?include_input={value}", content=small_png(), headers=PNG)
    assert response.status_code == 400
    assert "'include_input' must be true or false" in response.json()["error"]
    json_body = b'{"image": "", "include_input": ' + (value or '""').encode() + b"}"
    as_json = client.post("/predict", content=json_body, headers=JSON)
    assert as_json.status_code == 400
