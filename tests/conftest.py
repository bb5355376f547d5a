"""Fixtures shared by the serving tests (the real app, with its lifespan, on the committed model),
and the tiers: what keeps a test out of `make test-fast`."""

import base64
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from bench.digits import canvas_pngs
from serving.app import create_app
from serving.settings import Settings, load_settings
from tests import tiers

REQUEST_ID = "test-request"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier (tests/tiers.py), so that `-m` can choose a tier."""
    tiers.mark(items)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test that needs a Debian package this machine lacks fails at once, saying which."""
    if reason := tiers.missing_debian_package(marker.name for marker in item.iter_markers()):
        pytest.fail(reason, pytrace=False)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The service's settings as the environment gives them (artifacts/ model by default),
    with feedback stored in a temporary file rather than the working directory's data/."""
    feedback_db = str(tmp_path_factory.mktemp("feedback") / "feedback.sqlite3")
    return replace(load_settings(), cors_origins=(), feedback_db=feedback_db)


@pytest.fixture(scope="session")
def client(settings: Settings):
    """One running app for the session: building it loads and warms up the model."""
    # A fixed request id, so that answers to the same image compare equal.
    with TestClient(create_app(settings), headers={"X-Request-ID": REQUEST_ID}) as client:
        yield client


@pytest.fixture(scope="session")
def canvases() -> tuple[list[bytes], list[int]]:
    """Canvas PNGs (280x280, black ink on white) of 300 real MNIST test digits, and labels."""
    pngs, labels = canvas_pngs(300, seed=1)
    return pngs, [int(label) for label in labels]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
