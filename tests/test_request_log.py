"""The per-request log line is json.dumps of its record, byte for byte (issue 14 made it
cheaper by formatting it directly), and every response carries the server's own time."""

import json
import logging
import re
import time

import pytest

from serving.middleware import log_line, request_id
from serving.runtime.logs import LOG_FORMAT, LineFormatter

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "method, path, status, ms, client, rid",
    [
        ("POST", "/predict", 200, 1.23, "127.0.0.1", "client-42.a:b"),
        ("GET", '/a"b\\ü\n\t\x00€/🙂', 404, 0.1, None, "0" * 32),
        ("PATCH", "/", 500, 12345.67, "::1", "x"),
        ("GET", "/static", 304, 0.0, "10.0.0.1", "a" * 128),
    ],
)
def test_log_line_is_the_json_of_the_record(method, path, status, ms, client, rid) -> None:
    record = {
        "method": method,
        "path": path,
        "status": status,
        "ms": ms,
        "client": client,
        "request_id": rid,
    }
    assert log_line(method, path, status, ms, client, rid) == json.dumps(record)


def test_request_id_keeps_a_sane_client_id_and_makes_fresh_ones_otherwise() -> None:
    header = b"x-request-id"
    assert request_id({"headers": [(header, b"abc-1")]}) == "abc-1"
    assert request_id({"headers": [(header, b"bad"), (header, b"last.one")]}) == "last.one"
    for formula in (b"-1+1", b"=1", b"@A1", b"+1", b".x", b"_x", b":x"):  # exported to CSV
        assert request_id({"headers": [(header, formula)]}) != formula.decode()
    made = {request_id({"headers": [(header, b"no spaces allowed")]}) for _ in range(100)}
    assert len(made) == 100
    assert all(len(r) == 32 and int(r, 16) >= 0 for r in made)


def test_every_response_says_the_servers_time_in_server_timing(client, canvases) -> None:
    """Server-Timing: app;dur=<ms>, the time from the middleware to the response head: it
    lies within the time the client waited, and a prediction takes longer than a 404."""
    calls = {
        "predict": lambda: client.post(
            "/predict", content=canvases[0][0], headers={"Content-Type": "image/png"}
        ),
        "missing": lambda: client.get("/no-such-page"),
        "refused": lambda: client.post("/predict", content=b"not json", headers=JSON),
    }
    fastest = {}
    for name, call in calls.items():
        for _ in range(6):  # the fastest of six: a busy machine may hold up any one
            start = time.perf_counter()
            response = call()
            waited_ms = (time.perf_counter() - start) * 1000
            match = re.fullmatch(r"app;dur=(\d+\.\d{3})", response.headers["server-timing"])
            assert match, response.headers["server-timing"]
            assert 0 < float(match[1]) <= waited_ms, (name, match[1], waited_ms)
            fastest[name] = min(fastest.get(name, float("inf")), float(match[1]))
    assert fastest["predict"] > fastest["missing"]


def test_the_line_formatter_writes_what_the_standard_one_would() -> None:
    """LineFormatter formats the time once a second; the text must not change."""
    standard, fast = logging.Formatter(LOG_FORMAT), LineFormatter()
    logger = logging.getLogger("serving.requests")
    for created in (1764105600.0, 1764105600.9995, 1764105601.0001, 1764105659.999, time.time()):
        record = logger.makeRecord(logger.name, logging.INFO, "", 0, "%s line", ("a",), None)
        record.created, record.msecs = created, float(int((created % 1) * 1000))
        assert fast.format(record) == standard.format(record)
