"""Drawings and request bodies shared by the feedback tests."""

import base64
import io

from PIL import Image, ImageDraw

TOKEN = "feedback-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def drawing(*strokes: list[tuple[int, int]], size: tuple[int, int] = (280, 280)) -> bytes:
    """A PNG of black strokes on white, as the page sends."""
    image = Image.new("L", size, 255)
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        pen.line(stroke, fill=0, width=18, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


ONE = drawing([(140, 40), (140, 240)])
SEVEN = drawing([(70, 50), (210, 50), (110, 240)])
NUMBER_101 = drawing(
    [(140, 40), (140, 240)],
    [(420, 60), (370, 140), (420, 225), (470, 140), (420, 60)],
    [(700, 40), (700, 240)],
    size=(840, 280),
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def body(image: bytes = SEVEN, label: object = "7", **extra: object) -> dict:
    return {"image": b64(image), "label": label, "answer": 1, "model_version": "v1", **extra}
