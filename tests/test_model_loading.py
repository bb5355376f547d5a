"""A missing, corrupt or mismatched model stops start-up with one clear line."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest
from starlette.testclient import TestClient

from recognizer.contract import CARD_FILE as CARD_NAME
from recognizer.model import PARALLEL_BATCH, DigitModel, ModelError
from serving.app import create_app
from serving.settings import Settings


@pytest.fixture
def model_copy(tmp_path, settings: Settings):
    """The committed model and its card, copied where a test may damage them."""
    target = tmp_path / settings.model_path.name
    shutil.copy(settings.model_path, target)
    shutil.copy(settings.model_path.with_name(CARD_NAME), target.with_name(CARD_NAME))
    return target


def test_the_committed_model_loads_and_matches_its_card(settings):
    model = DigitModel.load(settings.model_path)
    card = json.loads(settings.model_path.with_name(CARD_NAME).read_text())["model"]
    assert model.info.sha256 == card["sha256"]
    assert model.info.version == card["version"]
    assert settings.model_path.stat().st_size == card["size_bytes"]


@pytest.mark.parametrize("count", [1, PARALLEL_BATCH - 1, PARALLEL_BATCH, 7, 64])
def test_a_large_batch_in_two_halves_gives_each_image_its_own_answer(settings, count):
    """A batch of PARALLEL_BATCH or more runs in two halves on two threads: the answers
    must come back in order, each the image's own."""
    import numpy as np

    model = DigitModel.load(settings.model_path)
    images = np.random.default_rng(count).random((count, 28, 28), dtype=np.float32)
    images[::2] *= images[::2] > 0.7  # sparse strokes and dense noise, so answers differ
    alone = np.concatenate([model.predict(image[None]) for image in images])
    together = model.predict(images)
    assert together.shape == alone.shape
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert (together.argmax(axis=1) == alone.argmax(axis=1)).all()
    assert (model._helper is not None) == (count >= PARALLEL_BATCH and model._parallel)


def test_missing_model(tmp_path):
    with pytest.raises(ModelError, match=r"cannot read the model .*MODEL_PATH"):
        DigitModel.load(tmp_path / "nothing.onnx")


def test_missing_card(model_copy):
    model_copy.with_name(CARD_NAME).unlink()
    with pytest.raises(ModelError, match="cannot read the model card"):
        DigitModel.load(model_copy)


def test_checksum_mismatch(model_copy):
    data = bytearray(model_copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_copy.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match its card"):
        DigitModel.load(model_copy)


def test_corrupt_model_that_matches_a_forged_card(model_copy):
    garbage = b"this is not an onnx graph" * 10
    model_copy.write_bytes(garbage)
    card = json.loads(model_copy.with_name(CARD_NAME).read_text())
    card["model"]["sha256"] = hashlib.sha256(garbage).hexdigest()
    model_copy.with_name(CARD_NAME).write_text(json.dumps(card))
    with pytest.raises(ModelError, match="onnxruntime cannot load"):
        DigitModel.load(model_copy)


def test_the_app_does_not_start_without_its_model(tmp_path, settings):
    app = create_app(Settings(model_path=tmp_path / "nothing.onnx", web_dir=settings.web_dir))
    with pytest.raises(ModelError), TestClient(app):
        pass


def test_the_server_exits_with_one_clear_line(tmp_path):
    env = {**os.environ, "MODEL_PATH": str(tmp_path / "nothing.onnx"), "PORT": "18398"}
    result = subprocess.run(
        [sys.executable, "-m", "serving"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith("number-visualizer: cannot start: cannot read the model")
