"""Drawings that are not one digit, for the model's eleventh class: the training generator.

Users draw letters, shapes, smileys, scribbles and dots, and often several digits at
once; a ten-way softmax must call each of them some digit, usually confidently. These
give the network examples of "none of the ten". Letters that are digits in another
hand (O, I, l, S, Z, B, G, q, b) are left out on purpose: refusing a real 0 or 1 is
worse than reading an O as 0. The evaluation suite in training/suites.py draws its own
non-digits from other templates and random streams.
"""

import numpy as np
from PIL import Image

from recognizer.preprocess import canvas_to_input
from training.canvas import render_strokes
from training.strokes import TEMPLATES, Glyph, arc, draw_glyph, line

LETTERS: dict[str, Glyph] = {
    "A": [line((0.1, 0.97), (0.5, 0.03), (0.9, 0.97)), line((0.28, 0.6), (0.72, 0.6))],
    "H": [
        line((0.15, 0.03), (0.15, 0.97)),
        line((0.85, 0.03), (0.85, 0.97)),
        line((0.15, 0.5), (0.85, 0.5)),
    ],
    "M": [line((0.08, 0.97), (0.15, 0.03), (0.5, 0.65), (0.85, 0.03), (0.92, 0.97))],
    "N": [line((0.15, 0.97), (0.15, 0.03), (0.85, 0.97), (0.85, 0.03))],
    "K": [line((0.2, 0.03), (0.2, 0.97)), line((0.85, 0.03), (0.22, 0.55), (0.88, 0.97))],
    "X": [line((0.1, 0.03), (0.9, 0.97)), line((0.9, 0.03), (0.1, 0.97))],
    "E": [
        line((0.85, 0.03), (0.15, 0.03), (0.15, 0.97), (0.85, 0.97)),
        line((0.15, 0.5), (0.7, 0.5)),
    ],
    "F": [line((0.85, 0.03), (0.15, 0.03), (0.15, 0.97)), line((0.15, 0.48), (0.7, 0.48))],
    "W": [line((0.03, 0.03), (0.25, 0.97), (0.5, 0.35), (0.75, 0.97), (0.97, 0.03))],
    "R": [
        line((0.15, 0.97), (0.15, 0.03)),
        arc(0.45, 0.28, 0.35, 0.25, -90, 90),
        line((0.45, 0.53), (0.85, 0.97)),
    ],
    "V": [line((0.1, 0.03), (0.5, 0.97), (0.9, 0.03))],
    "Y": [line((0.1, 0.03), (0.5, 0.5), (0.9, 0.03)), line((0.5, 0.5), (0.5, 0.97))],
    "T": [line((0.05, 0.05), (0.95, 0.05)), line((0.5, 0.05), (0.5, 0.97))],
    "h": [line((0.2, 0.03), (0.2, 0.97)), line((0.2, 0.6), (0.5, 0.42), (0.78, 0.55), (0.8, 0.97))],
    "m": [
        line((0.05, 0.97), (0.05, 0.35), (0.3, 0.3), (0.5, 0.45), (0.5, 0.97)),
        line((0.5, 0.45), (0.75, 0.3), (0.95, 0.45), (0.95, 0.97)),
    ],
    "w": [line((0.03, 0.2), (0.25, 0.9), (0.5, 0.4), (0.75, 0.9), (0.97, 0.2))],
    "e": [
        np.concatenate(
            [line((0.15, 0.55), (0.85, 0.55)), arc(0.5, 0.55, 0.35, 0.4, 0, -300)[::-1][::-1]]
        )
    ],
    "k": [line((0.2, 0.03), (0.2, 0.97)), line((0.75, 0.4), (0.22, 0.7), (0.8, 0.97))],
}

SHAPES: dict[str, Glyph] = {
    "triangle": [line((0.5, 0.03), (0.95, 0.95), (0.05, 0.95), (0.5, 0.03))],
    "star": [line((0.5, 0.0), (0.2, 0.95), (0.95, 0.35), (0.05, 0.35), (0.8, 0.95), (0.5, 0.0))],
    "plus": [line((0.5, 0.05), (0.5, 0.95)), line((0.05, 0.5), (0.95, 0.5))],
    "hash": [
        line((0.35, 0.05), (0.3, 0.95)),
        line((0.7, 0.05), (0.65, 0.95)),
        line((0.05, 0.33), (0.95, 0.33)),
        line((0.05, 0.67), (0.95, 0.67)),
    ],
    "arrow": [line((0.05, 0.5), (0.95, 0.5)), line((0.65, 0.2), (0.95, 0.5), (0.65, 0.8))],
    "heart": [
        np.concatenate(
            [
                arc(0.3, 0.3, 0.2, 0.2, 180, 360),
                arc(0.7, 0.3, 0.2, 0.2, 180, 360),
                line((0.9, 0.35), (0.5, 0.95), (0.1, 0.35)),
            ]
        )
    ],
    "smiley": [
        arc(0.5, 0.5, 0.45, 0.45, 0, 360),
        arc(0.35, 0.38, 0.03, 0.04, 0, 360),
        arc(0.65, 0.38, 0.03, 0.04, 0, 360),
        arc(0.5, 0.55, 0.22, 0.18, 20, 160),
    ],
    "spiral": [
        np.stack(
            [
                0.5 + np.linspace(0.02, 0.45, 60) * np.cos(t := np.linspace(0, 5 * np.pi, 60)),
                0.5 + np.linspace(0.02, 0.45, 60) * np.sin(t),
            ],
            axis=1,
        )
    ],
    "check": [line((0.05, 0.55), (0.35, 0.95), (0.95, 0.05))],
    "wave": [
        np.stack(
            [np.linspace(0.02, 0.98, 40), 0.5 + 0.25 * np.sin(np.linspace(0, 4 * np.pi, 40))],
            axis=1,
        )
    ],
    "box with cross": [
        line((0.05, 0.05), (0.95, 0.05), (0.95, 0.95), (0.05, 0.95), (0.05, 0.05)),
        line((0.05, 0.05), (0.95, 0.95)),
    ],
    "filled square": [
        line(
            *[
                (0.05, y) if i % 2 == 0 else (0.95, y)
                for i, y in enumerate(np.linspace(0.05, 0.95, 14))
            ]
        )
    ],
    "filled disc": [
        np.stack(
            [
                0.5
                + 0.45 * np.sin(t := np.linspace(0, 14 * np.pi, 120)) * np.linspace(1, 0.1, 120),
                0.5 + 0.45 * np.cos(t) * np.linspace(1, 0.1, 120),
            ],
            axis=1,
        )
    ],
}


