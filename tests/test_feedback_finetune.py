"""The whole loop: corrections sent to the real app, stored, and learned from by
`python -m training finetune` (in --quick mode), which writes a model with a true lineage,
or refuses a poisoned set and writes nothing.

The feedback is MNIST *training* digits drawn on a 280x280 canvas, so the guard's MNIST
test set stays unseen. The parent is the committed model with its Keras weights.
"""

import hashlib
import json
import subprocess
import sys
import urllib.error
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from feedback_helpers import TOKEN, b64
from starlette.testclient import TestClient
from test_feedback_storage import Server

from bench.digits import draw_on_canvas, to_png
from feedback import open_store
from feedback.export import render
from recognizer.contract import CARD_FILE, MODEL_FILE, WEIGHTS_FILE
from recognizer.model import DigitModel
from serving.app import create_app
from tests.mnist_data import mnist_path
from training.data import load
from training.feedback_set import (
    FeedbackSet,
    NotEnoughFeedback,
    load_rows,
    repeats,
    split,
    usable,
)

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
            png = to_png(draw_on_canvas(digit, rng))
            response = client.post(
                "/feedback", json={"image": b64(png), "label": label, "model_version": version}
            )
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
    return ids


def finetune(feedback: str, out: Path, report: Path | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "training", "finetune", "--quick", "--feedback", feedback]
    command += ["--report", str(report)] if report else []
    return subprocess.run(
        [*command, "--model-dir", str(PARENT), "--out", str(out), "--data", str(mnist_path())],
        capture_output=True,
        text=True,
        timeout=1500,
    )


def test_feedback_loads_from_an_export_a_database_or_the_server(mnist, settings, tmp_path):
    db = tmp_path / "feedback.sqlite3"
    collect(db, mnist.x_train[:4], ["5", "0", "4", "1"], settings)
    from_db = load_rows(str(db))
    assert [row.feedback.label for row in from_db] == ["5", "0", "4", "1"]
    for form in ("ndjson", "csv"):
        path = tmp_path / f"feedback.{form}"
        path.write_text("".join(render(from_db, form)), encoding="utf-8")
        assert load_rows(str(path)) == [replace_key(row) for row in from_db]
    server = Server(str(db))
    server.start()
    try:
        assert load_rows(server.url, TOKEN) == [replace_key(row) for row in from_db]
        with pytest.raises(urllib.error.HTTPError, match="401"):
            load_rows(server.url + "/feedback/export", "wrong-token-wrong-token")
    finally:
        server.stop()


def replace_key(row):
    """An exported row carries no idempotency key."""
    return row._replace(feedback=replace(row.feedback, client_key=None))


def test_the_split_depends_on_ids_only_and_holds_out_about_the_share(mnist, settings, tmp_path):
    db = tmp_path / "feedback.sqlite3"
    collect(db, mnist.x_train[:200], [str(d) for d in mnist.y_train[:200]], settings)
    rows = load_rows(str(db))
    learn, held = split(rows, 0.2)
    again_learn, again_held = split(rows[::-1], 0.2)
    assert {r.id for r in held} == {r.id for r in again_held}
    assert {r.id for r in learn} == {r.id for r in again_learn}
    assert 20 <= len(held) <= 60 and len(learn) + len(held) == 200


def test_digits_with_too_few_samples_are_left_out_and_repeats_are_capped():
    labels = np.array([7] * 12 + [1] * 3, np.uint8)
    images = np.zeros((15, 28, 28), np.float32)
    kept, left_out = usable(FeedbackSet(images, labels, np.arange(15)), min_per_class=10)
    assert set(kept.labels) == {7} and left_out == ["1"]
    with pytest.raises(NotEnoughFeedback, match="at least 20 samples"):
        usable(FeedbackSet(images, labels, np.arange(15)), min_per_class=20)
    assert repeats(100, mix_size=10_000, most=10, share=0.1) == 10
    assert repeats(500, mix_size=10_000, most=10, share=0.1) == 2
    assert repeats(5_000, mix_size=10_000, most=10, share=0.1) == 1


def test_a_quick_finetune_writes_a_model_with_its_lineage(mnist, settings, tmp_path):
    chosen = np.random.default_rng(3).choice(len(mnist.x_train), 300, replace=False)
    db = tmp_path / "feedback.sqlite3"
    ids = collect(db, mnist.x_train[chosen], [str(d) for d in mnist.y_train[chosen]], settings)
    store = open_store(str(db))
    rows = list(store.export())
    store.close()

    out = tmp_path / "new"
    done = finetune(str(db), out, report=tmp_path / "report.json")
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

    report = json.loads((tmp_path / "report.json").read_text())
    assert report == {"written": True, "version": card["model"]["version"], "guard": guard}

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
    done = finetune(str(db), out, report=tmp_path / "report.json")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "refused" in done.stderr
    # It names the sets that got worse (which ones depends on the parent) and by how much.
    guarded = ("mnist_test", "style_suite", "nondigit_suite", "feedback_held_out")
    assert any(f"{name}: " in done.stderr for name in guarded)
    assert "points; at most" in done.stderr
    assert not out.exists()
    # The report holds the figures the refusal is based on, as a written card would.
    report = json.loads((tmp_path / "report.json").read_text())
    guard = report["guard"]
    assert report["written"] is False and guard["passed"] is False
    worse = [
        name
        for name, limit in guard["max_drop_points"].items()
        if guard["before"][name] - guard["after"][name] > limit
    ]
    assert worse and all(f"{name}: " in done.stderr for name in worse)


def test_too_little_feedback_is_a_clear_refusal(mnist, settings, tmp_path):
    db = tmp_path / "feedback.sqlite3"
    collect(db, mnist.x_train[:2], [str(d) for d in mnist.y_train[:2]], settings)
    done = finetune(str(db), tmp_path / "new")
    assert done.returncode == 2
    assert "not enough feedback" in done.stderr
    assert not (tmp_path / "new").exists()
