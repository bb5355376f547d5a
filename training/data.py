"""Load MNIST from the repository's copy or a local file, and refuse anything that is not MNIST.

A wrong or damaged file must stop the run with a message that says what to do, never
train on something else: a model trained on bad data looks fine until a user draws on it.
"""

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recognizer.contract import DIGIT_CLASSES, IMAGE_SIZE

MNIST_ENV = "MNIST_PATH"
COMMITTED_PATH = Path(__file__).resolve().parents[1] / "datasets" / "mnist.npz"
"""The copy committed with the code (datasets/README.md gives its source and licence), so that
a fresh clone trains and tests offline."""
COMMITTED_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
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


def resolve_path(path: str | os.PathLike | None = None) -> Path:
    """The flag wins over the environment; with neither, the repository's checked copy."""
    chosen = path or os.environ.get(MNIST_ENV)
    if chosen:
        return Path(chosen).expanduser()
    return committed_copy()


def committed_copy(file: Path = COMMITTED_PATH) -> Path:
    """The repository's MNIST, after checking that it is the committed file, byte for byte:
    a damaged checkout (or a Git LFS pointer in its place) must stop the run, not train."""
    if not file.is_file():
        raise DataError(
            f"MNIST file not found: {file}; restore datasets/ from git, "
            f"or pass --data PATH or set {MNIST_ENV}"
        )
    digest = sha256_of(file)
    if digest != COMMITTED_SHA256:
        raise DataError(
            f"{file} has sha256 {digest}, expected {COMMITTED_SHA256}: not the committed MNIST; "
            f"restore it with `git checkout -- datasets/mnist.npz`"
        )
    return file


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
        raise DataError(
            f"{file} is not a readable .npz archive ({exc}); replace it with a good copy"
        ) from exc
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
