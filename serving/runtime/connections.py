"""uvicorn's HTTP protocol with bounds on connections, request heads and slow clients.

uvicorn times out idle keep-alive connections but not a client that never finishes its
headers, nor one that never reads its response; its own `limit_concurrency` counts idle
connections too, so a few hundred silent sockets would lock every real client (and the
probes) out, and httptools takes a request head of any size. Here:

- a connection must deliver a complete request head within CLIENT_TIMEOUT of opening
  (or of its previous response), or it is closed;
- a request head over MAX_HEAD_BYTES, or with more than MAX_HEADERS header lines, gets
  431 however it arrives (in pieces, or all at once);
- a response the client stops reading (the transport's buffer above its high-water mark)
  for CLIENT_TIMEOUT is aborted, and its buffer freed; every close the server makes gives
  the client CLIENT_TIMEOUT to take what is still buffered, then aborts;
- beyond MAX_CONNECTIONS, a new connection aborts the connections that have waited
  longest on their clients (EVICTED_SHARE of them, at least one): still sending a head
  or a body, kept alive between requests, not reading a response, or already closing.
  A connection is counted until its socket is really closed, so descriptors stay within
  the bound. Only when the server is working on every connection does the newcomer get
  an immediate 503;
- uvicorn's own plain-text 400 (a bad Content-Length, say) becomes the service's JSON
  error with the security headers;
- a response's head and its first body part go out in one system call (ResponseWriter).

The body's deadline is the app's (BodyLimitMiddleware), where a 408 can still be sent.

uvicorn's protocol class is subclassed through hooks it does not document (the cycle's
`transport` and `on_response`, `send_400_response`, the parser callbacks), so
pyproject.toml pins uvicorn and httptools to the versions tested here, and
tests/test_uvicorn_hooks.py fails if one of them changes.
"""

import asyncio
import heapq
import json
import logging
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from serving.middleware import SECURITY_HEADERS

logger = logging.getLogger("serving.runtime.connections")
MAX_HEAD_BYTES = 16 * 1024
"""A request line and headers larger than this get 431 (uvicorn's h11 protocol's bound)."""
MAX_HEADERS = 100
"""More header lines than this get 431 (Apache's LimitRequestFields); a browser sends 20."""
EVICTED_SHARE = 0.05
"""The share of MAX_CONNECTIONS cut off at once when a new connection finds no room."""
LINGER_SECONDS = 1.0
"""How long a refused request's remaining bytes are read and dropped before the close."""


