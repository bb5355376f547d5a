"""The fast tier, `make test-fast` (`python -m pytest -p tests.fast_tier`): the unit and API
tests, with no browser, no PostgreSQL, no TensorFlow and nothing that takes seconds.

What only the `train` extra installs cannot even be imported here (`sys.modules[name] = None`
makes `import name` raise), so the tier runs on the `serve` and `dev` extras alone, and a fast
test that pulls TensorFlow in fails at once instead of slowing the tier down. The modules of
the tensorflow tier are not collected at all.
"""

import sys
from pathlib import Path

import pytest

from tests.tiers import FAST, TIERS

TRAIN_ONLY = ("tensorflow", "keras", "tf2onnx", "onnx", "matplotlib")

for name in TRAIN_ONLY:
    if name in sys.modules:
        raise RuntimeError(f"{name} was imported before the fast tier could keep it out")
    sys.modules[name] = None  # type: ignore[assignment]


def pytest_configure(config: pytest.Config) -> None:
    config.option.markexpr = FAST


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    return TIERS.get(collection_path.stem) == "tensorflow" or None
