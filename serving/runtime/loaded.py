"""A model this process has already loaded and checked, handed once to the app's lifespan.

`python -m serving` loads the model before it serves, so that a model that cannot be
loaded ends the start-up with one line; a forked worker loads its own before it takes
connections, for the same reason. The app's lifespan would then load the same file a
second time; it takes the loaded one instead. Apps built any other way (the tests'
create_app) find nothing here and load their own.

This module imports no onnxruntime: the supervisor imports it before it forks workers.
"""

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recognizer.model import DigitModel

_kept: dict[tuple[Path, int], "DigitModel"] = {}


def keep(model: "DigitModel", threads: int) -> None:
    """Hold `model` (loaded with `threads` onnxruntime threads) for the next take()."""
    _kept[(model.info.path, threads)] = model


def take(path: Path, threads: int) -> "DigitModel | None":
    """The kept model for this file and thread count, once; None if there is none."""
    return _kept.pop((Path(path), threads), None)
