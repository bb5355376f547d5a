"""Where the tests find the real MNIST file.

In order: $MNIST_PATH; the workspace's shared copy beside the clone; training's
download cache (~/.cache/number-visualizer/mnist.npz), filled once from the official
mirror with its published checksum checked. Offline and with no copy, the tests that
need MNIST fail with one line saying how to point them at one.
"""

import functools
import os
from pathlib import Path

import pytest

from training.data import MNIST_ENV, DataError, download

SHARED_COPY = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


@functools.cache
def mnist_path() -> Path:
    """The real MNIST file; the tests that train or re-evaluate cannot do without it."""
    if MNIST_ENV in os.environ:
        path = Path(os.environ[MNIST_ENV]).expanduser()
        if not path.is_file():
            pytest.fail(f"{MNIST_ENV}={path} is not a file: point it at a copy of mnist.npz")
        return path
    if SHARED_COPY.is_file():
        return SHARED_COPY
    try:
        return download()
    except DataError as exc:
        reason = str(exc).partition(";")[0]
    pytest.fail(f"MNIST not found ({reason}): set {MNIST_ENV}=/path/to/mnist.npz", False)
