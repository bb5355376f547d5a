"""The ONNX model: verified against its model card, loaded once, warmed up, then run.

A model file that is missing, truncated or not the one its card describes must
stop the server at start-up with one clear line, not fail on the first request.
"""

import hashlib
import json
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from recognizer.contract import (
    CARD_FILE,
    IMAGE_SIZE,
    INPUT_NAME,
    OUTPUT_CLASSES,
    OUTPUT_NAME,
    model_batch,
)

PARALLEL_BATCH = 4
"""A batch of at least this many images (a number's digits, a batch request) runs in two
halves at once, one on a helper thread: onnxruntime releases the GIL, so where a second
core is free, a six-digit number's run takes about 0.8 ms instead of 1.4 ms. Smaller
batches, the single digits of the hot path, never leave the calling thread."""


class ModelError(RuntimeError):
    """The model cannot be served; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class ModelInfo:
    """What the service reports about the model it serves."""

    path: Path
    version: str
    sha256: str
    parameters: int | None


def read_verified(path: Path) -> tuple[bytes, ModelInfo]:
    """The model's bytes and card, after checking the bytes are the ones the card names."""
    card_path = path.with_name(CARD_FILE)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(
            f"cannot read the model {path}: {exc.strerror}; set MODEL_PATH to the .onnx file "
            "(next to its model_card.json) or run `make train-export`"
        ) from exc
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))["model"]
        expected, version = str(card["sha256"]).lower(), str(card["version"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"cannot read the model card {card_path} ({exc.__class__.__name__}: {exc}); "
            "it must sit next to the model and hold model.sha256 and model.version"
        ) from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ModelError(
            f"the model {path} does not match its card: sha256 {actual[:12]}... != "
            f"{expected[:12]}... in {card_path.name}; the file is corrupt or the card is stale"
        )
    parameters = card.get("parameters")
    return data, ModelInfo(
        path, version, actual, parameters if isinstance(parameters, int) else None
    )


class DigitModel:
    """An onnxruntime session behind one method: 28x28 images in, probabilities out."""

    def __init__(self, session: ort.InferenceSession, info: ModelInfo) -> None:
        self._session = session
        self.info = info
        self._helper: ThreadPoolExecutor | None = None  # see _started
        self._parallel = (
            len(os.sched_getaffinity(0)) > 1
            if hasattr(os, "sched_getaffinity")
            else (os.cpu_count() or 1) > 1
        )
        self._outputs = [OUTPUT_NAME]
        metadata = session.get_modelmeta().custom_metadata_map
        self.temperature = float(metadata.get("temperature", 1.0))
        """The calibration temperature baked into the graph (1.0: an uncalibrated model)."""

    @classmethod
    def load(cls, path: Path, threads: int = 1) -> "DigitModel":
        """Verify, load and warm up; raises ModelError with a one-line reason."""
        data, info = read_verified(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spinning threads burn a core while idle; on a small shared machine that costs more
        # than the microseconds it saves.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad graphs
            raise ModelError(f"onnxruntime cannot load {path}: {exc}".splitlines()[0]) from exc
        model = cls(session, info)
        model._check_contract()
        model.warm_up()
        return model

    def _check_contract(self) -> None:
        inputs = {i.name for i in self._session.get_inputs()}
        outputs = {o.name for o in self._session.get_outputs()}
        if INPUT_NAME not in inputs or OUTPUT_NAME not in outputs:
            raise ModelError(
                f"{self.info.path} has inputs {sorted(inputs)} and outputs {sorted(outputs)}; "
                f"the service needs input {INPUT_NAME!r} and output {OUTPUT_NAME!r}"
            )

    def warm_up(self) -> None:
        """One inference at start-up, so readiness means a prediction has really worked."""
        probabilities = self.predict(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32))
        if probabilities.shape != (1, OUTPUT_CLASSES) or not np.isfinite(probabilities).all():
            raise ModelError(
                f"warm-up inference on {self.info.path} gave shape {probabilities.shape}; "
                f"expected (1, {OUTPUT_CLASSES}) finite probabilities"
            )

    def predict(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) images (uint8, or float32 in [0, 1]) to (N, 11) probabilities."""
        batch = model_batch(images)
        if len(batch) < PARALLEL_BATCH or not self._parallel:
            return self._run(batch)
        half = (len(batch) + 1) // 2
        second = self._started().submit(self._run, batch[half:])
        first = self._run(batch[:half])
        # A helper busy with a streamed chunk (see submit) may not have begun the other half.
        return np.concatenate(
            (first, self._run(batch[half:]) if second.cancel() else second.result())
        )

    def submit(self, images: np.ndarray) -> Future:
        """Start reading `images` on the helper thread: a caller still preparing more
        images (number mode's crops) keeps the second core busy with the model meanwhile,
        and may cancel a run not yet begun to do it itself. With one core, they are read
        now."""
        batch = model_batch(images)
        if self._parallel:
            return self._started().submit(self._run, batch)
        done: Future = Future()
        done.set_result(self._run(batch))
        return done

    def _started(self) -> ThreadPoolExecutor:
        """The helper thread, started by the first batch that needs it."""
        if self._helper is None:
            self._helper = ThreadPoolExecutor(1, thread_name_prefix="model-helper")
        return self._helper

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return self._session.run(self._outputs, {INPUT_NAME: batch})[0]
