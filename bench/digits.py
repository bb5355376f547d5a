"""Real MNIST digits drawn the way the web page sends them: 280x280 canvas PNGs.

The page paints black ink on a white, opaque 280x280 canvas and posts it as an
RGBA PNG. Each MNIST digit is drawn on such a canvas at a random size and place,
with a thinner or thicker pen (training.canvas.draw_on_canvas), which gives
requests of the same size, format and statistics as the page's, with a known label.
Tests use it too, so the API is exercised with realistic images everywhere.
"""

import io
from pathlib import Path

import numpy as np
from PIL import Image

from training.canvas import CANVAS_SIZE as CANVAS_SIDE
from training.canvas import draw_on_canvas as draw_mnist_on_canvas

SAMPLE_PATH = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "mnist_sample.npz"


def load_sample() -> tuple[np.ndarray, np.ndarray]:
    """The committed sample of real MNIST test digits: x (N, 28, 28) uint8 and labels y (N,)."""
    with np.load(SAMPLE_PATH) as sample:
        return sample["x"], sample["y"]


def place_digit(digit: np.ndarray, side: int, left: int, top: int) -> Image.Image:
    """The 28x28 field blown up to side x side at (left, top): white ink on black, mode L."""
    ink = Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
    canvas = Image.new("L", (CANVAS_SIDE, CANVAS_SIDE), 0)
    canvas.paste(ink, (left, top))
    return canvas


def draw_on_canvas(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A 28x28 MNIST digit as the page sends it: black ink on an opaque white RGBA canvas.

    The drawing itself (random size, place and pen width) is the one behind the model
    card's canvas accuracy, so benchmarks and tests send what that figure measured.
    """
    return draw_mnist_on_canvas(digit, rng).convert("RGBA")


def to_png(image: Image.Image) -> bytes:
    """PNG bytes, as canvas.toBlob("image/png") would give."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def canvas_pngs(count: int, seed: int = 0) -> tuple[list[bytes], np.ndarray]:
    """`count` canvas PNGs of sample digits (cycling through the sample) and their labels."""
    x, y = load_sample()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))[:count] if count <= len(x) else np.arange(count) % len(x)
    return [to_png(draw_on_canvas(x[i], rng)) for i in order], y[order]
