"""Fixtures shared by the serving tests: the real app, with its lifespan, on the committed model."""

import base64
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from bench.digits import canvas_pngs
from serving.app import create_app
from serving.settings import Settings, load_settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The service's settings as the environment gives them (artifacts/ model by default)."""
    return replace(load_settings(), cors_origins=())


@pytest.fixture(scope="session")
def client(settings: Settings):
    """One running app for the session: building it loads and warms up the model."""
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="session")
def canvases() -> tuple[list[bytes], list[int]]:
    """Canvas PNGs (280x280, black ink on white) of 300 real MNIST test digits, and labels."""
    pngs, labels = canvas_pngs(300, seed=1)
    return pngs, [int(label) for label in labels]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
