"""Load MNIST from a local file or the official mirror, and refuse anything that is not MNIST.

A wrong or damaged file must stop the run with a message that says what to do, never
train on something else: a model trained on bad data looks fine until a user draws on it.
"""

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recognizer.contract import DIGIT_CLASSES, IMAGE_SIZE

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_URL_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
MNIST_ENV = "MNIST_PATH"
CACHE_PATH = Path.home() / ".cache" / "number-visualizer" / "mnist.npz"
EXPECTED_COUNTS = {"x_train": 60_000, "x_test": 10_000}


class DataError(RuntimeError):
    """MNIST could not be loaded as it must be; the message says what to do."""


@dataclass(frozen=True)
class Mnist:
    x_train: np.ndarray  # (60000, 28, 28) uint8, 0 = background
    y_train: np.ndarray  # (60000,) uint8 in 0..9
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    sha256: str


def resolve_path(path: str | os.PathLike | None) -> Path:
    """The flag wins over the environment; with neither, download (and cache) the real file."""
    chosen = path or os.environ.get(MNIST_ENV)
    if chosen:
        return Path(chosen).expanduser()
    return download()


def download(url: str = MNIST_URL, target: Path = CACHE_PATH) -> Path:
    """Fetch MNIST once, checking the published checksum."""
    if target.exists() and sha256_of(target) == MNIST_URL_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    try:
        urllib.request.urlretrieve(url, partial)
    except OSError as exc:
        raise DataError(
            f"could not download MNIST from {url} ({exc}); "
            f"pass a local copy with --data PATH or {MNIST_ENV}=PATH"
        ) from exc
    if sha256_of(partial) != MNIST_URL_SHA256:
        partial.unlink()
        raise DataError(f"the download from {url} has the wrong checksum; try again")
    partial.replace(target)
    return target


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load(path: str | os.PathLike | None = None) -> Mnist:
    """Load and validate MNIST: keys, shapes, dtypes, label range and split sizes."""
    file = resolve_path(path)
    if not file.is_file():
        raise DataError(f"MNIST file not found: {file}; pass --data PATH or set {MNIST_ENV}")
    try:
        with np.load(file, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as exc:
        raise DataError(
            f"{file} lacks the array {exc}; expected x_train, y_train, x_test, y_test"
        ) from exc
    except Exception as exc:  # zip, pickle and format errors all mean the same to the user
        raise DataError(f"{file} is not a readable .npz archive ({exc}); re-download it") from exc
    for split, count in EXPECTED_COUNTS.items():
        validate_split(arrays[split], arrays["y" + split[1:]], count, f"{file}: {split[2:]}")
    return Mnist(**arrays, source=str(file), sha256=sha256_of(file))


def validate_split(images: np.ndarray, labels: np.ndarray, count: int, where: str) -> None:
    """Raise DataError unless this is `count` MNIST images with labels 0-9."""
    expected = (count, IMAGE_SIZE, IMAGE_SIZE)
    if images.shape != expected:
        raise DataError(f"{where} images have shape {images.shape}, expected {expected}")
    if images.dtype != np.uint8:
        raise DataError(f"{where} images are {images.dtype}, expected uint8 pixels 0-255")
    if labels.shape != (count,):
        raise DataError(f"{where} labels have shape {labels.shape}, expected ({count},)")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{where} labels are {labels.dtype}, expected integers")
    if labels.min() < 0 or labels.max() >= DIGIT_CLASSES:
        raise DataError(f"{where} labels span {labels.min()}..{labels.max()}, expected 0-9")
    missing = set(range(DIGIT_CLASSES)) - set(np.unique(labels).tolist())
    if missing:
        raise DataError(f"{where} has no examples of digits {sorted(missing)}")
