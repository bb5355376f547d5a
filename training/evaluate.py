"""Judge the exported model the way users meet it: through the server's own model wrapper
and its own decision about what is a digit.

The test sets: the MNIST test images as they are; the same images drawn as they would
arrive from a 280x280 browser canvas and put through the served preprocessing, which is
the accuracy a user gets; hand-made drawings of the styles MNIST lacks (drawings.json);
the project's style and non-digit suites (training/suites.py); the number test set
(training/number_sets.py); and the number pad's own suites, non-numbers and European-style
numbers (training/number_suites.py). A drawing counts as read correctly only when the
served answer names the right digit: a rejected digit is a mistake.
"""

import json
from importlib import resources
from pathlib import Path

import numpy as np

from recognizer.answers import judge
from recognizer.contract import DIGIT_CLASSES, NOT_A_DIGIT, scaled
from recognizer.model import DigitModel
from recognizer.preprocess import canvas_to_input
from training.calibrate import expected_calibration_error, softmax
from training.canvas import CANVAS_SIZE, canvas_inputs, render_strokes, smooth
from training.number_sets import evaluate_numbers
from training.number_suites import suite_report

NO_DIGIT = -1
"""The answer recorded for a drawing the service refuses to name a digit for."""


def served_answers(images: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """The digit each answer names, or NO_DIGIT where the service says "not a digit"."""
    digits = probabilities[:, :DIGIT_CLASSES].argmax(axis=1)
    rejected = [judge(image, p) is not None for image, p in zip(images, probabilities, strict=True)]
    return np.where(rejected, NO_DIGIT, digits)


def accuracy_report(answers: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, rejections, per-class accuracy and the confusion matrix (rows: true digit,
    columns: the digit answered, the last column "not a digit")."""
    confusion = np.zeros((DIGIT_CLASSES, DIGIT_CLASSES + 1), dtype=np.int64)
    np.add.at(confusion, (labels, np.where(answers == NO_DIGIT, DIGIT_CLASSES, answers)), 1)
    per_class = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    return {
        "accuracy": round(float((answers == labels).mean()), 6),
        "rejected_rate": round(float((answers == NO_DIGIT).mean()), 6),
        "count": len(labels),
        "per_class_accuracy": {str(d): round(float(a), 6) for d, a in enumerate(per_class)},
        "confusion_matrix": confusion.tolist(),
    }


def calibration_report(probabilities: np.ndarray, labels: np.ndarray, temperature: float) -> dict:
    """ECE of the shipped (calibrated) probabilities and of the raw network's (temperature 1,
    recovered from the calibrated ones: log p * T is the logits up to a constant), and how
    often a wrong answer was very confident."""
    raw = softmax(np.log(np.maximum(probabilities, 1e-30)) * temperature)
    wrong = probabilities[:, :DIGIT_CLASSES].argmax(axis=1) != labels
    confident_wrong = wrong & (probabilities.max(axis=1) >= 0.9)
    return {
        "ece_before": round(expected_calibration_error(raw, labels), 6),
        "ece_after": round(expected_calibration_error(probabilities, labels), 6),
        "wrong_at_0.9_or_more": round(float(confident_wrong.mean()), 6),
        "mean_confidence_when_right": round(float(probabilities.max(axis=1)[~wrong].mean()), 4),
    }


def load_drawings() -> list[dict]:
    """Hand-made canvas drawings, in the styles people complain digit demos get wrong."""
    text = resources.files("training").joinpath("drawings.json").read_text()
    return json.loads(text)["drawings"]


def drawing_inputs(drawings: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    images = [
        canvas_to_input(
            render_strokes([smooth(np.array(s)) for s in d["strokes"]], CANVAS_SIZE, d["pen_width"])
        )
        for d in drawings
    ]
    return np.stack(images), np.array([d["label"] for d in drawings])


def refused_rate(canvas: dict, styles: dict, pen: dict) -> float:
    """The share of real digits refused as "not a digit": the canvas-drawn MNIST test set, the
    style suite (its styles are equally large) and the held-out writers' pen digits, pooled."""
    per_style = [s["rejected"] for s in styles["per_style"].values()]
    refused = (
        canvas["rejected_rate"] * canvas["count"]
        + float(np.mean(per_style)) * styles["count"]
        + pen["rejected_rate"] * pen["count"]
    )
    return round(refused / (canvas["count"] + styles["count"] + pen["count"]), 6)


def evaluate(model_path: Path, x_test: np.ndarray, y_test: np.ndarray) -> dict:
    """Every figure of the model card's metrics section."""
    from training import pendigits, suites

    model = DigitModel.load(model_path)
    temperature = model.temperature

    test_inputs = scaled(x_test)
    test = accuracy_report(served_answers(test_inputs, model.predict(test_inputs)), y_test)
    canvas_x = canvas_inputs(x_test)
    canvas_p = model.predict(canvas_x)
    canvas = accuracy_report(served_answers(canvas_x, canvas_p), y_test)
    canvas["calibration"] = calibration_report(canvas_p, y_test, temperature)

    drawings = load_drawings()
    drawn, labels = drawing_inputs(drawings)
    drawn_answers = served_answers(drawn, model.predict(drawn))
    drawing_report = accuracy_report(drawn_answers, labels)
    drawing_report["mistakes"] = [
        {"name": d["name"], "label": d["label"], "predicted": int(a)}
        for d, a in zip(drawings, drawn_answers, strict=True)
        if a != d["label"]
    ]
    styles = suites.style_report(model, served_answers)
    nondigits = suites.nondigit_report(model, served_answers)
    pen = pendigits.held_out_report(model, served_answers)
    numbers = evaluate_numbers(model_path, x_test, y_test)
    number_suites = suite_report(model_path)
    return {
        "test_accuracy": test["accuracy"],
        "canvas_accuracy": canvas["accuracy"],
        "drawings_accuracy": drawing_report["accuracy"],
        "style_suite_accuracy": styles["accuracy"],
        "nondigit_catch_rate": nondigits["caught_rate"],
        "canvas_rejected_rate": canvas["rejected_rate"],
        "canvas_ece": canvas["calibration"]["ece_after"],
        "pen_held_out_accuracy": pen["accuracy"],
        "real_digits_refused_rate": refused_rate(canvas, styles, pen),
        "numbers_separated_exact": numbers["separated_2_to_6"]["exact"],
        "numbers_touching_pairs_exact": numbers["touching_pairs"]["exact"],
        "non_numbers_passed": number_suites["non_numbers"]["with_hint"]["passed"],
        "european_numbers_exact": number_suites["european"]["with_hint"]["passed"],
        "test": test,
        "canvas": canvas,
        "drawings": drawing_report,
        "style_suite": styles,
        "nondigit_suite": nondigits,
        "pen_held_out": pen,
        "numbers": numbers,
        "number_suites": number_suites,
        "not_a_digit_index": NOT_A_DIGIT,
    }
