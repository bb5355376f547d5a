"""The model card: everything needed to trust, reproduce and serve an exported model."""

import hashlib
import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from recognizer.contract import (
    CARD_FILE,
    IMAGE_SIZE,
    INPUT_NAME,
    OUTPUT_CLASSES,
    OUTPUT_NAME,
)

TRACKED_PACKAGES = ("tensorflow-cpu", "keras", "tf2onnx", "onnx", "onnxruntime", "numpy", "pillow")


def package_versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def model_entry(path: Path, model_version: str, parameters: int) -> dict:
    data = path.read_bytes()
    return {
        "file": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "version": model_version,
        "parameters": parameters,
        "input": {
            "name": INPUT_NAME,
            "dtype": "float32",
            "shape": ["N", IMAGE_SIZE, IMAGE_SIZE, 1],
            "range": [0.0, 1.0],
            "polarity": "white digit on black",
            "normalisation": "MNIST: cropped to ink, longer side 20 px, centred by mass in 28x28",
        },
        "output": {"name": OUTPUT_NAME, "dtype": "float32", "shape": ["N", OUTPUT_CLASSES]},
    }


def write_card(card: dict, out_dir: Path) -> Path:
    path = out_dir / CARD_FILE
    path.write_text(json.dumps(card, indent=2) + "\n")
    return path


def read_card(model_dir: Path) -> dict:
    return json.loads((model_dir / CARD_FILE).read_text())
