"""Where the tests find the real MNIST file: $MNIST_PATH, else the repository's copy in
datasets/ (sha256 checked). A missing or altered file fails the tests that need MNIST with
one line saying what to do; there is no stand-in data."""

import functools
from pathlib import Path

import pytest

from training.data import MNIST_ENV, DataError, resolve_path


@functools.cache
def mnist_path() -> Path:
    """The real MNIST file; the tests that train or re-evaluate cannot do without it."""
    try:
        path = resolve_path()
    except DataError as exc:
        pytest.fail(f"MNIST: {exc}", False)
    if not path.is_file():
        pytest.fail(f"{MNIST_ENV}={path} is not a file: point it at a copy of mnist.npz", False)
    return path
