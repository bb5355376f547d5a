"""The undocumented parts of uvicorn that serving/runtime/server.py and connections.py rely on
are still there, and do what they did in the version pyproject.toml pins.

uvicorn documents its settings, not its classes' insides: a new release may rename or
rework any of these without notice. pyproject.toml pins uvicorn (and httptools) to the
range tested here; when the pin is moved, these tests say which hook moved with it. The
behaviour behind each hook is tested on the real server elsewhere (test_workers: signals
and forked workers; test_slow_clients and test_hostile_connections: the connection guard).
"""

import inspect
import re
from importlib.metadata import version
from pathlib import Path

import httptools
import pytest
from packaging.requirements import Requirement
from uvicorn import Server
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.supervisors import Multiprocess
from uvicorn.supervisors.multiprocess import SIGNALS, Process

from serving.runtime.connections import ConnectionGuard

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def source(function) -> str:
    return inspect.getsource(function)


@pytest.mark.parametrize("package", ["uvicorn", "httptools"])
def test_the_installed_version_is_within_the_tested_pin(package):
    pin = Requirement(
        re.search(rf'^    "({package}[<>=!~ ][^"]*)"', PYPROJECT.read_text(), re.M)[1]
    )
    assert pin.specifier and ">" not in str(pin.specifier).replace(">=", ""), pin
    assert pin.specifier.contains(version(package)), (pin, version(package))


def test_the_protocol_methods_the_guard_overrides_keep_their_signatures():
    """Each method ConnectionGuard overrides exists in uvicorn's protocol, with the same
    parameters, so the guard's call to super() still reaches it."""
    for name, member in vars(ConnectionGuard).items():
        if name.startswith("_") or not inspect.isfunction(member):
            continue
        theirs = getattr(HttpToolsProtocol, name, None)
        if theirs is None:
            continue  # the guard's own helper
        ours = list(inspect.signature(member).parameters)
        assert list(inspect.signature(theirs).parameters) == ours, name
    for name in (
        "connection_made",
        "data_received",
        "connection_lost",
        "on_headers_complete",
        "on_response_complete",
        "send_400_response",
        "timeout_keep_alive_handler",
        "shutdown",
        "pause_writing",
        "resume_writing",
    ):
        assert callable(getattr(HttpToolsProtocol, name)), name


def test_a_parser_callback_error_becomes_send_400_response():
    """The head limit reads the parsed head (uvicorn's `url` and `headers`) in
    on_headers_complete, and raises; httptools turns that into a parser error, and uvicorn's
    data_received answers it with send_400_response (the guard's 431)."""

    class Raising:
        def on_headers_complete(self) -> None:
            raise ValueError

    with pytest.raises(httptools.HttpParserError):
        httptools.HttpRequestParser(Raising()).feed_data(b"GET / HTTP/1.1\r\nA: b\r\n\r\n")
    text = source(HttpToolsProtocol.data_received)
    assert "except httptools.HttpParserError" in text and "self.send_400_response(" in text
    assert "self.url += url" in source(HttpToolsProtocol.on_url)
    assert "self.headers.append((name, value))" in source(HttpToolsProtocol.on_header)


def test_the_request_cycle_still_writes_through_its_transport_and_on_response():
    """ResponseWriter replaces a cycle's `transport` and `on_response` after the head is
    parsed; the guard reads `response_started`, `response_complete` and `more_body`."""
    init = source(RequestResponseCycle.__init__)
    for attribute in (
        "self.transport = transport",
        "self.on_response = on_response",
        "self.response_started = False",
        "self.response_complete = False",
        "self.more_body = True",
    ):
        assert attribute in init, attribute
    send = source(RequestResponseCycle.send)
    assert "self.transport.write(" in send and "self.on_response()" in send
    assert "self.transport.close()" in send
    headers_complete = source(HttpToolsProtocol.on_headers_complete)
    assert "self.cycle = RequestResponseCycle(" in headers_complete
    assert "on_response=self.on_response_complete" in headers_complete
    assert "self.connections.add(self)" in source(HttpToolsProtocol.connection_made)
    assert "self.connections.discard(self)" in source(HttpToolsProtocol.connection_lost)
    assert "self.flow.pause_writing()" in source(HttpToolsProtocol.pause_writing)


def test_the_supervisor_and_worker_hooks_that_forked_workers_use():
    """serving.runtime.server.ForkedWorker builds uvicorn's Process by hand and Supervisor replaces
    init_processes; CleanServer clears the signals uvicorn would re-raise."""
    assert list(inspect.signature(Process.target).parameters) == ["self", "sockets"]
    init = source(Process.__init__)
    assert "self._server" in init and "self.parent_conn, self.child_conn = Pipe()" in init
    assert "self.process = " in init
    assert "self._server" in source(Process.server.fget)
    run = source(Multiprocess.run)
    assert "self.init_processes()" in run
    assert "self.processes" in source(Multiprocess.init_processes)
    assert {"INT", "TERM"} <= set(SIGNALS.values())
    assert "self._captured_signals.append(sig)" in source(Server.handle_exit)
    assert "self._captured_signals" in source(Server.capture_signals)
