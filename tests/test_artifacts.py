"""The committed model: what the card promises is what the file does."""

import hashlib
from pathlib import Path

import pytest

from bench.digits import load_sample
from recognizer.contract import OUTPUT_CLASSES, scaled
from recognizer.model import DigitModel
from tests.mnist_data import mnist_path
from training.card import read_card
from training.evaluate import NO_DIGIT, drawing_inputs, load_drawings, served_answers
from training.pipeline import check

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="module")
def card() -> dict:
    return read_card(ARTIFACTS)


@pytest.fixture(scope="module")
def model_path(card) -> Path:
    return ARTIFACTS / card["model"]["file"]


def test_checksum_and_size_match_the_card(card, model_path):
    data = model_path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == card["model"]["sha256"]
    assert len(data) == card["model"]["size_bytes"] <= 1_000_000


@pytest.fixture(scope="module")
def model(model_path) -> DigitModel:
    return DigitModel.load(model_path)


def test_card_meets_the_targets(card):
    """The model's budgets, as the card records them (the last test recomputes the card).
    MNIST's floor is 99.5 %: the goal is 99.6 %, which the committed model (99.57 %, trained
    with real pen data and the new styles) misses by 3 digits in 10,000."""
    metrics = card["metrics"]
    assert metrics["test_accuracy"] >= 0.995
    assert metrics["canvas_accuracy"] >= 0.99
    assert metrics["canvas_rejected_rate"] <= 0.005
    assert metrics["canvas_ece"] <= 0.02
    assert metrics["canvas"]["calibration"]["ece_before"] > metrics["canvas_ece"]
    assert metrics["drawings_accuracy"] == 1.0
    assert metrics["style_suite_accuracy"] >= 0.97
    styles = metrics["style_suite"]["per_style"].values()
    assert sum(s["rejected"] for s in styles) / len(styles) <= 0.005  # real digits refused
    assert metrics["nondigit_catch_rate"] >= 0.9
    assert metrics["nondigit_suite"]["digit_at_0.6_or_more_rate"] <= 0.1
    assert metrics["style_suite"]["wrong_at_0.9_or_more"] <= 0.005
    assert metrics["numbers_separated_exact"] >= 0.98
    assert metrics["numbers_touching_pairs_exact"] >= 0.9
    assert card["model"]["output"]["shape"] == ["N", OUTPUT_CLASSES]
    assert card["calibration"]["temperature"] > 0
    assert card["training"]["config"]["quick"] is False
    assert card["data"]["test_examples"] == 10_000
    assert card["parity"]["max_abs_diff"] <= 1e-5


def test_card_meets_the_honest_readings_budgets(card):
    """Issue 20's budgets for the model, as the card records them: every style of the suite
    (the lead-in 1, the curved crossed 7, the open-curl 9, the looped 4 among them) at 97 % or
    more, real digits almost never refused, confident mistakes rare on every set, and the
    held-out pen writers read as well as MNIST's canvas digits."""
    metrics = card["metrics"]
    styles = metrics["style_suite"]["per_style"]
    weak = {name: s["accuracy"] for name, s in styles.items() if s["accuracy"] < 0.97}
    assert not weak
    assert {"1 long lead-in", "7 one stroke, curved and crossed"} <= set(styles)
    assert {"9 open curl head", "4 one stroke looped"} <= set(styles)
    assert metrics["real_digits_refused_rate"] <= 0.003
    assert metrics["nondigit_catch_rate"] >= 0.98
    confident_wrong = {  # per suite: one mistake in a style's 150 drawings is already 0.67 %
        "canvas": metrics["canvas"]["calibration"]["wrong_at_0.9_or_more"],
        "styles": metrics["style_suite"]["wrong_at_0.9_or_more"],
        "pen writers": metrics["pen_held_out"]["wrong_at_0.9_or_more"],
    }
    assert {k: v for k, v in confident_wrong.items() if v > 0.003} == {}
    assert metrics["pen_held_out_accuracy"] >= 0.99
    assert metrics["pen_held_out"]["count"] >= 700


def test_card_meets_the_number_pad_budgets(card):
    """The number pad's own suites, with the page's stroke hint and on the image alone: at
    least 95 % of non-numbers not claimed (or claimed below 0.5), at least 98 % of
    European-style numbers read exactly, and confident mistakes (0.9 or more) at most 0.3 %."""
    suites = card["metrics"]["number_suites"]
    for path in ("with_hint", "image_alone"):
        assert suites["non_numbers"][path]["passed"] >= 0.95, path
        assert suites["european"][path]["passed"] >= 0.98, path
        assert suites["non_numbers"][path]["count"] >= 500
        for name in ("non_numbers", "european"):
            assert suites[name][path]["wrong_at_0.9_or_more"] <= 0.003, (name, path)


def test_card_names_the_pen_data_its_licence_and_share(card):
    pen = card["data"]["pen_written"]
    assert pen["licence"] == "CC BY 4.0" and "Alpaydin" in pen["credit"] and "UCI" in pen["credit"]
    assert pen["share_of_training"] == pytest.approx(
        pen["train_examples"] / card["data"]["train_examples"], abs=1e-4
    )
    assert pen["train_examples"] >= 6_000
    assert 1 <= len(pen["held_out_writers"]) <= 5  # most writers trained on, a few to measure


def test_plots_are_committed():
    for name in ("training_history.png", "confusion_matrix.png"):
        assert (ARTIFACTS / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_committed_sample_of_real_digits(model):
    x, y = load_sample()
    images = scaled(x)
    answers = served_answers(images, model.predict(images))
    assert (answers == y).mean() >= 0.99
    assert (answers == NO_DIGIT).mean() <= 0.005


def test_every_hand_made_variant_is_read_right(model):
    """A 1 with a flag and a foot, crossed 7s, straight-tailed 9s, open and closed 4s, ..."""
    drawings = load_drawings()
    images, _ = drawing_inputs(drawings)
    answers = served_answers(images, model.predict(images))
    wrong = [
        f"{d['name']} -> {a}" for d, a in zip(drawings, answers, strict=True) if a != d["label"]
    ]
    assert not wrong


def test_the_model_says_which_temperature_calibrated_it(model, card):
    assert model.temperature == pytest.approx(card["calibration"]["temperature"], rel=1e-5)


def test_the_card_figures_are_reproduced_from_the_committed_files():
    assert check(ARTIFACTS, str(mnist_path()))
