"""Drawings, request bodies and a restartable real server, shared by the feedback tests."""

import base64
import io

from PIL import Image, ImageDraw

from bench.server import free_port, start_server, stop_server, wait_ready

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


class Server:
    """`python -m serving` storing feedback in `target`, restartable on the same port."""

    def __init__(self, target: str, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "FEEDBACK_DB": target,
            "FEEDBACK_TOKEN": TOKEN,
            "WORKERS": str(workers),
            "LOG_LEVEL": "warning",
        }
        self.process = None

    def start(self) -> None:
        self.process = start_server(self.port, **self.env)
        wait_ready(self.process, self.port, timeout=60)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop_server(self.process)
