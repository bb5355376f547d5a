"""The one renderer of simulated canvases: pen strokes, or an MNIST digit, as the page sends them.

Training, evaluation, the benchmarks and the tests all draw with these functions, so a
digit "drawn on the canvas" means the same thing everywhere. It needs only numpy and
Pillow: nothing here loads TensorFlow.
"""

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from recognizer.preprocess import canvas_to_input

CANVAS_SIZE = 280
"""Side of the page's drawing pad in CSS pixels: what a browser sends at a device ratio of 1."""

CANVAS_SEED = 2024
"""The random stream of the model card's canvas-drawn MNIST test set."""

Stroke = np.ndarray  # (n, 2) points, x to the right and y down


def smooth(points: Stroke, samples_per_segment: int = 6) -> Stroke:
    """Catmull-Rom through the points: a hand moves in curves, not in polygons."""
    if len(points) < 3:
        return points
    padded = np.concatenate([points[:1], points, points[-1:]])
    p0, p1, p2, p3 = (padded[i : len(padded) - 3 + i, None, :] for i in range(4))
    t = np.linspace(0, 1, samples_per_segment, endpoint=False)[None, :, None]
    curve = 0.5 * (
        2 * p1
        + (p2 - p0) * t
        + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
        + (3 * p1 - p0 - 3 * p2 + p3) * t**3
    )
    return np.concatenate([curve.reshape(-1, 2), points[-1:]])


def render_strokes(
    strokes: Sequence[Stroke], size: int | tuple[int, int], width: float
) -> Image.Image:
    """Black round-capped strokes on a white canvas (square, or (width, height)), as the page
    draws them."""
    canvas = Image.new("L", (size, size) if isinstance(size, int) else size, 255)
    draw = ImageDraw.Draw(canvas)
    radius = width / 2
    for stroke in strokes:
        points = [tuple(p) for p in np.asarray(stroke, dtype=np.float64)]
        if len(points) > 1:
            draw.line(points, fill=0, width=max(1, round(width)), joint="curve")
        for x, y in (points[0], points[-1]):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=0)
    return canvas


def draw_on_canvas(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """An MNIST digit as a browser canvas would send it: scaled to a random size, drawn
    with a thinner or thicker pen, black on white at a random place on a 280x280 canvas."""
    rows = np.flatnonzero(digit.any(axis=1))
    cols = np.flatnonzero(digit.any(axis=0))
    ink = Image.fromarray(digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    height = int(rng.uniform(0.3, 0.9) * CANVAS_SIZE)
    scale = height / ink.height
    width = min(CANVAS_SIZE, max(1, round(ink.width * scale)))
    ink = np.asarray(ink.resize((width, height), Image.Resampling.BILINEAR))
    # Pen width: one MNIST pixel thicker, the same, or half a pixel thinner.
    pen = int(rng.integers(-1, 2))
    if pen:
        ink = change_pen(ink, size=2 * int(scale / (4 if pen < 0 else 2)) + 1, thicker=pen > 0)
    canvas = Image.new("L", (CANVAS_SIZE, CANVAS_SIZE), 255)
    left = int(rng.integers(0, CANVAS_SIZE - width + 1))
    top = int(rng.integers(0, CANVAS_SIZE - height + 1))
    canvas.paste(Image.fromarray(255 - ink), (left, top))
    return canvas


def change_pen(ink: np.ndarray, size: int, thicker: bool) -> np.ndarray:
    """Grey-level dilation or erosion with a size x size square, done separably (fast)."""
    reduce = np.maximum if thicker else np.minimum
    half, (height, width) = size // 2, ink.shape
    padded = np.pad(ink, half)
    rows = reduce.reduce([padded[i : i + height] for i in range(size)])
    return reduce.reduce([rows[:, j : j + width] for j in range(size)])


def canvas_inputs(images: np.ndarray, seed: int = CANVAS_SEED) -> np.ndarray:
    """MNIST digits each drawn on a canvas and put through the server's preprocessing."""
    rng = np.random.default_rng(seed)
    return np.stack([canvas_to_input(draw_on_canvas(digit, rng)) for digit in images])
