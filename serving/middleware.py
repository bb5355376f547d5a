"""What every request goes through: a request id, a body-size limit and deadline, security
headers, and a log line.

They are plain ASGI middleware rather than BaseHTTPMiddleware: that costs nothing
per request, and the body limit has to see the body as it streams in. The headers, the
id and the log share one middleware: each layer wraps `send` once more per request.
"""

import asyncio
import json
import logging
import os
import re
import time
from json.encoder import encode_basestring_ascii as encode_string

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.metrics import Metrics

logger = logging.getLogger("serving.requests")

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        # 'wasm-unsafe-eval' lets the page compile the vendored onnxruntime WebAssembly for
        # recognition offline; it allows no JavaScript eval.
        b"default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data: blob:; "
        b"object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


REQUEST_ID_HEADER = b"x-request-id"
SERVER_TIMING_HEADER = b"server-timing"
TIMING_NAME = "app"
TIMING_DECIMALS = 3
"""Server-Timing says `app;dur=<ms>`, in milliseconds with this many decimals."""
SERVER_TIMING_PATTERN = rf"^{TIMING_NAME};dur=[0-9]+\.[0-9]{{{TIMING_DECIMALS}}}$"
"""The Server-Timing value as a pattern, for the API's description."""
_SERVER_TIMING = f"{TIMING_NAME};dur=%.{TIMING_DECIMALS}f".encode()
REQUEST_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}"
"""What a client may send as its own request id; anything else is replaced by ours. It
starts with a letter or digit, so no id can start a formula in an exported spreadsheet."""
SANE_REQUEST_ID = re.compile(REQUEST_ID_PATTERN.encode())


class BodyTooLarge(Exception):
    """Raised inside the app when a streamed body passes the limit."""


class BodyTooSlow(Exception):
    """Raised inside the app when a body has not arrived within the client timeout."""


class BodyLimitMiddleware:
    """Refuse bodies over the limit with 413 without reading them, and slow bodies with 408.

    A declared Content-Length over the limit is refused before a byte is read; a
    chunked body is counted as it arrives and refused as soon as it passes the limit.
    A body must arrive within `timeout` seconds of the app asking for it, so a client
    that declares a body and sends it a byte at a time cannot hold a worker's connection.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, timeout: float = 10.0) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await self._refuse(send)
            return
        received = 0
        started = False
        deadline: float | None = None

        async def counting_receive() -> Message:
            nonlocal received, deadline
            if deadline is None:
                deadline = asyncio.get_running_loop().time() + self.timeout
            try:
                # asyncio's own timeout: half the cost of anyio's cancel scope, on every request.
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTooSlow from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(send)
        except BodyTooSlow:
            if started:
                raise
            message = f"the request body did not arrive within {self.timeout:g} s; send it faster"
            await self._refuse(send, 408, message)

    async def _refuse(self, send: Send, status: int = 413, message: str = "") -> None:
        message = message or (
            f"the request body is larger than {self.max_body_bytes:,} bytes; send a smaller image"
        )
        body = json.dumps({"error": message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def request_id(scope: Scope) -> str:
    """The client's X-Request-ID if it is sane, else a new random one (32 hex digits)."""
    sent = b""
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            sent = value  # the last one, as a dict of the headers would keep
    if SANE_REQUEST_ID.fullmatch(sent):
        return sent.decode()
    return os.urandom(16).hex()  # a uuid4's randomness without building the UUID object


def server_timing(seconds: float) -> bytes:
    """The Server-Timing value for a request that took `seconds` in the app so far.

    "app" is the time from the request reaching the middleware (its head parsed and the
    connection's bookkeeping done) to the response head: for every response but a
    streamed one, the whole of the server's work except writing the bytes. A client
    (bench/, a browser's devtools) can so tell the server's time from the network's.
    """
    return _SERVER_TIMING % (seconds * 1000)


def log_line(method: str, path: str, status: int, ms: float, client: str | None, rid: str) -> str:
    """json.dumps of the request's log record, byte for byte, at a fifth of its cost.

    Only the method and path can hold characters JSON must escape; the id is one
    SANE_REQUEST_ID or hex, and the client an address.
    """
    where = "null" if client is None else encode_string(client)
    return (
        f'{{"method": {encode_string(method)}, "path": {encode_string(path)}, '
        f'"status": {status}, "ms": {ms!r}, "client": {where}, "request_id": "{rid}"}}'
    )


class RequestLogMiddleware:
    """Give each request an id, time it, count it in the metrics, and log it as one JSON line;
    add the security headers and a Server-Timing header to every response, errors and static
    files included.

    The id is in scope["state"]["request_id"] for the handlers, in the X-Request-ID
    response header and in the log line, so a client's report can be found in the log.
    Metrics label the app's own routes by path and everything else as "static", so a
    client requesting random URLs cannot grow the metrics without bound.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client gets if the app raises before responding
        rid = request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", ()),
                    *SECURITY_HEADERS,
                    (REQUEST_ID_HEADER, rid.encode()),
                    (SERVER_TIMING_HEADER, server_timing(time.perf_counter() - start)),
                ]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            seconds = time.perf_counter() - start
            path = scope["path"]
            self.metrics.observe_request(path if path in self.routes else "static", status, seconds)
            if logger.isEnabledFor(logging.INFO):
                client = scope.get("client")
                line = log_line(
                    scope["method"],
                    path,
                    status,
                    round(seconds * 1000, 2),
                    client[0] if client else None,
                    rid,
                )
                # handle() without findCaller's walk up the stack: the format shows no source.
                logger.handle(logger.makeRecord(logger.name, logging.INFO, "", 0, line, None, None))
