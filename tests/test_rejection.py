"""Honest answers: drawings that are not one digit get "digit": null with a reason, and
real digits in any school style are still read (issue 10)."""

import io

import numpy as np
import pytest
from PIL import Image

from recognizer.answers import BLOB_DIGIT_CONFIDENCE, MESSAGES, is_blob, judge
from recognizer.contract import CLASS_NAMES, NOT_A_DIGIT, OUTPUT_CLASSES
from tests.conftest import b64
from training import suites


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def drawings(make, count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [b64(png(suites.render(make(rng), rng))) for _ in range(count)]


def answers_for(client, images: list[str], batch: int = 40) -> list[dict]:
    """Answers in batches that stay under the default MAX_BODY_BYTES."""
    answers = []
    for start in range(0, len(images), batch):
        response = client.post("/predict", json={"images": images[start : start + batch]})
        assert response.status_code == 200, response.text
        answers += response.json()["predictions"]
    return answers


def test_a_dot_is_not_a_digit(client):
    answer = client.post("/predict", json={"image": b64(png(suites.dot(np.random.default_rng(3))))})
    body = answer.json()
    assert body["digit"] is None and body["blank"] is False
    assert body["reason"] == "not_a_digit" and body["message"] == MESSAGES["not_a_digit"]
    assert set(body["probabilities"]) == set(CLASS_NAMES)


def test_a_blob_is_refused_unless_the_model_reads_it_as_a_digit():
    """A filled disc is a blob; it is refused when no digit reaches BLOB_DIGIT_CONFIDENCE,
    and read when one does (an 8 written with a marker so thick its loops fill in)."""
    rows, cols = np.mgrid[:28, :28]
    disc = (((rows - 14) ** 2 + (cols - 14) ** 2) <= 100).astype(np.float32)
    assert is_blob(disc)
    unsure = np.full(OUTPUT_CLASSES, 0.05, dtype=np.float32)
    unsure[8], unsure[NOT_A_DIGIT] = BLOB_DIGIT_CONFIDENCE - 0.01, 0.06
    sure = unsure.copy()
    sure[8] = BLOB_DIGIT_CONFIDENCE
    assert judge(disc, unsure) == "not_a_digit"
    assert judge(disc, sure) is None
    stroke = np.zeros((28, 28), dtype=np.float32)
    stroke[4:24, 13:16] = 1.0  # a 1: thin, so never a blob
    assert judge(stroke, unsure) is None


@pytest.mark.parametrize("kind", ["letter A", "letter H", "letter M", "smiley", "filled square"])
def test_letters_and_shapes_are_refused(client, kind):
    """The issue's examples: A, H and M read as 4, a filled square and a smiley as 0."""
    answers = answers_for(client, drawings(suites.NONDIGITS[kind], 30, seed=11))
    refused = [a for a in answers if a["digit"] is None]
    assert len(refused) >= 24, [a["digit"] for a in answers]
    assert all(a["reason"] == "not_a_digit" for a in refused)


def test_real_canvas_digits_are_not_refused(client, canvases):
    """Issue 10's budget is 0.5 % of real digits, held on the 10,000 canvas-drawn MNIST test
    digits by the model card (test_artifacts); 300 canvases through the API must stay within
    1 % (a sample of 300 at 0.5 % refuses 1.5 on average)."""
    pngs, _ = canvases
    answers = answers_for(client, [b64(p) for p in pngs])
    refused = sum(a["digit"] is None for a in answers)
    assert refused <= 3, f"{refused} of {len(pngs)} real MNIST digits were refused"


@pytest.mark.parametrize("style", sorted(suites.STYLES))
def test_every_school_style_is_read(client, style):
    label, make = suites.STYLES[style]
    answers = answers_for(client, drawings(make, 20, seed=23))
    right = sum(a["digit"] == label for a in answers)
    assert right >= 18, f"{style}: {[a['digit'] for a in answers]}"


def side_by_side(count: int, rng: np.random.Generator) -> Image.Image:
    """`count` suite digits written in a row with a clear gap, as on a form's boxes."""
    styles = list(suites.STYLES.values())
    inks = []
    for _ in range(count):
        _, make = styles[rng.integers(len(styles))]
        digit = suites.render(make(rng), rng)
        inks.append(digit.crop(Image.eval(digit, lambda v: 255 - v).getbbox()))
    height = max(ink.height for ink in inks)
    gap = int(rng.integers(25, 60))
    row = Image.new("L", (sum(ink.width for ink in inks) + gap * (count + 1), height + 40), 255)
    x = gap
    for ink in inks:
        row.paste(ink, (x, 20))
        x += ink.width + gap
    return row


@pytest.mark.parametrize("count", [2, 3])
def test_digits_side_by_side_are_several_digits(client, count):
    """In digit mode, a row of digits is refused with the reason that tells the user what to do."""
    rng = np.random.default_rng(31)
    images = [b64(png(side_by_side(count, rng))) for _ in range(20)]
    answers = answers_for(client, images)
    several = [a for a in answers if a.get("reason") == "several_digits"]
    assert len(several) >= 18, [a.get("reason", a["digit"]) for a in answers]
    assert all(a["message"] == MESSAGES["several_digits"] for a in several)
