"""Number mode claims a number only when every part is a confident digit and the reading
explains all the ink; a drawing that is not a number says so, part by part."""

import io
from dataclasses import replace

import numpy as np
import pytest
from conftest import b64
from PIL import Image
from starlette.testclient import TestClient

from recognizer.answers import MESSAGES
from recognizer.lattice import lattice
from recognizer.numbers import number_layout
from serving.app import create_app
from training.canvas import render_strokes
from training.number_suites import DIGITS, LETTERS, PAD, PEN, SHAPES, Drawing, place

SEED = 5
"""The writer's random stream for these drawings (size, slant, gaps, a shaky hand)."""


def drawn(glyphs: list, seed: int = SEED) -> Drawing:
    return place(glyphs, np.random.default_rng(seed), "test", None)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def ask(client, drawing: Drawing, hint: bool) -> dict:
    """The answer to the drawing as the page posts it (with the stroke hint) or without it."""
    body: dict = {"image": b64(png(drawing.image)), "mode": "number"}
    if hint:
        body["strokes"] = [list(extent) for extent in drawing.strokes]
    response = client.post("/predict", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def flagged_one(degrees: float, lift: float | None) -> tuple[float, list[np.ndarray]]:
    """A continental 1 with a flag 0.3 of the stem long at `degrees`: in one stroke with the
    stem, or lifted off it (a second stroke that stops `lift` short of the stem's top)."""
    angle = np.radians(degrees)
    x, y = 0.3 * np.cos(angle), 0.3 * np.sin(angle)
    if lift is None:
        return x + 0.05, [np.array([[0.0, y], [x, 0.0], [x, 1.0]])]
    flag = np.array([[0.0, y], [x - lift, lift / 2]])
    return x + 0.05, [flag, np.array([[x, 0.0], [x, 1.0]])]


@pytest.mark.parametrize("hint", [True, False], ids=["with the hint", "the image alone"])
@pytest.mark.parametrize(
    "glyph", [LETTERS["A"], LETTERS["H"], SHAPES["checkmark"]], ids=["A", "H", "checkmark"]
)
def test_a_letter_or_a_shape_is_not_a_number(client, glyph, hint):
    """An A once read "14" at 0.99, an H "121", a checkmark "11": strips of them are sure 1s
    and 4s, but the reading that cuts them competes with "this piece is not a digit"."""
    answer = ask(client, drawn([glyph]), hint)
    assert answer["number"] is None
    assert answer["confidence"] == 0.0
    assert answer["reason"] == "not_a_number"
    assert answer["message"] == MESSAGES["not_a_number"]
    assert answer["digits"] and all(d["reason"] == "not_a_digit" for d in answer["digits"])


@pytest.mark.parametrize("hint", [True, False], ids=["with the hint", "the image alone"])
def test_a_letter_between_digits_is_named_as_the_part_to_redraw(client, hint):
    """ "8A1" once read "8141" at 0.96; now the 8 and the 1 are read and part 2 is not a digit."""
    answer = ask(client, drawn([DIGITS["8"], LETTERS["A"], DIGITS["1"]]), hint)
    assert answer["number"] is None
    assert answer["reason"] == "not_a_digit"
    assert answer["message"] == "Part 2 does not look like a digit; redraw it."
    assert [d["digit"] for d in answer["digits"]] == [8, None, 1]
    assert answer["digits"][1]["reason"] == "not_a_digit"


@pytest.mark.parametrize("hint", [True, False], ids=["with the hint", "the image alone"])
def test_a_long_line_is_one_part_and_not_a_number(client, hint):
    """A minus sign or an underline across the pad is one part, not "16 or more separate
    parts" (a 400 it once got): it is answered, and what it is not is said plainly."""
    stroke = np.array([[60.0, 140.0], [420.0, 143.0], [780.0, 138.0]])
    extent = (round(60 - PEN / 2), round(780 + PEN / 2))
    drawing = Drawing(render_strokes([stroke], PAD, PEN), [extent], None, "lines")
    answer = ask(client, drawing, hint)
    assert answer["number"] is None
    assert answer["reason"] == "not_a_number"
    assert len(answer["digits"]) == 1
    assert answer["digits"][0]["reason"] == "not_a_digit"


@pytest.mark.parametrize("hint", [True, False], ids=["with the hint", "the image alone"])
@pytest.mark.parametrize(
    ("degrees", "lift", "seed"),
    [(40, None, SEED), (40, 0.08, SEED), (20, 0.12, 2)],
    ids=["one stroke", "flag lifted", "flat flag lifted far"],
)
def test_a_flagged_one_between_digits_is_one_1(client, degrees, lift, seed, hint):
    """28611 once read 286711: a 1's flag is part of the 1, however it was drawn, and a flat
    flag on a straight stem is still a 1 (a 7 where 7s are crossed would carry its bar)."""
    glyphs = [DIGITS["2"], DIGITS["8"], DIGITS["6"], flagged_one(degrees, lift), DIGITS["1"]]
    answer = ask(client, drawn(glyphs, seed), hint)
    assert len(answer["digits"]) == 5
    one = answer["digits"][3]["box"]
    assert one[2] - one[0] > 1.5 * PEN  # the flag and the stem, in one part
    assert answer["number"] == "28611"


def test_with_the_stroke_hint_a_stroke_is_never_cut(client):
    """A zigzag is one stroke: with the page's hint, its piece is read whole (the only part
    offered), where the image alone offers the model its cuts."""
    teeth = [[0.25 * k, float(k % 2 == 0)] for k in range(9)]
    drawing = drawn([(2.0, [np.array(teeth)])])
    picture = drawing.image
    with_hint = lattice(number_layout(picture, 12, drawing.strokes), None)
    alone = lattice(number_layout(picture, 12), None)
    assert len(with_hint.crops) == 1
    assert len(alone.crops) > 1
    assert ask(client, drawing, hint=True)["number"] is None


def test_the_hint_does_not_keep_touching_digits_together(client):
    """Two digits written touching, each in its own stroke: the hint allows the cut between
    them (no stroke reaches across it), and the pair is read as on the image alone."""
    size, top = 160.0, 60.0
    eight = DIGITS["8"][1][0] * size + [300.0, top]
    two = DIGITS["2"][1][0] * size + [eight[:, 0].max() + 0.8 * PEN, top]
    strokes = [eight, two]
    hint = [(round(s[:, 0].min() - PEN / 2), round(s[:, 0].max() + PEN / 2)) for s in strokes]
    touching = Drawing(render_strokes(strokes, PAD, PEN), hint, "82", "test")
    assert len(number_layout(touching.image, 12).groups) == 1  # one piece of ink
    for with_hint in (True, False):
        assert ask(client, touching, with_hint)["number"] == "82"


@pytest.mark.parametrize(
    ("strokes", "error"),
    [
        ("left to right", "'strokes' must be a list"),
        ([[1, 2, 3]], "'strokes[0]' must be [x0, x1]"),
        ([[0, 1], [1, "2"]], "'strokes[1][1]' must be a finite number"),
        ([[True, 2]], "'strokes[0][0]' must be a finite number"),
        ([[0, 1]] * 1001, "at most 1000"),
    ],
)
def test_a_malformed_stroke_hint_is_a_clear_400(client, strokes, error):
    body = {"image": b64(png(drawn([DIGITS["8"]]).image)), "mode": "number", "strokes": strokes}
    response = client.post("/predict", json=body)
    assert response.status_code == 400
    assert error in response.json()["error"]


def test_a_stroke_hint_may_list_a_stroke_right_to_left(client):
    """A pair is a range: [x1, x0] is the same stroke as [x0, x1]."""
    drawing = drawn([DIGITS["2"], DIGITS["8"]])
    backwards = Drawing(drawing.image, [(b, a) for a, b in drawing.strokes], None, "test")
    assert ask(client, backwards, hint=True)["number"] == ask(client, drawing, hint=True)["number"]


def test_too_many_digits_says_what_was_counted(settings):
    """Separate parts are counted as such; one piece of ink as wide as many digits of its
    height is said to be that wide, not to be "separate parts"."""
    with TestClient(create_app(replace(settings, max_digits=3))) as small:
        apart = drawn([DIGITS[d] for d in "2810"])
        said = small.post("/predict", json={"image": b64(png(apart.image)), "mode": "number"})
        assert said.status_code == 400
        assert said.json()["error"].startswith("the drawing has 4 or more separate parts")
        teeth = [[0.25 * k, float(k % 2 == 0)] for k in range(25)]
        zigzag = drawn([(6.0, [np.array(teeth)])])
        said = small.post("/predict", json={"image": b64(png(zigzag.image)), "mode": "number"})
        assert said.status_code == 400
        assert said.json()["error"].startswith("the drawing is as wide as")
        assert "separate parts" not in said.json()["error"]


@pytest.mark.parametrize("letter", ["M", "N", "V", "K"])
def test_strips_of_a_refused_letter_are_never_a_confident_number(client, letter):
    """On the image alone an M's or a K's strips can each be a sure 1, and "11" once came
    at 0.94. The split now competes with the whole letter refused as "not a digit", so a
    number claimed from strips is never a confident one, in any of ten hands."""
    for seed in range(10):
        answer = ask(client, drawn([LETTERS[letter]], seed), hint=False)
        assert answer["number"] is None or answer["confidence"] < 0.9, (seed, answer["number"])
