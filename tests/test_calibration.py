"""Temperature scaling and the calibration error: the maths behind "confidence 0.9"."""

import numpy as np
import pytest

from training.calibrate import expected_calibration_error, fit_temperature, softmax


def sampled(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Labels drawn from the softmax of the logits: a model calibrated by construction."""
    probabilities = softmax(logits)
    cumulative = probabilities.cumsum(axis=1)
    return (rng.random((len(logits), 1)) > cumulative).sum(axis=1)


def test_fit_temperature_recovers_the_overconfidence_factor():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2.5, (20_000, 11))
    labels = sampled(true_logits, rng)
    overconfident = true_logits * 2.0  # what a network that fits its labels looks like
    assert fit_temperature(overconfident, labels) == pytest.approx(2.0, rel=0.05)


def test_ece_is_small_for_a_calibrated_model_and_large_for_an_overconfident_one():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2.5, (20_000, 11))
    labels = sampled(logits, rng)
    assert expected_calibration_error(softmax(logits), labels) < 0.01
    assert expected_calibration_error(softmax(logits * 3.0), labels) > 0.1


def test_temperature_scaling_does_not_change_any_answer():
    logits = np.random.default_rng(2).normal(0, 3, (500, 11))
    np.testing.assert_array_equal(softmax(logits).argmax(1), softmax(logits, 2.7).argmax(1))