def scribble(rng: np.random.Generator) -> Glyph:
    """A random pen walk: zig-zags, loops, tangles and hatching that no one would call a digit.

    Points thrown anywhere on the canvas make long sharp zig-zags; a walk of small steps
    makes the compact tangle of a hand doodling in one place. Half of either are smoothed
    into curves (corner cutting), because a hand scribbling fast rounds its turns, and
    curved walks look more like digits than sharp ones do.
    """
    count = int(rng.integers(6, 18))
    if rng.random() < 0.5:
        points = rng.uniform(0.0, 1.0, (count, 2))
    else:
        points = np.cumsum(rng.normal(0.0, 1.0, (count, 2)), axis=0)
        points = (points - points.min(axis=0)) / max(np.ptp(points, axis=0).max(), 1e-6)
    if rng.random() < 0.5:
        for _ in range(3):
            a, b = points[:-1], points[1:]
            cut = np.stack([0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b], axis=1).reshape(-1, 2)
            points = np.concatenate([points[:1], cut, points[-1:]])
    return [points]


def dot(rng: np.random.Generator, canvas_size: int) -> Image.Image:
    """A tap or a very short dash: the preprocessing would blow it up into a disc."""
    centre = rng.uniform(0.2, 0.8, 2) * canvas_size
    length = rng.uniform(0, 0.06) * canvas_size
    angle = rng.uniform(0, np.pi)
    end = centre + length * np.array([np.cos(angle), np.sin(angle)])
    return render_strokes(
        [np.stack([centre, end])], canvas_size, rng.uniform(0.04, 0.12) * canvas_size
    )


def several_digits(
    rng: np.random.Generator, mnist: np.ndarray | None, canvas_height: int = 140
) -> Image.Image:
    """Two or three digits side by side on one canvas, from MNIST or from the stroke styles."""
    count = int(rng.integers(2, 4))
    height = int(rng.uniform(0.5, 0.9) * canvas_height)
    canvas = Image.new("L", (canvas_height * count, canvas_height), 255)
    x = int(rng.integers(0, canvas_height // 4))
    for _ in range(count):
        if mnist is not None and rng.random() < 0.5:
            digit = mnist[rng.integers(len(mnist))]
            rows, cols = np.flatnonzero(digit.any(1)), np.flatnonzero(digit.any(0))
            crop = Image.fromarray(255 - digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
            crop = crop.resize((max(1, round(crop.width * height / crop.height)), height))
        else:
            label = int(rng.integers(10))
            template = list(TEMPLATES[label].values())[rng.integers(len(TEMPLATES[label]))]
            crop = draw_glyph(template, rng, height).crop((0, 0, height, height))
            bbox = Image.eval(crop, lambda v: 255 - v).getbbox() or (0, 0, height, height)
            crop = crop.crop(bbox)
        top = int(rng.integers(0, max(1, canvas_height - crop.height)))
        canvas.paste(crop, (x, top), Image.eval(crop, lambda v: 255 - v))
        x += crop.width + int(rng.integers(-2, canvas_height // 5))
    return canvas


def draw_nondigit(
    rng: np.random.Generator, mnist: np.ndarray | None, canvas_size: int = 140
) -> Image.Image:
    """One random non-digit drawing, kinds in the proportions users produce them."""
    kind = rng.choice(
        ["letter", "shape", "scribble", "dot", "several"], p=[0.3, 0.25, 0.12, 0.08, 0.25]
    )
    if kind == "dot":
        return dot(rng, canvas_size)
    if kind == "several":
        return several_digits(rng, mnist, canvas_size)
    if kind == "scribble":
        template = scribble(rng)
    else:
        pool = LETTERS if kind == "letter" else SHAPES
        template = list(pool.values())[rng.integers(len(pool))]
    return draw_glyph(template, rng, canvas_size)


def synthetic_nondigits(count: int, seed: int, mnist: np.ndarray | None = None) -> np.ndarray:
    """`count` non-digit drawings preprocessed as the server would: (N, 28, 28) float32."""
    rng = np.random.default_rng(seed)
    images = []
    while len(images) < count:
        image = canvas_to_input(draw_nondigit(rng, mnist))
        if image is not None:
            images.append(image)
    return np.stack(images)
