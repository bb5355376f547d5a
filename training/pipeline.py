"""The two jobs of the package: make the artifacts, and re-check them.

run: train, fit the calibration temperature, export to ONNX (with the parity check),
write the model, its Keras weights (for fine-tuning) and its card, then evaluate through
the server's own model wrapper and add the figures to the card. evaluate: recompute the
card's figures from the files on disk, which is how anyone can check a committed model
(and, with --write, how the figures of a model are refreshed after the suites change).
"""

import datetime as dt
import time
from pathlib import Path

import numpy as np

from recognizer.contract import MODEL_FILE, WEIGHTS_FILE, model_batch
from training import card as cards
from training import pendigits
from training.config import QUICK_TEST_SIZE, TrainConfig
from training.data import Mnist, load

PARITY_IMAGES = 1_000
HEADLINE = (
    "test_accuracy",
    "canvas_accuracy",
    "drawings_accuracy",
    "style_suite_accuracy",
    "nondigit_catch_rate",
    "canvas_rejected_rate",
    "canvas_ece",
    "pen_held_out_accuracy",
    "real_digits_refused_rate",
    "numbers_separated_exact",
    "numbers_touching_pairs_exact",
)


def test_split(data: Mnist, quick: bool) -> tuple[np.ndarray, np.ndarray]:
    if quick:
        return data.x_test[:QUICK_TEST_SIZE], data.y_test[:QUICK_TEST_SIZE]
    return data.x_test, data.y_test


def run(
    config: TrainConfig, data_path: str | None, out_dir: Path, pen_path: str | None = None
) -> dict:
    started = time.perf_counter()
    data = load(data_path)  # before TensorFlow loads: bad data fails in a blink
    pen_train, _ = pendigits.split_by_writer(pendigits.load(pen_path))

    # TensorFlow loads only here, so `evaluate` and the tests of the rest stay light.
    from training.onnx_export import check_parity, to_onnx
    from training.plots import plot_history
    from training.train import train

    result = train(data, config, pen_train)

    created = dt.datetime.now(dt.timezone.utc)
    model_version = created.strftime("%Y%m%d.%H%M%S") + ("-quick" if config.quick else "")
    proto = to_onnx(
        result.model,
        result.temperature,
        {
            "version": model_version,
            "created": created.isoformat(timespec="seconds"),
            "training_seed": str(config.seed),
            "data_sha256": data.sha256,
            "temperature": f"{result.temperature:.6f}",
        },
    )
    onnx_bytes = proto.SerializeToString()
    parity = check_parity(
        result.model, result.temperature, onnx_bytes, model_batch(data.x_test[:PARITY_IMAGES])
    )
    print(f"parity: {parity}")

    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / MODEL_FILE
    model_path.write_bytes(onnx_bytes)
    result.model.save_weights(out_dir / WEIGHTS_FILE)
    card = {
        "model": cards.model_entry(model_path, model_version, result.model.count_params()),
        "calibration": {"temperature": round(result.temperature, 6)},
        "parity": parity,
        "data": {
            "file": Path(data.source).name,
            "sha256": data.sha256,
            "train_examples": result.train_examples,
            "synthetic_examples": result.synthetic_examples,
            "nondigit_examples": result.nondigit_examples,
            "validation_examples": config.validation_size,
            "pen_written": pen_card_entry(result.pen_examples, result.train_examples),
        },
        "training": {
            "config": config.as_dict(),
            "epochs_run": len(result.history["loss"]),
            "best_epoch": result.best_epoch,
            "best_val_accuracy": result.history["val_accuracy"][result.best_epoch - 1],
            "train_seconds": round(result.seconds, 1),
            "history": result.history,
        },
        "versions": cards.package_versions(),
        "created_at": created.isoformat(timespec="seconds"),
    }
    cards.write_card(card, out_dir)
    plot_history(result.history, out_dir / "training_history.png")
    card = reevaluate(out_dir, data, write=True)
    card["training"]["total_seconds"] = round(time.perf_counter() - started, 1)
    cards.write_card(card, out_dir)
    print(f"wrote {out_dir}/ in {card['training']['total_seconds']:.0f} s")
    return card


def pen_card_entry(examples: int, train_examples: int) -> dict:
    """What the card says of the real pen-written digits: source, licence, credit, share."""
    return {
        "file": pendigits.FILE_NAME,
        "sha256": pendigits.SHA256,
        "licence": pendigits.LICENCE,
        "credit": pendigits.CREDIT,
        "held_out_writers": list(pendigits.HELD_OUT_WRITERS),
        "train_examples": examples,
        "share_of_training": round(examples / train_examples, 4),
    }


def reevaluate(model_dir: Path, data: Mnist, write: bool = False) -> dict:
    """Recompute the card's figures through the served model wrapper; with `write`, store them
    in the card (and redraw the confusion matrix). Returns the card with the new figures."""
    from training.evaluate import evaluate  # imported late: training may run for many minutes
    from training.plots import plot_confusion

    card = cards.read_card(model_dir)
    x_test, y_test = test_split(data, card["training"]["config"]["quick"])
    metrics = evaluate(model_dir / card["model"]["file"], x_test, y_test)
    print_summary(metrics)
    card["metrics"] = metrics
    card["data"]["test_examples"] = len(y_test)
    if write:
        cards.write_card(card, model_dir)
        plot_confusion(
            metrics["test"]["confusion_matrix"],
            f"MNIST test set: {metrics['test_accuracy']:.2%} correct",
            model_dir / "confusion_matrix.png",
        )
    return card


def check(model_dir: Path, data_path: str | None) -> bool:
    """Whether the card's figures and checksum are reproduced by the files on disk."""
    recorded = cards.read_card(model_dir)
    entry = cards.model_entry(
        model_dir / recorded["model"]["file"],
        recorded["model"]["version"],
        recorded["model"]["parameters"],
    )
    metrics = reevaluate(model_dir, load(data_path))["metrics"]
    problems = [
        f"{key}: card says {recorded['metrics'][key]}, now {metrics[key]}"
        for key in HEADLINE
        if abs(recorded["metrics"][key] - metrics[key]) > 1e-6
    ]
    if entry["sha256"] != recorded["model"]["sha256"]:
        problems.append(f"{entry['file']}: sha256 differs from the card")
    for problem in problems:
        print(f"MISMATCH {problem}")
    if not problems:
        print("the model card's figures are reproduced")
    return not problems


def print_summary(metrics: dict) -> None:
    for key in HEADLINE:
        print(f"{key:>22}: {metrics[key]:.4%}")
    for mistake in metrics["drawings"]["mistakes"]:
        print(f"  drawing '{mistake['name']}' read as {mistake['predicted']}")
