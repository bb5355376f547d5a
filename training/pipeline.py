"""The two jobs of the package: make the artifacts, and re-check them.

run: train, export to ONNX (with the parity check), evaluate through onnxruntime,
then write the model, its card and its plots. evaluate: recompute the card's figures
from the files on disk, which is how anyone can check a committed model.
"""

import datetime as dt
import time
from pathlib import Path

import numpy as np

from training import card as cards
from training.config import QUICK_TEST_SIZE, TrainConfig
from training.data import Mnist, load
from training.evaluate import evaluate

PARITY_IMAGES = 1_000
HEADLINE = ("test_accuracy", "canvas_accuracy", "drawings_accuracy")


def test_split(data: Mnist, quick: bool) -> tuple[np.ndarray, np.ndarray]:
    if quick:
        return data.x_test[:QUICK_TEST_SIZE], data.y_test[:QUICK_TEST_SIZE]
    return data.x_test, data.y_test


def run(config: TrainConfig, data_path: str | None, out_dir: Path) -> dict:
    started = time.perf_counter()
    data = load(data_path)  # before TensorFlow loads: bad data fails in a blink

    # TensorFlow loads only here, so `evaluate` and the tests of the rest stay light.
    from training.export import check_parity, to_onnx
    from training.plots import plot_confusion, plot_history
    from training.train import scaled, train

    result = train(data, config)

    created = dt.datetime.now(dt.timezone.utc)
    model_version = created.strftime("%Y%m%d.%H%M%S") + ("-quick" if config.quick else "")
    proto = to_onnx(
        result.model,
        {
            "version": model_version,
            "created": created.isoformat(timespec="seconds"),
            "training_seed": str(config.seed),
            "data_sha256": data.sha256,
        },
    )
    onnx_bytes = proto.SerializeToString()
    parity = check_parity(result.model, onnx_bytes, scaled(data.x_test[:PARITY_IMAGES]))
    print(f"parity: {parity}")

    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / cards.MODEL_FILE
    model_path.write_bytes(onnx_bytes)
    x_test, y_test = test_split(data, config.quick)
    metrics = evaluate(model_path, x_test, y_test)

    card = {
        "model": cards.model_entry(model_path, model_version, result.model.count_params()),
        "metrics": metrics,
        "parity": parity,
        "data": {
            "file": Path(data.source).name,
            "sha256": data.sha256,
            "train_examples": result.train_examples,
            "synthetic_examples": result.synthetic_examples,
            "validation_examples": config.validation_size,
            "test_examples": len(y_test),
        },
        "training": {
            "config": config.as_dict(),
            "epochs_run": len(result.history["loss"]),
            "best_epoch": result.best_epoch,
            "best_val_accuracy": result.history["val_accuracy"][result.best_epoch - 1],
            "train_seconds": round(result.seconds, 1),
            "total_seconds": round(time.perf_counter() - started, 1),
            "history": result.history,
        },
        "versions": cards.package_versions(),
        "created_at": created.isoformat(timespec="seconds"),
    }
    cards.write_card(card, out_dir)
    plot_history(result.history, out_dir / "training_history.png")
    plot_confusion(
        metrics["test"]["confusion_matrix"],
        f"MNIST test set: {metrics['test_accuracy']:.2%} correct",
        out_dir / "confusion_matrix.png",
    )
    print_summary(metrics)
    print(f"wrote {out_dir}/ in {card['training']['total_seconds']:.0f} s")
    return card


def reevaluate(model_dir: Path, data_path: str | None, check: bool) -> bool:
    """Recompute the card's figures; with `check`, say whether they all match."""
    card = cards.read_card(model_dir)
    model_path = model_dir / card["model"]["file"]
    entry = cards.model_entry(model_path, card["model"]["version"], card["model"]["parameters"])
    data = load(data_path)
    x_test, y_test = test_split(data, card["training"]["config"]["quick"])
    metrics = evaluate(model_path, x_test, y_test)
    print_summary(metrics)
    if not check:
        return True
    problems = [
        f"{key}: card says {card['metrics'][key]}, now {metrics[key]}"
        for key in HEADLINE
        if abs(card["metrics"][key] - metrics[key]) > 1e-6
    ]
    if entry["sha256"] != card["model"]["sha256"]:
        problems.append(f"{model_path.name}: sha256 differs from the card")
    for problem in problems:
        print(f"MISMATCH {problem}")
    if not problems:
        print("the model card's figures are reproduced")
    return not problems


def print_summary(metrics: dict) -> None:
    for key in HEADLINE:
        print(f"{key:>18}: {metrics[key]:.4%}")
    for mistake in metrics["drawings"]["mistakes"]:
        print(f"  drawing '{mistake['name']}' read as {mistake['predicted']}")
