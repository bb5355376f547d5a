"""Run the app under uvicorn: listeners, workers, the connection guard, and a clean stop.

It lives in its own module, not __main__, because worker processes that uvicorn
restarts are spawned and must be able to import what they are handed (ServerConfig,
Listener) by name.

Several workers start forked, not spawned (measured: ready in 0.49 s with two workers
against 0.28 s with one). A spawned worker is a new interpreter that imports every
library (about 0.2 s of CPU) after the supervisor has done the same to check the model.
Here the supervisor imports the libraries once and forks the workers; each worker then
imports onnxruntime, loads its own model and only then opens its listener. onnxruntime
is never imported before the fork: importing it starts a thread, and a process with
threads must not fork. If the supervisor finds itself with a thread anyway, it spawns.
"""

import errno
import gc
import importlib
import logging
import multiprocessing
import os
import select
import signal
import socket
import sys
import tempfile
import threading
import time
from multiprocessing import Pipe
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn
from uvicorn.supervisors import Multiprocess
from uvicorn.supervisors.multiprocess import SIGNALS
from uvicorn.supervisors.multiprocess import Process as UvicornWorker

from serving.metrics import MULTIPROCESS_ENV
from serving.runtime import loaded
from serving.runtime.logs import log_config
from serving.runtime.memory import keep_freed_memory
from serving.settings import Settings

if TYPE_CHECKING:
    from recognizer.model import DigitModel  # onnxruntime: never imported before the fork

logger = logging.getLogger("serving")
STARTUP_FAILURE = 3
"""uvicorn's own exit code when the server cannot start (a port in use, say)."""
BACKLOG = 2048


class StartupError(RuntimeError):
    """The server could not start; the message is one line and `code` the exit status."""

    def __init__(self, message: str, code: int = STARTUP_FAILURE) -> None:
        super().__init__(message)
        self.code = code


MODEL_FAILURE = 1
"""The exit status for a model that cannot be loaded, as for a bad setting."""
WORKER_START_TIMEOUT = 60.0
"""Seconds a forked worker has to load its model before the start-up is given up."""
WARM_IMPORTS = (
    "numpy",
    "PIL.Image",
    "pyspng",
    "msgspec",
    "anyio.to_thread",
    "anyio._backends._asyncio",
    "email.parser",
    "email.policy",
    "sqlite3",
    "starlette.applications",
    "starlette.middleware.cors",
    "starlette.requests",
    "starlette.responses",
    "starlette.routing",
    "starlette.staticfiles",
    "prometheus_client.multiprocess",
    "uvloop",
    "uvicorn.lifespan.on",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "recognizer.answers",
    "serving.runtime.connections",
    "feedback.export",
    "feedback.sqlite",
    "serving.middleware",
    "recognizer.numbers",
    "recognizer.preprocess",
    "recognizer.lattice",
    "serving.shell",
)
"""What every worker imports, bar onnxruntime and the modules that import it: the
supervisor imports these once, before it forks the workers."""


