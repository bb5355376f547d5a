"""The committed model: what the card promises is what the file does."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from bench.digits import load_sample
from tests.mnist_data import mnist_path
from training.card import read_card
from training.evaluate import drawing_inputs, load_drawings, predict
from training.pipeline import reevaluate

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


def test_card_meets_the_targets(card):
    metrics = card["metrics"]
    assert metrics["test_accuracy"] >= 0.995
    assert metrics["canvas_accuracy"] >= 0.99
    assert metrics["drawings_accuracy"] == 1.0
    assert card["training"]["config"]["quick"] is False
    assert card["data"]["test_examples"] == 10_000
    assert card["parity"]["max_abs_diff"] <= 1e-5


def test_plots_are_committed():
    for name in ("training_history.png", "confusion_matrix.png"):
        assert (ARTIFACTS / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_committed_sample_of_real_digits(model_path):
    x, y = load_sample()
    probabilities = predict(model_path, x.astype(np.float32) / 255.0)
    assert (probabilities.argmax(axis=1) == y).mean() >= 0.99


def test_every_hand_made_variant_is_read_right(model_path):
    """A 1 with a flag and a foot, crossed 7s, straight-tailed 9s, open and closed 4s, ..."""
    drawings = load_drawings()
    images, _ = drawing_inputs(drawings)
    predicted = predict(model_path, images).argmax(axis=1)
    wrong = [
        f"{d['name']} -> {p}" for d, p in zip(drawings, predicted, strict=True) if p != d["label"]
    ]
    assert not wrong


def test_the_card_figures_are_reproduced_from_the_committed_files():
    assert reevaluate(ARTIFACTS, str(mnist_path()), check=True)
