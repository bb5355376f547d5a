"""Where the tests find the real MNIST file: $MNIST_PATH, else the workspace's shared copy."""

import os
from pathlib import Path

import pytest

SHARED_COPY = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


def mnist_path() -> Path:
    """The real MNIST file; the tests that train or re-evaluate cannot do without it."""
    path = Path(os.environ.get("MNIST_PATH", SHARED_COPY))
    if not path.is_file():
        pytest.fail(f"MNIST not found at {path}: set MNIST_PATH to a copy of mnist.npz")
    return path
