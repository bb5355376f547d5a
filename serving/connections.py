"""uvicorn's HTTP protocol with a bound on connections and a deadline for request heads.

uvicorn times out idle keep-alive connections but not a client that never finishes
its headers, and its own `limit_concurrency` counts idle connections too, so a few
hundred silent sockets would lock every real client (and the probes) out. Here:

- a connection must deliver a complete request head within CLIENT_TIMEOUT of opening
  (or of its previous response), or it is closed;
- beyond MAX_CONNECTIONS, a new connection closes the longest-idle one (still sending
  its head, or kept alive between requests), so a flood of idle sockets cannot keep
  out a real request; only when every connection has a request in progress does the
  newcomer get an immediate 503;
- a request head over 16 KB is refused (httptools alone would take any size), and
  uvicorn's own plain-text 400 (a bad Content-Length, say) becomes the service's JSON
  error with the security headers;
- a response's head and its first body part go out in one system call (ResponseWriter).

The body's deadline is the app's (BodyLimitMiddleware), where a 408 can still be sent.
"""

import asyncio
import json
import logging
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from serving.middleware import SECURITY_HEADERS

logger = logging.getLogger("serving.connections")
MAX_HEAD_BYTES = 16 * 1024
"""A request line and headers larger than this get 400 (uvicorn's h11 protocol's bound)."""
LINGER_SECONDS = 1.0


def raw_response(status: str, error: str) -> bytes:
    """A complete HTTP/1.1 error response that closes the connection."""
    body = json.dumps({"error": error}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *SECURITY_HEADERS,
    ]
    head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return f"HTTP/1.1 {status}\r\n".encode() + head + b"\r\n" + body


BAD_REQUEST = raw_response(
    "400 Bad Request",
    "the request is not valid HTTP/1.1 (a malformed request line, header or Content-Length, "
    "or headers over 16 KB)",
)
UNAVAILABLE = raw_response(
    "503 Service Unavailable",
    "the server has as many requests in progress as it allows (MAX_CONNECTIONS); retry shortly",
)


COALESCE_BYTES = 64 * 1024
"""A first body part up to this size is sent with the head; a larger one after it."""
INTERIM_RESPONSE = b"HTTP/1.1 1"
"""How an interim response starts (uvicorn's "100 Continue"): it is sent at once."""


class ResponseWriter:
    """What a request's RequestResponseCycle writes through: it holds the response head
    until the first body part arrives and writes both at once.

    uvicorn writes the head and the body with two `transport.write` calls, and uvloop
    sends each at once: two system calls and, on loopback, two rounds of the receiver's
    TCP processing. That was 12 % of a /predict's samples. The head goes out with the
    first body part, or when the response completes without one (HEAD: uvicorn writes no
    body), or before anything else the cycle does with the transport (closing it, on an
    error). An interim "100 Continue", which the client waits for before it sends its
    body, is never held.
    """

    __slots__ = ("_head", "_on_response", "_started", "_transport")

    def __init__(self, transport: asyncio.Transport, on_response: Callable[[], None]) -> None:
        self._transport = transport
        self._on_response = on_response
        self._head: bytes | None = None
        self._started = False

    def write(self, data: bytes) -> None:
        if not self._started:
            if not data.startswith(INTERIM_RESPONSE):
                self._started = True  # uvicorn writes the head before any of the body
                self._head = data
                return
        elif self._head is not None:
            head, self._head = self._head, None
            if len(data) <= COALESCE_BYTES:
                self._transport.writelines((head, data))  # one writev
                return
            self._transport.write(head)
        self._transport.write(data)

    def flush(self) -> None:
        """Send a held head now."""
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def response_complete(self) -> None:
        """The cycle's on_response: the response is whole, so a held head goes now."""
        self.flush()
        self._on_response()

    def __getattr__(self, name: str) -> object:
        self.flush()  # whatever else the cycle asks of the transport sees the head sent
        return getattr(self._transport, name)


class ConnectionGuard:
    """Mixed into a uvicorn HTTP protocol class; see the module docstring."""

    # Provided by uvicorn's protocol classes.
    config: object
    connections: set
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: object

    _head_timer: asyncio.TimerHandle | None = None
    _idle_since: float = 0.0
    _head_bytes: int = 0
    _refused: bool = False

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._wait_for_head()
        if len(self.connections) > self.config.max_connections:  # type: ignore[attr-defined]
            self._make_room()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the rest of a refused request: read and dropped until the linger ends
        super().data_received(data)  # type: ignore[misc]
        if not self.idle:
            self._cancel_head_timer()
            self._head_bytes = 0
        elif not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:  # httptools itself sets no bound
                self.send_400_response("head too large")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()  # type: ignore[misc]
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:  # the request's own cycle
            writer = ResponseWriter(self.transport, cycle.on_response)
            cycle.transport = writer
            cycle.on_response = writer.response_complete

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if self.idle and not self.transport.is_closing():
            self._wait_for_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)  # type: ignore[misc]

    def send_400_response(self, msg: str) -> None:
        """Answer 400, then read and drop what the client is still sending for a moment.

        Closing at once, with its data unread, would make the kernel reset the
        connection, and the client would likely lose the answer.
        """
        self._cancel_head_timer()
        self._refused = True
        self.transport.write(BAD_REQUEST)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    @property
    def idle(self) -> bool:
        """No request in progress: the head is still coming, or the last response is sent."""
        return self.cycle is None or self.cycle.response_complete  # type: ignore[attr-defined]

    def _wait_for_head(self) -> None:
        self._cancel_head_timer()
        self._head_bytes = 0
        self._idle_since = self.loop.time()
        timeout = self.config.client_timeout  # type: ignore[attr-defined]
        self._head_timer = self.loop.call_later(timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.idle and not self.transport.is_closing():
            self.transport.close()

    def _make_room(self) -> None:
        limit = self.config.max_connections  # type: ignore[attr-defined]
        others = [c for c in self.connections if c is not self and not c.transport.is_closing()]
        if len(others) < limit:
            return  # the rest are already closing (evicted a moment ago, say)
        idle = [c for c in others if c.idle]
        if idle:
            oldest = min(idle, key=lambda c: c._idle_since)
            oldest.transport.close()
            logger.warning("closing idle connections to stay within MAX_CONNECTIONS=%d", limit)
        else:
            self._cancel_head_timer()
            self._refused = True
            self.transport.write(UNAVAILABLE)
            self.transport.close()
            logger.warning("refusing connections: all MAX_CONNECTIONS=%d are busy", limit)


class GuardedHttpToolsProtocol(ConnectionGuard, HttpToolsProtocol):
    """httptools (llhttp, in C) with the guard: what the server runs."""
