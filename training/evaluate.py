"""Judge the exported ONNX model the way users will meet it, through onnxruntime.

Three test sets: the MNIST test images as they are; the same images drawn as they would
arrive from a 280x280 browser canvas (black ink on white, any size and place, thin or
thick pen) and put through the server's preprocessing, which is the accuracy a user
gets; and hand-made drawings of the digit styles MNIST lacks (drawings.json).
"""

import json
from importlib import resources
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from serving.contract import DIGIT_CLASSES, INPUT_NAME, OUTPUT_NAME
from serving.preprocess import canvas_to_input
from training.strokes import render_strokes, smooth

CANVAS_SIZE = 280
CANVAS_SEED = 2024


def predict(model: Path | bytes, images: np.ndarray, batch_size: int = 1_000) -> np.ndarray:
    """Probabilities for (N, 28, 28) images in [0, 1]."""
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    batches = [
        session.run([OUTPUT_NAME], {INPUT_NAME: images[i : i + batch_size, ..., None]})[0]
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(batches)


def accuracy_report(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, per-class accuracy and the confusion matrix (rows: true, columns: predicted)."""
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((DIGIT_CLASSES, DIGIT_CLASSES), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    return {
        "accuracy": round(float((predicted == labels).mean()), 6),
        "count": len(labels),
        "per_class_accuracy": {str(d): round(float(a), 6) for d, a in enumerate(per_class)},
        "confusion_matrix": confusion.tolist(),
    }


def draw_on_canvas(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """An MNIST digit as a browser canvas would send it: scaled to a random size, drawn
    with a thinner or thicker pen, black on white at a random place on a 280x280 canvas."""
    rows = np.flatnonzero(digit.any(axis=1))
    cols = np.flatnonzero(digit.any(axis=0))
    ink = Image.fromarray(digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    height = int(rng.uniform(0.3, 0.9) * CANVAS_SIZE)
    scale = height / ink.height
    width = min(CANVAS_SIZE, max(1, round(ink.width * scale)))
    ink = np.asarray(ink.resize((width, height), Image.Resampling.BILINEAR))
    # Pen width: one MNIST pixel thicker, the same, or half a pixel thinner.
    pen = int(rng.integers(-1, 2))
    if pen:
        ink = _change_pen(ink, size=2 * int(scale / (4 if pen < 0 else 2)) + 1, thicker=pen > 0)
    canvas = Image.new("L", (CANVAS_SIZE, CANVAS_SIZE), 255)
    left = int(rng.integers(0, CANVAS_SIZE - width + 1))
    top = int(rng.integers(0, CANVAS_SIZE - height + 1))
    canvas.paste(Image.fromarray(255 - ink), (left, top))
    return canvas


def _change_pen(ink: np.ndarray, size: int, thicker: bool) -> np.ndarray:
    """Grey-level dilation or erosion with a size x size square, done separably (fast)."""
    reduce = np.maximum if thicker else np.minimum
    half, (height, width) = size // 2, ink.shape
    padded = np.pad(ink, half)
    rows = reduce.reduce([padded[i : i + height] for i in range(size)])
    return reduce.reduce([rows[:, j : j + width] for j in range(size)])


def canvas_inputs(images: np.ndarray, seed: int = CANVAS_SEED) -> np.ndarray:
    """Every image drawn on a canvas and preprocessed by the server's code."""
    rng = np.random.default_rng(seed)
    return np.stack([canvas_to_input(draw_on_canvas(digit, rng)) for digit in images])


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


def evaluate(model: Path | bytes, x_test: np.ndarray, y_test: np.ndarray) -> dict:
    """Every figure of the model card's metrics section."""
    test = accuracy_report(predict(model, x_test.astype(np.float32) / 255.0), y_test)
    canvas = accuracy_report(predict(model, canvas_inputs(x_test)), y_test)
    drawings = load_drawings()
    drawn, labels = drawing_inputs(drawings)
    drawn_probabilities = predict(model, drawn)
    drawing_report = accuracy_report(drawn_probabilities, labels)
    drawing_report["mistakes"] = [
        {"name": d["name"], "label": d["label"], "predicted": int(p.argmax())}
        for d, p in zip(drawings, drawn_probabilities, strict=True)
        if p.argmax() != d["label"]
    ]
    return {
        "test_accuracy": test["accuracy"],
        "canvas_accuracy": canvas["accuracy"],
        "drawings_accuracy": drawing_report["accuracy"],
        "test": test,
        "canvas": canvas,
        "drawings": drawing_report,
    }
