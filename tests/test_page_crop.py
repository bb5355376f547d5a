"""The page sends its drawing cropped to the ink (web/js/client.js), and the answer is the same.

Drawings are painted by the page's own paint() in Chromium, cropped by cropToInk and encoded
with pngBlob, exactly as readDigit() does, and encoded whole; both PNGs go to the real app.
"""

import base64
import io
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page

from bench.page_canvases import page_strokes
from recognizer.preprocess import canvas_to_input, decode_image
from tests.browser_helpers import web_modules_page

PAINT_AND_CROP = """
async ([drawings, side]) => {
  const { paint, pngBlob } = await import("/js/pad.js");
  const { cropToInk } = await import("/js/client.js");
  const encode = async (blob) => {
    let text = "";
    for (const b of new Uint8Array(await blob.arrayBuffer())) text += String.fromCharCode(b);
    return btoa(text);
  };
  const pairs = [];
  for (const strokes of drawings) {
    const canvas = document.createElement("canvas");
    canvas.width = side;
    canvas.height = side;
    paint(canvas.getContext("2d"), side, strokes);
    const crop = cropToInk(canvas);
    pairs.push([await encode(await pngBlob(canvas)), await encode(await pngBlob(crop))]);
  }
  return pairs;
}
"""


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with web_modules_page() as page:
        yield page


def whole_and_cropped(page: Page, drawings: list, side: int = 280) -> list[tuple[bytes, bytes]]:
    pairs = page.evaluate(PAINT_AND_CROP, [drawings, side])
    return [(base64.b64decode(a), base64.b64decode(b)) for a, b in pairs]


def size(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


def test_cropped_drawings_get_the_same_answer(page, client):
    strokes, _ = page_strokes(seed=5)
    pairs = whole_and_cropped(page, strokes[::3])
    cropped = 0
    for whole, crop in pairs:
        if size(crop) != size(whole):
            cropped += 1
        inputs = [canvas_to_input(decode_image(png, 10**7)) for png in (whole, crop)]
        np.testing.assert_array_equal(inputs[0], inputs[1])
        answers = [
            client.post(
                "/predict?include_input=true", content=png, headers={"Content-Type": "image/png"}
            ).json()
            for png in (whole, crop)
        ]
        assert answers[0] == answers[1]
    assert cropped >= len(pairs) // 2, "most drawings leave paper around them"
    pixels = [size(c)[0] * size(c)[1] for _, c in pairs]
    assert np.mean(pixels) < 0.6 * 280 * 280


def test_ink_near_an_edge_and_blank_canvases_are_sent_whole(page):
    edge = [[[0.005, 0.5], [0.5, 0.5]]]  # a stroke that reaches the left edge
    blank: list = []
    for whole, crop in whole_and_cropped(page, [edge, blank]):
        assert crop == whole
