"""Dozens of simultaneous requests to a real server process, all answered correctly."""

import base64
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from starlette.testclient import TestClient

from bench.server import free_port, start_server, stop_server, wait_ready
from serving.app import create_app

REQUESTS = 64


@pytest.fixture(scope="module")
def server_url():
    port = free_port()
    process = start_server(port, WORKERS="1", LOG_LEVEL="warning")
    try:
        wait_ready(process, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)


def test_simultaneous_requests_are_all_answered_correctly(server_url, settings, canvases):
    pngs = canvases[0][:REQUESTS]
    with TestClient(create_app(settings)) as reference:
        expected = [
            reference.post("/predict", content=png, headers={"Content-Type": "image/png"}).json()
            for png in pngs
        ]

    def post(index: int) -> httpx.Response:
        png = pngs[index]
        if index % 2:  # half raw, half JSON, so both parsers run side by side
            return httpx.post(
                f"{server_url}/predict", json={"image": base64.b64encode(png).decode()}, timeout=60
            )
        return httpx.post(
            f"{server_url}/predict", content=png, headers={"Content-Type": "image/png"}, timeout=60
        )

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        responses = list(pool.map(post, range(REQUESTS)))
    assert [r.status_code for r in responses] == [200] * REQUESTS
    # Each answer has its own request_id; everything else must match the reference.
    answers = [{k: v for k, v in r.json().items() if k != "request_id"} for r in responses]
    assert answers == [{k: v for k, v in e.items() if k != "request_id"} for e in expected]


def test_the_server_honours_port_and_answers_health(server_url):
    response = httpx.get(f"{server_url}/health", timeout=10)
    assert response.status_code == 200
    assert response.json()["model_loaded"] is True
    assert response.headers["x-frame-options"] == "DENY"


def test_a_taken_port_stops_start_up_with_a_clear_message(server_url):
    port = server_url.rsplit(":", 1)[1]
    env = {**os.environ, "PORT": port, "HOST": "127.0.0.1"}
    result = subprocess.run(
        [sys.executable, "-m", "serving"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 3
    assert "address already in use" in result.stderr


def test_several_workers_answer_keep_alive_requests_without_delay(settings):
    """uvicorn's own multi-worker listener leaves Nagle on: 40 ms per request (#3149)."""
    port = free_port()
    process = start_server(port, WORKERS="2", LOG_LEVEL="warning")
    try:
        wait_ready(process, port)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as keep_alive:
            times = []
            for _ in range(15):
                response = keep_alive.get("/health/live")
                assert response.status_code == 200
                times.append(response.elapsed.total_seconds())
    finally:
        stop_server(process)
    assert sorted(times)[len(times) // 2] < 0.02, times
