"""One preprocessing, two runtimes: web/js/preprocess.js in Chromium, recognizer/preprocess.py.

The page recognizes drawings on the device when the server cannot be reached, with the
same model; that is only the same recognizer if the model sees the same 28x28 input. The
canvases are MNIST test digits drawn by training's canvas renderer, the stroke-drawn style
suite, the page's own Chromium PNGs, and a few that take the rarer paths (light ink on
dark paper, transparency, pictures large enough to be box-reduced).
"""

import base64
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image
from playwright.sync_api import Page

from recognizer import answers, contract, preprocess
from tests.browser_helpers import web_modules_page
from tests.mnist_data import mnist_path
from training import strokes
from training.canvas import CANVAS_SIZE, draw_on_canvas

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web"
MNIST_CANVASES = 2_500
STYLE_ROUNDS = 12  # drawings of every style of every digit
SEED = 20261125

MAX_PIXEL_DIFFERENCE = 1e-6
"""Largest difference allowed between the two inputs, pixel by pixel, on a 0-1 scale: one
float32 rounding step. Measured: 4.1e-35 (99.8 % of the inputs bit-identical) against the
matrix-product Lanczos of recognizer/preprocess.py; 2.4e-7 against Pillow's own resize."""

MIN_ARGMAX_AGREEMENT = 0.999


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with web_modules_page() as page:
        page.evaluate("async () => { window.pre = await import('/js/preprocess.js'); }")
        yield page


_RUN_BATCH = """
([canvases]) => {
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return canvases.map(([width, height, channels, b64]) => {
    const source = bytes(b64);
    let data = source;
    if (channels === 1) {
      data = new Uint8ClampedArray(width * height * 4);
      for (let i = 0; i < source.length; i += 1) {
        data[4 * i] = data[4 * i + 1] = data[4 * i + 2] = source[i];
        data[4 * i + 3] = 255;
      }
    }
    const out = window.pre.canvasToInput({ width, height, data });
    if (out === null) return null;
    let text = "";
    for (const b of new Uint8Array(out.buffer)) text += String.fromCharCode(b);
    return btoa(text);
  });
}
"""


def js_inputs(page: Page, images: list[Image.Image], batch: int = 40) -> list[np.ndarray | None]:
    """preprocess.js on each picture's pixels (grey or RGBA), in Chromium."""
    results: list[np.ndarray | None] = []
    for start in range(0, len(images), batch):
        payload = []
        for image in images[start : start + batch]:
            pixels = np.asarray(image)
            channels = 1 if image.mode == "L" else 4
            payload.append([image.width, image.height, channels, base64.b64encode(pixels).decode()])
        for out in page.evaluate(_RUN_BATCH, [payload]):
            results.append(
                None
                if out is None
                else np.frombuffer(base64.b64decode(out), dtype="<f4").reshape(28, 28)
            )
    return results


def parity_canvases() -> tuple[list[Image.Image], list[str]]:
    """Every canvas the test compares on, with what kind it is."""
    rng = np.random.default_rng(SEED)
    with np.load(mnist_path()) as data:
        digits = data["x_test"][rng.choice(len(data["x_test"]), MNIST_CANVASES, replace=False)]
    images = [draw_on_canvas(digit, rng) for digit in digits]
    kinds = ["mnist"] * len(images)
    for _ in range(STYLE_ROUNDS):
        for label, styles in strokes.TEMPLATES.items():
            for style in styles:
                images.append(strokes.draw_digit(label, style, rng, canvas_size=CANVAS_SIZE))
                kinds.append("style")
    with np.load(REPO / "tests" / "fixtures" / "page_canvases.npz") as page:
        starts = np.concatenate([[0], page["png_ends"][:-1]])
        for start, end in zip(starts, page["png_ends"], strict=True):
            png = page["png_bytes"][start:end].tobytes()
            images.append(Image.open(io.BytesIO(png)).convert("RGBA"))
            kinds.append("page")
    for image in images[:40]:
        ink = 255 - np.asarray(image.convert("L"))
        images.append(Image.fromarray(ink))  # light ink on dark paper
        kinds.append("light-ink")
        rgba = np.zeros((*ink.shape, 4), np.uint8)
        rgba[..., 3] = ink  # black ink on a transparent canvas
        images.append(Image.fromarray(rgba, "RGBA"))
        kinds.append("transparent")
    for image in images[:20]:
        big = image.convert("L").resize((1130, 1130), Image.Resampling.BILINEAR)
        images.append(big)  # a high-DPI picture: box-reduced by 2 first
        kinds.append("large")
    images.append(Image.new("L", (CANVAS_SIZE, CANVAS_SIZE), 255))
    kinds.append("blank")
    return images, kinds


