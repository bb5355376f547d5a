"""The training pipeline end to end, in --quick mode, on the real MNIST file."""

import json
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from recognizer.contract import (
    INPUT_NAME,
    MODEL_FILE,
    NOT_A_DIGIT,
    OUTPUT_CLASSES,
    OUTPUT_NAME,
    WEIGHTS_FILE,
)
from tests.mnist_data import mnist_path
from training.card import read_card
from training.nondigits import synthetic_nondigits
from training.strokes import TEMPLATES, draw_digit, synthetic_digits

CARD_SECTIONS = {
    "model",
    "calibration",
    "metrics",
    "parity",
    "data",
    "training",
    "versions",
    "created_at",
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick")
    command = [sys.executable, "-m", "training", "run", "--quick", "--data", str(mnist_path())]
    done = subprocess.run(
        [*command, "--out", str(out)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout


def test_quick_run_writes_every_artifact(quick_run):
    out, _ = quick_run
    names = {p.name for p in out.iterdir()}
    expected = {MODEL_FILE, WEIGHTS_FILE, "model_card.json", "training_history.png"}
    assert expected | {"confusion_matrix.png"} <= names


def test_quick_model_follows_the_contract(quick_run):
    out, _ = quick_run
    session = ort.InferenceSession(out / MODEL_FILE, providers=["CPUExecutionProvider"])
    (model_input,), (model_output,) = session.get_inputs(), session.get_outputs()
    assert (model_input.name, model_output.name) == (INPUT_NAME, OUTPUT_NAME)
    assert model_input.shape[1:] == [28, 28, 1] and model_input.type == "tensor(float)"
    for batch in (1, 7):  # the batch dimension is dynamic
        probabilities = session.run(None, {INPUT_NAME: np.zeros((batch, 28, 28, 1), np.float32)})[0]
        assert probabilities.shape == (batch, OUTPUT_CLASSES)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    metadata = session.get_modelmeta().custom_metadata_map
    assert metadata["version"].endswith("-quick") and metadata["training_seed"] == "1234"
    assert float(metadata["temperature"]) > 0


def test_quick_card_is_complete_and_true(quick_run):
    out, stdout = quick_run
    card = read_card(out)
    assert set(card) >= CARD_SECTIONS
    model = onnx.load(out / MODEL_FILE)
    assert card["model"]["size_bytes"] == (out / MODEL_FILE).stat().st_size
    assert card["model"]["version"] == {p.key: p.value for p in model.metadata_props}["version"]
    assert card["parity"]["argmax_agreement"] == 1.0 and card["parity"]["max_abs_diff"] <= 1e-5
    assert card["parity"]["images"] == 1_000
    metrics = card["metrics"]
    for key in ("test_accuracy", "canvas_accuracy", "drawings_accuracy", "style_suite_accuracy"):
        assert 0.0 <= metrics[key] <= 1.0
    assert 0.0 <= metrics["nondigit_catch_rate"] <= 1.0
    assert metrics["canvas"]["calibration"]["ece_after"] >= 0.0
    assert len(metrics["style_suite"]["per_style"]) >= 15
    assert card["calibration"]["temperature"] == pytest.approx(
        float(
            ort.InferenceSession(out / MODEL_FILE)
            .get_modelmeta()
            .custom_metadata_map["temperature"]
        ),
        rel=1e-5,
    )
    assert np.array(metrics["test"]["confusion_matrix"]).sum() == card["data"]["test_examples"]
    assert np.array(metrics["test"]["confusion_matrix"]).shape == (10, 11)  # + "not a digit"
    assert len(metrics["test"]["per_class_accuracy"]) == 10
    assert card["training"]["config"]["quick"] is True and card["training"]["epochs_run"] == 1
    assert card["versions"]["tf2onnx"] == "1.17.0"
    assert "parity" in stdout and json.dumps(card)  # printed, and serialisable


def test_missing_data_stops_with_one_clear_line(tmp_path):
    missing = tmp_path / "nowhere.npz"
    done = subprocess.run(
        [sys.executable, "-m", "training", "run", "--quick", "--data", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"error: MNIST file not found: {missing}; pass --data PATH or set MNIST_PATH"
    )


@pytest.mark.parametrize("label", sorted(TEMPLATES))
def test_every_stroke_style_draws_ink(label):
    rng = np.random.default_rng(label)
    for style in TEMPLATES[label]:
        canvas = np.asarray(draw_digit(label, style, rng))
        assert (canvas < 128).mean() > 0.01, f"{label} '{style}' drew nothing"


def test_synthetic_digits_are_model_inputs():
    images, labels = synthetic_digits(per_class=3, seed=0)
    assert images.shape == (30, 28, 28) and images.dtype == np.float32
    assert np.bincount(labels).tolist() == [3] * 10
    assert images.max() == 1.0 and images.min() == 0.0


def test_nondigits_are_model_inputs():
    images = synthetic_nondigits(40, seed=0)
    assert images.shape == (40, 28, 28) and images.dtype == np.float32
    assert images.max() == 1.0 and images.min() == 0.0
    assert NOT_A_DIGIT == 10  # the eleventh output, after the ten digits
