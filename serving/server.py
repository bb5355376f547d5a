"""Run the app under uvicorn: listeners, workers, the connection guard, and a clean stop.

It lives in its own module, not __main__, because worker processes are spawned
and must be able to import what they are handed (ServerConfig, Listener) by name.
"""

import errno
import logging
import os
import socket
import tempfile
from types import FrameType

import uvicorn
from uvicorn.supervisors import Multiprocess

from serving.logs import log_config
from serving.metrics import MULTIPROCESS_ENV
from serving.settings import Settings

logger = logging.getLogger("serving")
STARTUP_FAILURE = 3
"""uvicorn's own exit code when the server cannot start (a port in use, say)."""
BACKLOG = 2048


class StartupError(RuntimeError):
    """The server could not start; the message is one line and `code` the exit status."""

    code = STARTUP_FAILURE


class ServerConfig(uvicorn.Config):
    """uvicorn's Config plus the guard's two limits, which travel with it to every worker."""

    def __init__(self, *args: object, max_connections: int, client_timeout: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections
        self.client_timeout = client_timeout


class CleanServer(uvicorn.Server):
    """A server that, stopped by SIGINT or SIGTERM, exits 0 after its graceful shutdown.

    uvicorn re-raises the signal once it has shut down, so the process dies of it and
    `make serve` reports "Terminated" and fails; a requested stop is not a failure.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def listen(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket (proto TCP, so asyncio sets TCP_NODELAY on its connections)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise StartupError(f"cannot listen on {host}:{port}: {reason}") from None
    sock.set_inheritable(True)
    return sock


class Listener:
    """A worker's own SO_REUSEPORT listener, opened in the worker when it is unpickled.

    uvicorn hands every worker the same list of sockets. Handing them this instead
    gives each worker a socket of its own on the same port, and the kernel then
    spreads new connections evenly over the workers; with one shared socket, the
    first worker to wake takes most of them.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def __reduce__(self) -> tuple:
        return listen, (self.host, self.port, True)


def server_config(settings: Settings) -> ServerConfig:
    """uvicorn's configuration for these settings."""
    return ServerConfig(
        "serving.app:app",  # an import string, so that each worker builds its own app
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        http="serving.connections:GuardedHttpToolsProtocol",
        loop="uvloop",
        log_level=settings.log_level,
        log_config=log_config(settings.log_level),
        access_log=False,  # RequestLogMiddleware writes one structured line per request
        server_header=False,
        backlog=BACKLOG,
        max_connections=settings.max_connections,
        client_timeout=settings.client_timeout,
    )


def serve(settings: Settings) -> None:
    """Serve until stopped: one process, or a supervisor and WORKERS processes.

    Raises StartupError when the port is taken or a worker cannot start.
    """
    config = server_config(settings)  # also applies the logging configuration
    if settings.workers == 1:
        sock = listen(settings.host, settings.port)
        logger.info("listening on http://%s:%d", settings.host, settings.port)
        server = CleanServer(config)
        server.run(sockets=[sock])
        if not server.started:
            raise StartupError("the server did not start; the log above says why")
        return
    # Nothing else may hold the port: a plain bind fails even against SO_REUSEPORT listeners.
    listen(settings.host, settings.port).close()
    logger.info(
        "listening on http://%s:%d with %d workers", settings.host, settings.port, settings.workers
    )
    with tempfile.TemporaryDirectory(prefix="number-visualizer-metrics-") as metrics_dir:
        os.environ[MULTIPROCESS_ENV] = metrics_dir  # inherited by every spawned worker
        supervisor = Multiprocess(config, sockets=[Listener(settings.host, settings.port)])
        supervisor.run()
    if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
        raise StartupError("a worker could not start; the log above says why")