def argmax(session: ort.InferenceSession, inputs: np.ndarray) -> np.ndarray:
    (probabilities,) = session.run(None, {contract.INPUT_NAME: inputs[..., None]})
    return probabilities.argmax(axis=1)


def test_js_preprocessing_gives_the_python_input(page: Page) -> None:
    images, kinds = parity_canvases()
    python = [preprocess.canvas_to_input(image) for image in images]
    js = js_inputs(page, images)

    blank_python = [i for i, x in enumerate(python) if x is None]
    blank_js = [i for i, x in enumerate(js) if x is None]
    assert blank_python == blank_js == [len(images) - 1]

    both = [i for i, x in enumerate(python) if x is not None]
    a = np.stack([python[i] for i in both])
    b = np.stack([js[i] for i in both])
    difference = np.abs(a - b).max(axis=(1, 2))
    worst = int(difference.argmax())
    print(f"\n{len(both)} canvases; max pixel difference {difference.max():.3g}")
    for kind in sorted(set(kinds) - {"blank"}):
        picked = [k for k, i in enumerate(both) if kinds[i] == kind]
        print(f"  {kind}: {len(picked)} canvases, max difference {difference[picked].max():.3g}")

    session = ort.InferenceSession(str(REPO / "artifacts" / contract.MODEL_FILE))
    agreement = float((argmax(session, a) == argmax(session, b)).mean())
    identical = float((difference == 0).mean())
    print(f"argmax agreement {agreement:.4%}; {identical:.1%} of the inputs bit-identical")
    assert len(both) >= 3_000
    assert agreement >= MIN_ARGMAX_AGREEMENT
    assert difference.max() <= MAX_PIXEL_DIFFERENCE, (
        f"canvas {both[worst]} ({kinds[both[worst]]}) differs by {difference.max()}"
    )


# --- Number mode on the device: the page's own parts ---

NUMBERS = 400
"""Stroke-drawn numbers of 2-6 digits; each gives one part per group of strokes."""

NUMBER_WIDTH = 3.0
"""The wide pad's width in pad heights (web/js/numbers.js NUMBER_ASPECT)."""

INK = 1 / 13
"""The pen's width in pad heights (web/js/pad.js INK_WIDTH)."""

GAPS = {"apart": (INK + 0.02, INK + 0.3), "close": (-0.12, INK)}
"""Gaps between neighbouring digits' centre lines, in pad heights: inks apart (by 0.02 to
0.3), or touching and overlapping."""


def number_drawing(
    rng: np.random.Generator, kind: str
) -> tuple[list[list[list[float]]], list[int], str]:
    """A number written with the training generator's pen strokes across the wide pad:
    strokes in pad units (height 1), the digit each stroke belongs to, and the number."""
    labels = rng.integers(0, 10, rng.integers(2, 7))
    glyphs = []
    for label in labels:
        styles = list(strokes.TEMPLATES[int(label)].values())
        glyph = strokes.writer_glyph(styles[rng.integers(len(styles))], rng)
        points = np.concatenate(glyph)
        low, high = points.min(axis=0), points.max(axis=0)
        glyphs.append(([(s - low) / max(high[1] - low[1], 1e-6) for s in glyph], high - low))
    gaps = rng.uniform(*GAPS[kind], len(glyphs) - 1)
    widths = sum(size[0] / size[1] for _, size in glyphs)
    # Digits 0.5-0.85 of the pad high, smaller when a long number would not fit.
    height = min(rng.uniform(0.5, 0.85), (NUMBER_WIDTH - 0.3 - gaps.sum()) / widths)
    x = (NUMBER_WIDTH - widths * height - gaps.sum()) / 2
    top = 0.5 - height / 2 + rng.uniform(-0.05, 0.05)
    drawn, owner = [], []
    for k, (glyph, size) in enumerate(glyphs):
        for stroke in glyph:
            drawn.append((stroke * height + [x, top]).round(5).tolist())
            owner.append(k)
        x += size[0] / size[1] * height + (gaps[k] if k < len(gaps) else 0)
    return drawn, owner, "".join(str(int(d)) for d in labels)


_NUMBER_PARTS = """
async ([drawings]) => {
  const numbers = await import("/js/numbers.js");
  const { canvasPixels } = await import("/js/pad.js");
  const floats = (input) => {
    let text = "";
    for (const b of new Uint8Array(input.buffer)) text += String.fromCharCode(b);
    return btoa(text);
  };
  return drawings.map((drawn) => {
    const extents = numbers.strokeExtents(drawn);
    const groups = numbers.deviceGroups(extents);
    const parts = numbers.groupCanvases(drawn, extents, groups).map(({ canvas, box }) => {
      const input = window.pre.canvasToInput(canvasPixels(canvas));
      return {
        png: canvas.toDataURL("image/png").split(",")[1],
        input: input === null ? null : floats(input),
        wide: numbers.isWide(box),
      };
    });
    return { groups, parts };
  });
}
"""


