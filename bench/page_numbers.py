"""Six-digit numbers exactly as the page sends them in number mode.

`python -m bench.page_numbers` writes tests/fixtures/page_numbers.npz. Each number is six
pen-stroke digits (training's stroke templates, one writer's rendition each) written left
to right on the number pad with a small gap between them, a wandering baseline and
varying sizes, as a person writes a postcode. Chromium paints them with the page's own
drawingBlob() (web/js/pad.js: the 840x280 PNG that number mode posts, Chromium's encoder
and anti-aliasing) and computes the page's stroke hint (web/js/numbers.js). `make bench`
times number mode on them: a canvas made and encoded by Pillow instead costs the server
three times as long to decode (Pillow's adaptive filters against Chromium's), which is no
request the page ever sends.

Run it again only on purpose: the committed file is what docs/benchmarks.md's number-mode figures
were measured on.
"""

import base64
import json
from pathlib import Path

import numpy as np

from bench.page_canvases import page_in_chromium

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "page_numbers.npz"
COUNT = 12
DIGITS = 6
SEED = 26

ASPECT_SCRIPT = 'async () => (await import("./js/numbers.js")).NUMBER_ASPECT'

PAINT_SCRIPT = """
async ([numbers, aspect]) => {
  const { drawingBlob } = await import("./js/pad.js");
  const { strokeExtents, strokeHint } = await import("./js/numbers.js");
  const out = [];
  for (const strokes of numbers) {
    const bytes = new Uint8Array(await (await drawingBlob(strokes, aspect)).arrayBuffer());
    let text = "";
    for (const b of bytes) text += String.fromCharCode(b);
    out.push([btoa(text), JSON.stringify(strokeHint(strokeExtents(strokes)))]);
  }
  return out;
}
"""


def number_strokes(rng: np.random.Generator, aspect: float) -> tuple[list[list], str]:
    """One number's strokes in pad units (y in 0..1, x in 0..aspect), and its digits."""
    from training.strokes import TEMPLATES, writer_glyph

    while True:
        labels = rng.integers(0, 10, DIGITS)
        size = rng.uniform(0.38, 0.5)
        strokes, x, width = [], 0.0, 0.0
        for label in labels:
            styles = list(TEMPLATES[int(label)].values())
            glyph = writer_glyph(styles[rng.integers(len(styles))], rng)
            points = np.concatenate(glyph)
            low, high = points.min(axis=0), points.max(axis=0)
            height = size * rng.uniform(0.9, 1.1)
            scale = height / max(high[1] - low[1], 1e-6)
            top = 0.5 - height / 2 + rng.uniform(-0.06, 0.06)
            offset = np.array([x, top]) - low * scale
            strokes += [(stroke * scale + offset).tolist() for stroke in glyph]
            width = x + (high[0] - low[0]) * scale
            x = width + rng.uniform(0.14, 0.24)  # the ink is 0.077 wide: gaps of 0.06-0.16
        if width < aspect - 0.4:  # fits, with a margin: centre it
            shift = (aspect - width) / 2
            return [[[px + shift, py] for px, py in s] for s in strokes], "".join(map(str, labels))


def load(path: Path = FIXTURE) -> list[dict]:
    """The fixture's numbers: each with `png` (bytes), `digits` (str) and `hint` (the page's
    stroke hint, a list of [x0, x1])."""
    with np.load(path) as data:
        blob, ends = data["png_bytes"].tobytes(), data["png_ends"]
        starts = np.concatenate(([0], ends[:-1]))
        return [
            {"png": blob[s:e], "digits": str(digits), "hint": json.loads(str(hint))}
            for s, e, digits, hint in zip(starts, ends, data["digits"], data["hints"], strict=True)
        ]


def page_body(number: dict) -> dict:
    """The JSON the page posts for a number (web/js/client.js predict with number fields)."""
    image = "data:image/png;base64," + base64.b64encode(number["png"]).decode()
    return {"image": image, "include_input": True, "mode": "number", "strokes": number["hint"]}


def main() -> None:
    rng = np.random.default_rng(SEED)
    with page_in_chromium() as page:
        aspect = page.evaluate(ASPECT_SCRIPT)
        numbers = [number_strokes(rng, aspect) for _ in range(COUNT)]
        painted = page.evaluate(PAINT_SCRIPT, [[strokes for strokes, _ in numbers], aspect])
    pngs = [base64.b64decode(png) for png, _ in painted]
    np.savez_compressed(
        FIXTURE,
        png_bytes=np.frombuffer(b"".join(pngs), dtype=np.uint8),
        png_ends=np.cumsum([len(p) for p in pngs]),
        digits=np.array([digits for _, digits in numbers]),
        hints=np.array([hint for _, hint in painted]),
    )
    print(f"{len(pngs)} numbers, {FIXTURE.stat().st_size:,} bytes -> {FIXTURE}")


if __name__ == "__main__":
    main()
