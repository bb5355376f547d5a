"""The whole loop: corrections sent to the real app, stored, and learned from by
`python -m training finetune` (in --quick mode), which writes a model with a true lineage,
or refuses a poisoned set and writes nothing.

The feedback is MNIST *training* digits drawn on a 280x280 canvas, so the guard's MNIST
test set stays unseen. The parent is the committed model with its Keras weights.
"""

import hashlib
import io
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from feedback_helpers import b64
from starlette.testclient import TestClient

from serving.app import create_app
from serving.contract import CARD_FILE, MODEL_FILE, WEIGHTS_FILE
from serving.feedback import open_store
from serving.model import DigitModel
from tests.mnist_data import mnist_path
from training.canvas import draw_on_canvas
from training.data import load

REPO_ROOT = Path(__file__).resolve().parent.parent
PARENT = REPO_ROOT / "artifacts"


@pytest.fixture(scope="module")
def mnist():
    return load(mnist_path())


def collect(db: Path, digits: np.ndarray, labels: list[str], settings) -> list[int]:
    """Send each digit, drawn on a canvas, to POST /feedback with its label; the ids."""
    rng = np.random.default_rng(11)
    ids = []
    with TestClient(create_app(replace(settings, feedback_db=str(db)))) as client:
        version = client.get("/health").json()["model_version"]
        for digit, label in zip(digits, labels, strict=True):
            png = io.BytesIO()
            draw_on_canvas(digit, rng).save(png, format="PNG")
            response = client.post(
                "/feedback",
                json={"image": b64(png.getvalue()), "label": label, "model_version": version},
            )
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
    return ids


def finetune(feedback: str, out: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "training", "finetune", "--quick", "--feedback", feedback]
    return subprocess.run(
        [*command, "--model-dir", str(PARENT), "--out", str(out), "--data", str(mnist_path())],
        capture_output=True,
        text=True,
        timeout=1500,
    )


def test_a_quick_finetune_writes_a_model_with_its_lineage(mnist, settings, tmp_path):
    chosen = np.random.default_rng(3).choice(len(mnist.x_train), 300, replace=False)
    db = tmp_path / "feedback.sqlite3"
    ids = collect(db, mnist.x_train[chosen], [str(d) for d in mnist.y_train[chosen]], settings)
    store = open_store(str(db))
    rows = list(store.export())
    store.close()

    out = tmp_path / "new"
    done = finetune(str(db), out)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert {MODEL_FILE, WEIGHTS_FILE, CARD_FILE} <= {p.name for p in out.iterdir()}

    card = json.loads((out / CARD_FILE).read_text())
    parent = json.loads((PARENT / CARD_FILE).read_text())["model"]
    lineage = card["lineage"]
    assert lineage["parent"] == {"version": parent["version"], "sha256": parent["sha256"]}
    feedback = lineage["feedback"]
    assert feedback["submissions"] == 300
    assert (
        feedback["ids_sha256"]
        == hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()
    )
    assert feedback["first"] == min(r.created_at for r in rows)
    assert feedback["last"] == max(r.created_at for r in rows)
    assert 0 < feedback["held_out_submissions"] < 150
    assert feedback["learned_samples"] + feedback["held_out_samples"] == 300
    guard = lineage["guard"]
    assert guard["passed"] is True
    assert (
        set(guard["before"])
        == set(guard["after"])
        == {
            "mnist_test",
            "style_suite",
            "nondigit_suite",
            "feedback_held_out",
        }
    )
    assert guard["counts"]["mnist_test"] == 10_000
    assert guard["after"]["mnist_test"] >= guard["before"]["mnist_test"] - 0.1

    # The server loads it, and says which version is live.
    model = DigitModel.load(out / MODEL_FILE)
    assert model.info.version == card["model"]["version"] != parent["version"]
    assert card["model"]["version"].endswith("-ft-quick")
    with TestClient(create_app(replace(settings, model_path=out / MODEL_FILE))) as client:
        assert client.get("/health").json()["model_version"] == card["model"]["version"]


def test_a_poisoned_feedback_set_is_refused_by_the_guard(mnist, settings, tmp_path):
    """Every 1 labelled 7: learnable, and exactly what must never ship."""
    ones = np.flatnonzero(mnist.y_train == 1)[:300]
    db = tmp_path / "feedback.sqlite3"
    collect(db, mnist.x_train[ones], ["7"] * len(ones), settings)
    out = tmp_path / "new"
    done = finetune(str(db), out)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "refused" in done.stderr and "mnist_test" in done.stderr
    assert "points" in done.stderr
    assert not out.exists()


def test_too_little_feedback_is_a_clear_refusal(mnist, settings, tmp_path):
    db = tmp_path / "feedback.sqlite3"
    collect(db, mnist.x_train[:2], [str(d) for d in mnist.y_train[:2]], settings)
    done = finetune(str(db), tmp_path / "new")
    assert done.returncode == 2
    assert "not enough feedback" in done.stderr
    assert not (tmp_path / "new").exists()