@dataclass
class NumberPart:
    """One group of strokes as the page cuts a number without the server."""

    digits: set[int]
    """Which of the number's digits its strokes belong to."""
    python: np.ndarray | None
    js: np.ndarray | None
    wide: bool
    """The page takes it for digits that touch (web/js/numbers.js isWide)."""


@pytest.fixture(scope="module")
def numbers(page: Page) -> list[tuple[str, str, list[NumberPart]]]:
    """Each number's kind of gaps, its digits, and its parts, preprocessed both ways."""
    rng = np.random.default_rng(SEED + 1)
    kinds = ["apart", "close"] * (NUMBERS // 2)
    drawings = [number_drawing(rng, kind) for kind in kinds]
    results = []
    for start in range(0, NUMBERS, 25):
        batch = [drawn for drawn, _, _ in drawings[start : start + 25]]
        results.extend(page.evaluate(_NUMBER_PARTS, [batch]))
    out = []
    for kind, (_, owner, number), result in zip(kinds, drawings, results, strict=True):
        parts = []
        for group, part in zip(result["groups"], result["parts"], strict=True):
            picture = preprocess.decode_image(base64.b64decode(part["png"]), 4_000_000)
            js = None
            if part["input"] is not None:
                js = np.frombuffer(base64.b64decode(part["input"]), "<f4").reshape(28, 28)
            python = preprocess.canvas_to_input(picture)
            parts.append(NumberPart({owner[i] for i in group}, python, js, part["wide"]))
        out.append((kind, number, parts))
    return out


def test_number_parts_on_the_device_get_the_python_input(numbers) -> None:
    """Offline number mode splits by strokes and preprocesses each part in the page; the
    server, given the same parts as PNGs (the page's batch request), must see the same."""
    parts = [part for _, _, parts in numbers for part in parts]
    assert [p.python is None for p in parts] == [p.js is None for p in parts]
    a = np.stack([p.python for p in parts if p.python is not None])
    b = np.stack([p.js for p in parts if p.js is not None])
    difference = np.abs(a - b).max(axis=(1, 2))
    session = ort.InferenceSession(str(REPO / "artifacts" / contract.MODEL_FILE))
    agreement = float((argmax(session, a) == argmax(session, b)).mean())
    print(
        f"\n{len(numbers)} numbers, {len(a)} parts; max pixel difference {difference.max():.3g}, "
        f"{(difference == 0).mean():.1%} bit-identical; argmax agreement {agreement:.4%}"
    )
    assert len(a) >= 900
    assert agreement >= MIN_ARGMAX_AGREEMENT
    assert difference.max() <= MAX_PIXEL_DIFFERENCE


def test_number_offline_claims_few_wrong_numbers(numbers) -> None:
    """What offline number mode reads (the JS inputs through the committed model and the
    server's own rejection rule, which offline.js applies): digits with a gap are read; digits
    that touch stay one part, and that part must rarely pass for a single digit."""
    session = ort.InferenceSession(str(REPO / "artifacts" / contract.MODEL_FILE))
    tally = {kind: dict.fromkeys(["numbers", "split", "exact", "wrong"], 0) for kind in GAPS}
    singles = merged = singles_wide = merged_claimed = 0
    for kind, number, parts in numbers:
        read = []
        for part in parts:
            (probabilities,) = session.run(None, {contract.INPUT_NAME: part.js[None, ..., None]})
            digit = answers.answer(part.js, probabilities[0], "test").digit
            read.append(None if part.wide else digit)
            one = len(part.digits) == 1
            singles, merged = singles + one, merged + (not one)
            singles_wide += one and part.wide
            merged_claimed += not one and read[-1] is not None
        claimed = None if None in read else "".join(str(d) for d in read)
        row = tally[kind]
        row["numbers"] += 1
        row["split"] += [sorted(p.digits) for p in parts] == [[k] for k in range(len(number))]
        row["exact"] += claimed == number
        row["wrong"] += claimed is not None and claimed != number
    print(f"\n{tally}")
    print(
        f"single digits taken for touching ones: {singles_wide}/{singles}; "
        f"touching digits read as one: {merged_claimed}/{merged}"
    )
    assert tally["apart"]["split"] == tally["apart"]["numbers"]
    assert tally["apart"]["exact"] >= 0.95 * tally["apart"]["numbers"]
    assert singles_wide <= 0.01 * singles
    assert merged_claimed <= 0.05 * merged