class ServerConfig(uvicorn.Config):
    """uvicorn's Config plus the guard's two limits and the model to load, which travel with
    it to every worker."""

    def __init__(
        self,
        *args: object,
        max_connections: int,
        client_timeout: float,
        model_path: Path = Path(),
        ort_threads: int = 1,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections
        self.client_timeout = client_timeout
        self.model_path = model_path
        self.ort_threads = ort_threads


class CleanServer(uvicorn.Server):
    """A server that, stopped by SIGINT or SIGTERM, exits 0 after its graceful shutdown,
    and whose garbage collector leaves alone what the start-up made.

    uvicorn re-raises the signal once it has shut down, so the process dies of it and
    `make serve` reports "Terminated" and fails; a requested stop is not a failure.

    The libraries, the app and the model are some hundred thousand objects that live as
    long as the process; every full collection walked them all, about 70 ms once per
    few thousand requests (20 us a request on average, and a 70 ms stall for whichever
    request met it). gc.freeze() after the start-up sets them aside.
    """

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        gc.freeze()

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

    def open(self) -> socket.socket:
        """The listener itself, in a forked worker (which unpickles nothing)."""
        return listen(self.host, self.port, True)


class ForkedWorker(UvicornWorker):
    """uvicorn's worker process, forked (see the module's docstring) rather than spawned.

    In the child: signals back to their defaults until uvicorn takes them, the model
    loaded and kept for the app's lifespan, and only then the worker's own listener, so
    that no connection waits in the backlog of a worker that is still loading; then a
    report to the supervisor: "ok", or the ModelError's message.
    """

    def __init__(self, config: "ServerConfig", listener: Listener) -> None:
        self.config = config
        self._server = None
        self.parent_conn, self.child_conn = Pipe()  # uvicorn's health checks
        self.report, self._report_end = os.pipe()
        self.process = multiprocessing.get_context("fork").Process(
            target=self.target, kwargs={"sockets": [listener]}
        )

    def start(self) -> None:
        super().start()
        os.close(self._report_end)

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = CleanServer(config=self.config)
        return self._server

    def target(self, sockets: list | None = None) -> None:  # pragma: no cover (a child)
        for sig in SIGNALS:  # the supervisor's handlers would swallow a SIGTERM
            signal.signal(sig, signal.SIG_DFL)
        os.close(self.report)
        _metrics_per_process()
        from recognizer.model import DigitModel, ModelError  # onnxruntime: only after the fork

        try:
            config = self.config
            model = DigitModel.load(config.model_path, config.ort_threads)  # type: ignore[attr-defined]
        except ModelError as exc:
            os.write(self._report_end, str(exc).encode()[: select.PIPE_BUF])
            os._exit(MODEL_FAILURE)
        loaded.keep(model, config.ort_threads)  # type: ignore[attr-defined]
        sockets = [s.open() if isinstance(s, Listener) else s for s in sockets or ()]
        logger.info("worker %d loaded the model and opened its listener", os.getpid())
        os.write(self._report_end, b"ok")
        os.close(self._report_end)
        super().target(sockets)


def _metrics_per_process() -> None:
    """prometheus-client picks its value class when it is first imported, which in the
    supervisor was before the metrics directory was set: pick it again in the worker."""
    from prometheus_client import values

    values.ValueClass = values.get_value_class()


class Supervisor(Multiprocess):
    """uvicorn's supervisor, starting from workers already forked and loaded, if any."""

    def __init__(self, config: "ServerConfig", sockets: list, started: list | None) -> None:
        super().__init__(config, sockets)
        self.started = started

    def init_processes(self) -> None:
        if self.started is None:
            super().init_processes()
        else:
            self.processes = list(self.started)


def can_fork() -> bool:
    """Import the workers' libraries, and say whether this process may now fork them."""
    for name in WARM_IMPORTS:
        importlib.import_module(name)
    tasks = os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else ["?", "?"]
    return (
        "onnxruntime" not in sys.modules
        and threading.active_count() == 1
        and len(tasks) == 1
        and "fork" in multiprocessing.get_all_start_methods()
    )


def fork_workers(config: "ServerConfig", settings: Settings) -> list[ForkedWorker]:
    """settings.workers workers, each with its model loaded and its listener open.

    Raises StartupError (exit 1) with the model's error if a worker cannot load it.
    """
    workers = []
    for _ in range(settings.workers):  # each pipe made just before its fork: no leaked ends
        workers.append(ForkedWorker(config, Listener(settings.host, settings.port)))
        workers[-1].start()
    pending = {worker.report: worker for worker in workers}
    failure, code = "", MODEL_FAILURE
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while pending and not failure and time.monotonic() < deadline:
        readable, _, _ = select.select(list(pending), [], [], 0.05)
        for report in readable:  # "ok", a ModelError's message, or nothing: the worker died
            worker = pending.pop(report)
            answer = os.read(report, select.PIPE_BUF).decode(errors="replace")
            os.close(report)
            if not answer:
                failure, code = f"worker {worker.pid} exited before it was ready", STARTUP_FAILURE
            elif answer != "ok":
                failure = answer
    if failure or pending:
        for worker in workers:
            if worker.process.exitcode is None:
                worker.process.kill()
            worker.process.join()
        for report in pending:
            os.close(report)
        raise StartupError(failure or "the workers did not load the model in time", code)
    return workers


def server_config(settings: Settings) -> ServerConfig:
    """uvicorn's configuration for these settings."""
    return ServerConfig(
        "serving.app:app",  # an import string, so that each worker builds its own app
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        http="serving.runtime.connections:GuardedHttpToolsProtocol",
        loop="uvloop",
        log_level=settings.log_level,
        log_config=log_config(settings.log_level),
        access_log=False,  # RequestLogMiddleware writes one structured line per request
        server_header=False,
        backlog=BACKLOG,
        max_connections=settings.max_connections,
        client_timeout=settings.client_timeout,
        model_path=settings.model_path,
        ort_threads=settings.ort_threads,
    )


def checked_model(settings: Settings) -> "DigitModel":
    """The model, loaded and checked in this process (onnxruntime is imported only now).

    Raises StartupError (exit 1) with the reason if it cannot be loaded.
    """
    from recognizer.model import DigitModel, ModelError

    try:
        return DigitModel.load(settings.model_path, settings.ort_threads)
    except ModelError as exc:
        raise StartupError(str(exc), MODEL_FAILURE) from None


def load_model(settings: Settings) -> None:
    """Load and check the model in this process, and keep it for the app's lifespan."""
    loaded.keep(checked_model(settings), settings.ort_threads)


def serve(settings: Settings) -> None:
    """Serve until stopped: one process, or a supervisor and WORKERS processes.

    The model is loaded and checked before any connection is taken. Raises StartupError
    when the port is taken, the model cannot be loaded or a worker cannot start.
    """
    config = server_config(settings)  # also applies the logging configuration
    keep_freed_memory()  # forked workers inherit it; spawned ones, from the environment
    if settings.workers == 1:
        load_model(settings)
        sock = listen(settings.host, settings.port)
        logger.info("listening on http://%s:%d", settings.host, settings.port)
        server = CleanServer(config)
        server.run(sockets=[sock])
        if not server.started:
            raise StartupError("the server did not start; the log above says why")
        return
    # Nothing else may hold the port: a plain bind fails even against SO_REUSEPORT listeners.
    listen(settings.host, settings.port).close()
    with tempfile.TemporaryDirectory(prefix="number-visualizer-metrics-") as metrics_dir:
        os.environ[MULTIPROCESS_ENV] = metrics_dir  # inherited by every worker
        # Made before any worker, so that a signal from now on reaches its handlers.
        supervisor = Supervisor(config, [Listener(settings.host, settings.port)], None)
        if can_fork():
            supervisor.started = fork_workers(config, settings)
        else:  # spawned workers: check the model here first, as they cannot report it
            logger.warning("the supervisor has threads: starting the workers by spawning")
            checked_model(settings)
        logger.info(
            "listening on http://%s:%d with %d workers",
            settings.host,
            settings.port,
            settings.workers,
        )
        supervisor.run()
    if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
        raise StartupError("a worker could not start; the log above says why")
