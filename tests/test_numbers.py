"""Number mode through the real app, and the number test set that measures it."""

import io
from dataclasses import replace

import numpy as np
import pytest
from conftest import b64
from mnist_data import mnist_path
from PIL import Image, ImageDraw
from starlette.testclient import TestClient

from recognizer.contract import CLASS_NAMES, IMAGE_SIZE
from recognizer.pieces import components
from recognizer.preprocess import INK_THRESHOLD
from serving.app import create_app
from serving.settings import SettingError, load_settings
from training.number_sets import (
    GAP_KINDS,
    LENGTHS,
    NUMBER_CANVAS,
    compose,
    evaluate_numbers,
    make_number,
    stroke_ink,
)

DIGIT_KEYS = {"digit", "confidence", "probabilities", "box"}
PLAIN = {0: "oval", 1: "bar", 2: "curved", 6: "looped", 7: "plain"}
"""Styles every model reads: the API tests are about number mode, not about hard digits."""


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def number_canvas(digits: str, seed: int = 0) -> tuple[Image.Image, list[tuple]]:
    """Plain stroke-drawn digits, well apart, on the number pad; and their boxes."""
    rng = np.random.default_rng(seed)
    inks = [stroke_ink(int(d), PLAIN[int(d)], 150, rng) for d in digits]
    tops = [(NUMBER_CANVAS[1] - ink.shape[0]) // 2 for ink in inks]
    drawn = compose(inks, tops, [60] * (len(digits) - 1))
    assert drawn is not None
    return drawn


@pytest.fixture(scope="module")
def year() -> tuple[bytes, list[tuple]]:
    image, boxes = number_canvas("2026")
    return png(image), boxes


def assert_number(answer: dict, number: str, boxes: list[tuple], scale: float = 1.0) -> None:
    assert answer["number"] == number
    assert answer["blank"] is False
    assert "reason" not in answer
    assert isinstance(answer["model_version"], str) and answer["model_version"]
    assert len(answer["digits"]) == len(number)
    product = 1.0
    for digit, expected, box in zip(answer["digits"], number, boxes, strict=True):
        assert set(digit) == DIGIT_KEYS
        assert digit["digit"] == int(expected)
        assert list(digit["probabilities"]) == list(CLASS_NAMES)
        assert digit["confidence"] == digit["probabilities"][expected]
        product *= digit["confidence"]
        # The box is the digit's ink, in the pixels of the image that was sent.
        for found, true in zip(digit["box"], box, strict=True):
            assert abs(found - true * scale) <= 2 * scale
    assert answer["confidence"] == pytest.approx(product, abs=1e-3)


def test_json_number_mode(client, year):
    """{"image": ..., "mode": "number"} reads every digit, left to right, with its box."""
    response = client.post("/predict", json={"image": b64(year[0]), "mode": "number"})
    assert response.status_code == 200
    assert_number(response.json(), "2026", year[1])
    assert response.json()["request_id"]


def test_the_pages_own_six_digit_numbers_are_read(client):
    """The numbers `make bench` times, painted by the page in Chromium and posted as the
    page posts them (tests/fixtures/page_numbers.npz), with every digit's input."""
    from bench.page_numbers import load, page_body

    numbers = load()
    answers = [client.post("/predict", json=page_body(n)).json() for n in numbers]
    right = [a["number"] == n["digits"] for a, n in zip(answers, numbers, strict=True)]
    assert sum(right) >= len(numbers) - 1, [a["number"] for a in answers]
    assert all(len(d["input"]) == IMAGE_SIZE for a in answers for d in a["digits"])


def test_raw_and_multipart_bodies_take_the_mode_from_the_url(client, year):
    raw = client.post(
        "/predict?mode=number", content=year[0], headers={"Content-Type": "image/png"}
    )
    form = client.post("/predict?mode=number", files={"image": ("n.png", year[0], "image/png")})
    for response in (raw, form):
        assert response.status_code == 200
        assert_number(response.json(), "2026", year[1])
    # Without the mode, the same drawing is one digit's answer, not a number's.
    single = client.post("/predict", content=year[0], headers={"Content-Type": "image/png"})
    assert "number" not in single.json()


def test_a_batch_in_number_mode_answers_one_number_per_image(client, year):
    other, boxes = number_canvas("71", seed=1)
    response = client.post(
        "/predict", json={"images": [b64(year[0]), b64(png(other))], "mode": "number"}
    )
    assert response.status_code == 200
    first, second = response.json()["predictions"]
    assert_number(first, "2026", year[1])
    assert_number(second, "71", boxes)


def test_boxes_are_in_the_pixels_of_a_high_dpi_canvas(client):
    """A canvas sent at twice the pad's size gets boxes twice as large."""
    image, boxes = number_canvas("106", seed=2)
    double = image.resize((image.width * 2, image.height * 2), Image.Resampling.BILINEAR)
    response = client.post(
        "/predict?mode=number", content=png(double), headers={"Content-Type": "image/png"}
    )
    assert response.status_code == 200
    assert_number(response.json(), "106", boxes, scale=2.0)


def test_include_input_shows_each_digit_as_the_model_saw_it(client, year):
    response = client.post(
        "/predict", json={"image": b64(year[0]), "mode": "number", "include_input": True}
    )
    for digit in response.json()["digits"]:
        seen = np.array(digit.pop("input"))
        assert seen.shape == (IMAGE_SIZE, IMAGE_SIZE)
        assert seen.max() == 1.0
        assert set(digit) == DIGIT_KEYS


def test_a_part_that_is_not_a_digit_is_said_so_and_the_number_is_not_claimed(client):
    """A filled square among digits: that part is answered like a single non-digit
    drawing, the others are still read, and no number is claimed."""
    image, _ = number_canvas("170", seed=3)
    ImageDraw.Draw(image).rectangle((700, 90, 790, 180), fill=0)
    answer = client.post(
        "/predict?mode=number", content=png(image), headers={"Content-Type": "image/png"}
    ).json()
    assert answer["number"] is None
    assert answer["confidence"] == 0.0
    assert answer["reason"] == "not_a_digit"
    assert answer["message"]
    *digits, blob = answer["digits"]
    assert [d["digit"] for d in digits] == [1, 7, 0]
    assert blob["digit"] is None and blob["reason"] == "not_a_digit" and blob["message"]
    assert blob["box"][0] >= 699 and blob["box"][2] <= 792


def test_a_blank_pad_is_the_blank_answer(client):
    blank = png(Image.new("L", NUMBER_CANVAS, 255))
    answer = client.post(
        "/predict?mode=number", content=blank, headers={"Content-Type": "image/png"}
    ).json()
    assert answer["number"] is None
    assert answer["digits"] == []
    assert answer["blank"] is True
    assert answer["reason"] == "blank"
    assert answer["confidence"] == 0.0


def test_more_digits_than_max_digits_is_a_clear_400(settings, year):
    with TestClient(create_app(replace(settings, max_digits=3))) as small:
        response = small.post("/predict", json={"image": b64(year[0]), "mode": "number"})
        assert response.status_code == 400
        assert "MAX_DIGITS" in response.json()["error"]
        assert "at most 3" in response.json()["error"]
        batch = small.post("/predict", json={"images": [b64(year[0])] * 2, "mode": "number"}).json()
        assert batch["error"].startswith("images[0]: ")


def test_an_unknown_mode_is_a_400(client, year):
    for response in (
        client.post("/predict", json={"image": b64(year[0]), "mode": "numbers"}),
        client.post("/predict", json={"image": b64(year[0]), "mode": 2}),
        client.post("/predict?mode=Number", content=year[0], headers={"Content-Type": "image/png"}),
    ):
        assert response.status_code == 400
        assert "digit" in response.json()["error"] and "number" in response.json()["error"]


def test_max_digits_is_a_checked_setting():
    assert load_settings({}).max_digits == 12
    assert load_settings({"MAX_DIGITS": "6"}).max_digits == 6
    for bad in ("0", "65", "twelve"):
        with pytest.raises(SettingError, match="MAX_DIGITS"):
            load_settings({"MAX_DIGITS": bad})


def ink_mask(image: Image.Image) -> np.ndarray:
    return 1 - np.asarray(image, dtype=np.float32) / 255 >= INK_THRESHOLD


def test_the_test_sets_gaps_are_what_they_say():
    """Wide and narrow gaps leave the digits apart; touching and overlapping ones join the
    inks into one piece; every number fits the number pad and has its boxes in order."""
    with np.load(mnist_path()) as data:
        mnist = (data["x_test"][:2000], data["y_test"][:2000])
    rng = np.random.default_rng(0)
    for source in ("mnist", "strokes"):
        for kind in GAP_KINDS:
            for _ in range(3):
                image, truth, boxes = make_number(source, kind, 2, rng, mnist)
                assert image.size == NUMBER_CANVAS
                assert len(truth) == len(boxes) == 2
                assert boxes[0][0] < boxes[1][0]
                joined = len(components(ink_mask(image))[1])
                apart = sum(len(components(ink_mask(image.crop(b)))[1]) for b in boxes)
                if kind in ("touching", "overlapping"):
                    assert joined < apart, (source, kind)


def test_evaluate_numbers_reports_exact_accuracy_by_gap_and_length(settings):
    """The model card's number figures: a small run of every cell."""
    with np.load(mnist_path()) as data:
        x_test, y_test = data["x_test"], data["y_test"]
    report = evaluate_numbers(settings.model_path, x_test, y_test, per_cell=1)
    assert report["exact"]["count"] == 2 * len(GAP_KINDS) * len(LENGTHS)
    assert set(report["by_gap"]) == set(GAP_KINDS)
    assert set(report["by_length"]) == {str(n) for n in LENGTHS}
    for share in [report["exact"], *report["by_gap"].values(), *report["by_length"].values()]:
        assert 0.0 <= share["exact"] <= 1.0 and 0.0 <= share["split"] <= 1.0
    # Digits a clear gap apart are split right nearly always, whatever the model reads.
    assert report["by_gap"]["wide"]["split"] >= 0.85


def test_number_answers_are_described_by_the_openapi_document(client, year):
    """Single, batch and non-digit number answers all validate against /openapi.json."""
    import jsonschema

    spec = client.get("/openapi.json").json()
    schema = spec["paths"]["/predict"]["post"]["responses"]["200"]["content"]
    root = {**schema["application/json"]["schema"], "components": spec["components"]}
    blob, _ = number_canvas("17", seed=4)
    ImageDraw.Draw(blob).rectangle((700, 90, 790, 180), fill=0)
    bodies = [
        {"image": b64(year[0]), "mode": "number", "include_input": True},
        {"images": [b64(year[0]), b64(png(blob))], "mode": "number"},
        {"image": b64(png(Image.new("L", NUMBER_CANVAS, 255))), "mode": "number"},
    ]
    for body in bodies:
        answer = client.post("/predict", json=body).json()
        jsonschema.validate(answer, root, cls=jsonschema.Draft202012Validator)
    assert "mode" in str(spec["paths"]["/predict"]["post"]["parameters"])


def counting(model):
    """The served model's predict, recording how many inputs each run had."""
    runs: list[int] = []

    def run(images: np.ndarray) -> np.ndarray:
        runs.append(len(images))
        return model.predict(images)

    return run, runs


def test_digits_with_gaps_cost_one_model_run_and_one_crop_per_digit(settings, year):
    """The over-segmentation of narrow pieces costs nothing when the digits are apart."""
    from recognizer.model import DigitModel
    from recognizer.numbers import read_number
    from recognizer.preprocess import decode_image

    run, runs = counting(DigitModel.load(settings.model_path))
    answer = read_number(decode_image(year[0], 10**7), run, "test")
    assert answer.number == "2026"
    assert runs == [4]


def test_touching_pairs_of_narrow_digits_are_cut_in_a_second_run(settings):
    """A 1 against a 7, a 4 or a 9 makes one piece narrower than a wide digit, which is
    read whole first; the model doubts it, and its cuts are read in a second run."""
    from recognizer.model import DigitModel
    from recognizer.numbers import read_number
    from training.strokes import TEMPLATES

    run, runs = counting(DigitModel.load(settings.model_path))
    right, two_runs = 0, 0
    cases = [(pair, seed) for pair in ("17", "14", "19") for seed in range(4)]
    for pair, seed in cases:
        rng = np.random.default_rng(seed)
        inks = [stroke_ink(int(d), next(iter(TEMPLATES[int(d)])), 150, rng) for d in pair]
        tops = [(NUMBER_CANVAS[1] - ink.shape[0]) // 2 for ink in inks]
        drawn = compose(inks, tops, [0])
        assert drawn is not None
        assert len(components(ink_mask(drawn[0]))[1]) == 1  # one piece of ink
        runs.clear()
        answer = read_number(drawn[0], run, "test")
        right += answer.number == pair
        two_runs += len(runs) == 2 and runs[0] == 1
    assert two_runs >= len(cases) - 2, two_runs
    assert right >= len(cases) - 2, right


def test_touching_digits_are_cut_finely_only_where_the_first_reading_is_unsure(settings):
    """Six touching digits are read first from the cuts at their thinnest places, in a few
    dozen parts; only a piece where a part of that reading is not a confident digit is also
    cut every GRID_STEP, in a second run. On twenty such numbers the two runs read as many
    right as the full set of cuts read all at once (it may differ on one), and the numbers
    whose first reading is sure (a quarter of them) cost less than half the parts in all."""
    from recognizer.model import DigitModel
    from recognizer.numbers import number_answer, number_parts, read_number

    model = DigitModel.load(settings.model_path)
    run, runs = counting(model)
    rng = np.random.default_rng(7)
    sure = same = right = right_full = sure_parts = sure_full_parts = 0
    for _ in range(20):
        canvas, label, _ = make_number("strokes", "touching", 6, rng, (np.empty(0), np.empty(0)))
        runs.clear()
        answer = read_number(canvas, run, "test")
        every = number_parts(canvas, 64, None)
        full = number_answer(every, model.predict(np.stack(every.inputs)), "test", 64)
        same += answer.number == full.number
        right += answer.number == label
        right_full += full.number == label
        if len(runs) == 1:
            sure += 1
            sure_parts += runs[0]
            sure_full_parts += len(every.inputs)
    assert same >= 19, same
    assert right >= right_full, (right, right_full)
    assert sure >= 3, sure
    assert sure_parts < sure_full_parts / 2, (sure_parts, sure_full_parts)


def test_touching_digits_streamed_to_the_model_get_the_same_probabilities(settings):
    """The server streams a number's crops to the model's helper thread in chunks while it
    cuts the rest (recognizer.numbers.Reader): every part gets the probabilities that one
    run per pass gives it, so the answer does not depend on how the chunks fell."""
    from recognizer.model import DigitModel
    from recognizer.numbers import number_layout, read_parts

    model = DigitModel.load(settings.model_path)
    chunks: list[int] = []

    def submit(images: np.ndarray):
        chunks.append(len(images))
        return model.submit(images)

    rng = np.random.default_rng(11)
    for _ in range(4):
        canvas, _, _ = make_number("strokes", "touching", 6, rng, (np.empty(0), np.empty(0)))
        drawing = number_layout(canvas, 64)
        ((plain, p),) = read_parts([drawing], model.predict)
        ((streamed, q),) = read_parts([drawing], model.predict, submit)
        assert plain.reading.keys == streamed.reading.keys
        np.testing.assert_array_equal(p, q)
    assert len(chunks) >= 4, chunks  # the crops did go to the helper, not in one run


def test_overlapping_digits_whose_strokes_cross_are_read(settings):
    """A 9, 3 or 5 overlapped by the loop of a 6 or 9 on its right: the cut runs through the
    crossing, and the part that lost its side of it reads as another digit (a 6 cut open
    reads 5, a 9 reads 7). Each cut part is also read with the ink just past its cut
    (recognizer.lattice.SPILL), and the reading takes the one the model believes: 13 of
    these 18 pairs are read right with the committed model, 8 without it."""
    from recognizer.model import DigitModel
    from recognizer.numbers import read_number
    from training.strokes import TEMPLATES

    model = DigitModel.load(settings.model_path)
    right = 0
    for pair in ("96", "39", "56"):
        for seed in range(6):
            rng = np.random.default_rng(seed)
            styles = [str(rng.choice(list(TEMPLATES[int(d)]))) for d in pair]
            inks = [stroke_ink(int(d), s, 150, rng) for d, s in zip(pair, styles, strict=True)]
            tops = [(NUMBER_CANVAS[1] - ink.shape[0]) // 2 for ink in inks]
            drawn = compose(inks, tops, [-4])  # 4 px of overlap, row by row
            assert drawn is not None
            right += read_number(drawn[0], model.predict, "test").number == pair
    assert right >= 11, right


def whole_picture_reading(picture) -> list[tuple]:
    """The candidate crops of a drawing segmented whole, without the ink window."""
    from recognizer.lattice import lattice
    from recognizer.pieces import layout
    from recognizer.preprocess import grey_levels, ink_image

    width = picture.shape[1] if isinstance(picture, np.ndarray) else picture.width
    ink = ink_image(picture)
    ink = np.where(ink >= INK_THRESHOLD, ink, 0.0).astype(np.float64)  # as ink_window gives it
    reading = lattice(layout(ink, width / grey_levels(picture).shape[1]), None)
    return [(crop.box, crop.ink.tobytes()) for crop in reading.crops]


@pytest.mark.parametrize(
    "variant", ["plain", "odd offset", "white on black", "RGBA", "large photo", "blank"]
)
def test_the_ink_window_gives_the_crops_of_the_whole_picture(variant):
    """Number mode segments only the window that holds ink (recognizer.preprocess.ink_window),
    in the whole picture's blocks: every candidate crop, its ink and its box in the
    picture's pixels, must be the one the whole picture gives."""
    from recognizer.numbers import number_parts
    from recognizer.preprocess import decode_image

    image, _ = number_canvas("1720", seed=3)
    if variant == "odd offset":  # the ink starts off the blocks' grid
        shifted = Image.new("L", image.size, 255)
        shifted.paste(image.crop((0, 0, image.width - 7, image.height - 5)), (7, 5))
        image = shifted
    elif variant == "white on black":
        image = Image.eval(image, lambda v: 255 - v)
    elif variant == "RGBA":
        image = image.convert("RGBA")
    elif variant == "large photo":  # reduced to the working size first: boxes scaled back
        image = image.resize((image.width * 3, image.height * 3), Image.Resampling.BILINEAR)
    elif variant == "blank":
        image = Image.new("L", image.size, 255)
    picture = decode_image(png(image), 10**7)
    window = number_parts(picture, 12, None).reading
    assert [(c.box, c.ink.tobytes()) for c in window.crops] == whole_picture_reading(picture)
    assert (len(window.crops) == 0) == (variant == "blank")
