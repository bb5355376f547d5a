"""Canvases exactly as the page sends them, and the 28x28 inputs they must give.

`python -m bench.page_canvases` writes tests/fixtures/page_canvases.npz. It paints pen
strokes with the page's own `paint()` (web/js/pad.js) in Debian's Chromium and keeps the
PNG bytes that `canvas.toBlob("image/png")` produced: Chromium's encoder, filters and
anti-aliasing, not Pillow's. It adds real MNIST digits drawn on the 280x280 canvas (the
model card's canvas figure) and a few 560x560 (high-DPI) paintings. Next to each PNG it
stores the 28x28 array that `canvas_to_input` gave when the file was made, so a faster
preprocessing can be checked against the one the model was trained and evaluated with.

Run it again only on purpose (a deliberate change of the preprocessing): the arrays are
the reference, and the tests compare today's code with them. The committed file was made
at commit a725491 (training's glyphs were drawn by `random_glyph` then, `writer_glyph`
now), so a new run draws other, equally valid, canvases.
"""

import base64
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from playwright.sync_api import Page

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "page_canvases.npz"

PAINT_SCRIPT = """
async ([drawings, side]) => {
  const { paint } = await import("./js/pad.js");
  const pngs = [];
  for (const strokes of drawings) {
    const canvas = document.createElement("canvas");
    canvas.width = side;
    canvas.height = side;
    paint(canvas.getContext("2d"), side, strokes);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let text = "";
    for (const b of bytes) text += String.fromCharCode(b);
    pngs.push(btoa(text));
  }
  return pngs;
}
"""


def load(path: Path = FIXTURE) -> dict:
    """The fixture: `pngs` (list of bytes), `expected` (N, 28, 28) float32, `labels`, `kinds`."""
    with np.load(path) as data:
        blob, ends = data["png_bytes"].tobytes(), data["png_ends"]
        starts = np.concatenate(([0], ends[:-1]))
        return {
            "pngs": [blob[s:e] for s, e in zip(starts, ends, strict=True)],
            "expected": data["expected"],
            "labels": data["labels"],
            "kinds": [str(k) for k in data["kinds"]],
        }


def page_strokes(seed: int) -> tuple[list[list], list[int]]:
    """Stroke drawings in pad units (0..1): the hand-made drawings and random glyphs."""
    from training.canvas import smooth
    from training.strokes import TEMPLATES, place_on_canvas, writer_glyph

    drawings_file = Path(__file__).resolve().parent.parent / "training" / "drawings.json"
    drawings = json.loads(drawings_file.read_text())["drawings"]
    strokes = [
        [(smooth(np.array(s, dtype=float)) / 280).tolist() for s in d["strokes"]] for d in drawings
    ]
    labels = [d["label"] for d in drawings]
    rng = np.random.default_rng(seed)
    for label, styles in TEMPLATES.items():
        for i in range(10):
            template = list(styles.values())[i % len(styles)]
            height = rng.uniform(0.35, 0.85)
            glyph = place_on_canvas(writer_glyph(template, rng), 1, height, rng)
            strokes.append([np.clip(s, 0.02, 0.98).tolist() for s in glyph])
            labels.append(label)
    return strokes, labels


@contextmanager
def page_in_chromium() -> Iterator["Page"]:
    """The page, served by the real server and open in Debian's Chromium, for scripts that
    run the page's own modules."""
    from playwright.sync_api import sync_playwright

    from bench.server import free_port, start_server, stop_server, wait_ready
    from tests.browser_helpers import CHROMIUM, CHROMIUM_ARGS

    port = free_port()
    server = start_server(port, LOG_LEVEL="warning")
    try:
        wait_ready(server, port)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            yield page
            browser.close()
    finally:
        stop_server(server)


def paint_in_chromium(strokes: list[list], side: int) -> list[bytes]:
    """The PNGs the page's paint() and toBlob give in Chromium for these drawings."""
    with page_in_chromium() as page:
        encoded = page.evaluate(PAINT_SCRIPT, [strokes, side])
    return [base64.b64decode(e) for e in encoded]


def main() -> None:
    from bench.digits import canvas_pngs
    from recognizer.preprocess import canvas_to_input, decode_image

    strokes, stroke_labels = page_strokes(seed=14)
    pngs = paint_in_chromium(strokes, 280)
    kinds = ["pen-280"] * len(pngs)
    labels = list(stroke_labels)
    pngs += paint_in_chromium(strokes[::13], 560)
    kinds += ["pen-560"] * len(strokes[::13])
    labels += stroke_labels[::13]
    mnist, mnist_labels = canvas_pngs(120, seed=1414)
    for png in mnist:  # stored as greyscale PNGs: the same pixels, a third of the bytes
        buffer = io.BytesIO()
        Image.open(io.BytesIO(png)).convert("L").save(buffer, format="PNG", optimize=True)
        pngs.append(buffer.getvalue())
    kinds += ["mnist-280"] * len(mnist)
    labels += [int(v) for v in mnist_labels]
    expected = np.stack([canvas_to_input(decode_image(p, 10_000_000)) for p in pngs]).astype(
        np.float32
    )
    np.savez_compressed(
        FIXTURE,
        png_bytes=np.frombuffer(b"".join(pngs), dtype=np.uint8),
        png_ends=np.cumsum([len(p) for p in pngs]),
        expected=expected,
        labels=np.array(labels, dtype=np.uint8),
        kinds=np.array(kinds),
    )
    print(f"{len(pngs)} canvases, {FIXTURE.stat().st_size:,} bytes -> {FIXTURE}")


if __name__ == "__main__":
    main()
