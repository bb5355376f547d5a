"""The MNIST loader accepts the real file and refuses anything else with a clear message."""

import numpy as np
import pytest

from tests.mnist_data import mnist_path
from training.data import (
    COMMITTED_PATH,
    DataError,
    committed_copy,
    load,
    resolve_path,
    validate_split,
)

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
"""Label counts for digits 0-9 of the original MNIST files (datasets/README.md)."""


def test_real_mnist_loads_with_known_facts():
    data = load(mnist_path())
    assert data.x_train.shape == (60_000, 28, 28) and data.x_test.shape == (10_000, 28, 28)
    assert (data.y_train[0], data.y_test[0]) == (5, 7)  # original MNIST order
    assert np.bincount(data.y_test).tolist()[:3] == [980, 1135, 1032]


def test_the_committed_copy_is_real_mnist():
    """The repository's copy is what a fresh clone trains on: the original order and counts."""
    data = load(committed_copy())
    assert (data.y_train[0], data.y_test[0]) == (5, 7)
    assert np.bincount(data.y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(data.y_test).tolist() == TEST_COUNTS
    assert round(float(data.x_train.mean()) / 255, 6) == 0.130660


def test_without_a_path_the_committed_copy_is_used(monkeypatch):
    monkeypatch.delenv("MNIST_PATH", raising=False)
    assert resolve_path() == COMMITTED_PATH


def test_an_altered_committed_copy_is_refused(tmp_path):
    altered = tmp_path / "mnist.npz"
    data = bytearray(COMMITTED_PATH.read_bytes())
    data[len(data) // 2] ^= 1  # one bit of one image's compressed pixels
    altered.write_bytes(data)
    with pytest.raises(DataError, match=r"has sha256 .* not the committed MNIST; restore it"):
        committed_copy(altered)


def test_a_missing_committed_copy_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match=r"not found: .*restore datasets/ from git"):
        committed_copy(tmp_path / "mnist.npz")


def test_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match=r"not found.*--data"):
        load(tmp_path / "nowhere.npz")


def test_environment_variable_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "from-env.npz"))
    with pytest.raises(DataError, match=r"from-env\.npz"):
        load()


def test_not_an_archive(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(b"this is not a zip file")
    with pytest.raises(DataError, match=r"not a readable \.npz"):
        load(path)


def test_truncated_archive(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(mnist_path().read_bytes()[:100_000])
    with pytest.raises(DataError):
        load(path)


def test_missing_array(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(DataError, match="lacks the array"):
        load(path)


def test_wrong_shape(tmp_path):
    path = tmp_path / "mnist.npz"
    images, labels = np.zeros((100, 28, 28), np.uint8), np.arange(100, dtype=np.uint8) % 10
    np.savez(path, x_train=images, y_train=labels, x_test=images, y_test=labels)
    with pytest.raises(DataError, match=r"shape \(100, 28, 28\), expected \(60000, 28, 28\)"):
        load(path)


def test_bad_labels():
    images = np.zeros((20, 28, 28), np.uint8)
    with pytest.raises(DataError, match=r"labels span 0\.\.10"):
        validate_split(images, np.arange(20) % 11, 20, "train")
    with pytest.raises(DataError, match=r"no examples of digits \[9\]"):
        validate_split(images, np.arange(20) % 9, 20, "train")


def test_wrong_dtype():
    with pytest.raises(DataError, match="float32, expected uint8"):
        validate_split(np.zeros((20, 28, 28), np.float32), np.arange(20) % 10, 20, "test")
