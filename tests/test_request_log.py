"""The per-request log line is json.dumps of its record, byte for byte (issue 14 made it
cheaper by formatting it directly)."""

import json

import pytest

from serving.middleware import log_line, request_id


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
    made = {request_id({"headers": [(header, b"no spaces allowed")]}) for _ in range(100)}
    assert len(made) == 100
    assert all(len(r) == 32 and int(r, 16) >= 0 for r in made)