class HeadTooLarge(Exception):
    """Raised from the parser's callback, which stops it, for a head over the bounds."""


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
    "the request is not valid HTTP/1.1 (a malformed request line, header or Content-Length)",
)
HEAD_TOO_LARGE = raw_response(
    "431 Request Header Fields Too Large",
    f"the request line and headers are over {MAX_HEAD_BYTES // 1024} KB, "
    f"or more than {MAX_HEADERS} header lines",
)
UNAVAILABLE = raw_response(
    "503 Service Unavailable",
    "the server is working on as many requests as it allows (MAX_CONNECTIONS); retry shortly",
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

    __slots__ = ("_close", "_head", "_on_response", "_started", "_transport")

    def __init__(
        self,
        transport: asyncio.Transport,
        on_response: Callable[[], None],
        close: Callable[[], None],
    ) -> None:
        self._transport = transport
        self._on_response = on_response
        self._close = close
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
        """Close after the head, through the connection's close, which bounds the flush."""
        self.flush()
        self._close()

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
    cycle: RequestResponseCycle | None
    headers: list[tuple[bytes, bytes]]
    url: bytes

    _head_timer: asyncio.TimerHandle | None = None
    _write_timer: asyncio.TimerHandle | None = None
    _waiting_since: float = 0.0
    _head_bytes: int = 0
    _head_too_large: bool = False
    _refused: bool = False
    _aborted: bool = False
    _write_paused: bool = False

    @property
    def timeout(self) -> float:
        """CLIENT_TIMEOUT: for a head, a paused response, and a close to flush."""
        return self.config.client_timeout  # type: ignore[attr-defined]

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._wait_for_head()
        if len(self.connections) > self.config.max_connections:  # type: ignore[attr-defined]
            self._make_room()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the rest of a refused request: read and dropped until the linger ends
        self._waiting_since = self.loop.time()
        super().data_received(data)  # type: ignore[misc]
        if not self.idle:
            self._cancel_head_timer()
            self._head_bytes = 0
        elif not self.transport.is_closing():
            # A head arriving in pieces: httptools gathers a header before any callback
            # sees it, so the pieces are counted here.
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(HEAD_TOO_LARGE)

    def on_headers_complete(self) -> None:
        # A head that arrived in one piece (or whose last piece held most of it) is only
        # seen whole here, parsed but not yet handed to the app.
        headers = self.headers
        if len(headers) > MAX_HEADERS or (
            len(self.url) + sum(len(name) + len(value) + 4 for name, value in headers)
            > MAX_HEAD_BYTES
        ):
            self._head_too_large = True
            raise HeadTooLarge  # uvicorn's data_received answers with send_400_response
        super().on_headers_complete()  # type: ignore[misc]
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:  # the request's own cycle
            writer = ResponseWriter(self.transport, cycle.on_response, self._close)
            cycle.transport = writer  # type: ignore[assignment]
            cycle.on_response = writer.response_complete

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if self.idle and not self.transport.is_closing():
            self._wait_for_head()

    def pause_writing(self) -> None:
        """The client has stopped reading: it has CLIENT_TIMEOUT to start again."""
        super().pause_writing()  # type: ignore[misc]
        self._write_paused = True
        self._waiting_since = self.loop.time()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.timeout, self._write_timed_out)

    def resume_writing(self) -> None:
        super().resume_writing()  # type: ignore[misc]
        self._write_paused = False
        self._waiting_since = self.loop.time()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
        super().connection_lost(exc)  # type: ignore[misc]

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a head the parser rejected: 431 for one over the bounds,
        else the service's JSON 400."""
        self._refuse(HEAD_TOO_LARGE if self._head_too_large else BAD_REQUEST)

    def timeout_keep_alive_handler(self) -> None:
        """uvicorn's keep-alive deadline, closing within the flush deadline too."""
        self._close()

    def shutdown(self) -> None:
        """A graceful stop: idle connections close, within the flush deadline."""
        if self.idle:
            self._close()
        else:
            super().shutdown()  # type: ignore[misc]

    def _refuse(self, response: bytes) -> None:
        """Answer `response`, then read and drop what the client is still sending for a
        moment: closing at once, with its data unread, would make the kernel reset the
        connection, and the client would likely lose the answer."""
        self._cancel_head_timer()
        self._refused = True
        self.transport.write(response)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self._close)

    def _close(self) -> None:
        """Close, letting the client take what is still buffered for CLIENT_TIMEOUT, no
        longer: transport.close() alone waits for ever on a client that does not read."""
        if self.transport.is_closing():
            return
        self.transport.close()
        if self.transport.get_write_buffer_size():
            self.loop.call_later(self.timeout, self._abort)

    def _abort(self) -> None:
        """Drop the connection now, and its buffer with it."""
        self._aborted = True
        self.transport.abort()

    def _write_timed_out(self) -> None:
        self._write_timer = None
        logger.warning("aborting connections whose clients read nothing for %g s", self.timeout)
        self._abort()

    @property
    def idle(self) -> bool:
        """No request in progress: the head is still coming, or the last response is sent."""
        return self.cycle is None or self.cycle.response_complete

    def waiting_since(self) -> float | None:
        """Since when this connection has been waiting on its client (its head or body to
        arrive, or its response to be read), or None while the server works on it."""
        if self.transport.is_closing():
            return float("-inf")  # the first to go
        cycle = self.cycle
        if (
            cycle is None
            or cycle.response_complete
            or self._write_paused
            or (cycle.more_body and not cycle.response_started)
        ):
            return self._waiting_since
        return None

    def _wait_for_head(self) -> None:
        self._cancel_head_timer()
        self._head_bytes = 0
        self._waiting_since = self.loop.time()
        self._head_timer = self.loop.call_later(self.timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.idle:
            self._close()

    def _make_room(self) -> None:
        limit = self.config.max_connections  # type: ignore[attr-defined]
        # Every connection counts until its socket is closed, bar those aborted a moment
        # ago, whose sockets close before the loop's next turn.
        others = [c for c in self.connections if c is not self and not c._aborted]
        if len(others) < limit:
            return
        waiting = [(since, c) for c in others if (since := c.waiting_since()) is not None]
        if waiting:
            # A few at once: a flood of new connections then pays for this scan once per
            # EVICTED_SHARE of the bound, not once per connection.
            count = max(1, int(limit * EVICTED_SHARE))
            for _, victim in heapq.nsmallest(count, waiting, key=lambda pair: pair[0]):
                victim._abort()
            logger.warning(
                "aborting the connections that waited longest on their clients, to stay "
                "within MAX_CONNECTIONS=%d",
                limit,
            )
        else:
            self._cancel_head_timer()
            self._refused = True
            self.transport.write(UNAVAILABLE)
            self._close()
            logger.warning("refusing connections: all MAX_CONNECTIONS=%d are being served", limit)


class GuardedHttpToolsProtocol(ConnectionGuard, HttpToolsProtocol):
    """httptools (llhttp, in C) with the guard: what the server runs."""
