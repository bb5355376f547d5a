"""Logging for the server: one line format, a limit on repeated warnings, no secrets.

Under attack or exhaustion, the same warning can fire on every attempt (an accept
that fails with "Too many open files", an invalid request, an evicted connection).
OncePerInterval lets the first through and then one per interval, saying how many
were held back, so the log stays readable and small whatever a client does.

A database URL carries its password (postgresql://user:password@host/db), and a library's
error message may quote it; the Redact filter masks passwords and tokens in every line the
server logs (feedback.secrets.redact) except the request lines (which hold only the
method, path, status, client address and request id).
"""

import logging
import time

from feedback.secrets import redact

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
REPEAT_INTERVAL = 10.0
"""Seconds between two log lines of the same kind from a logger that may repeat itself."""
RATE_LIMITED_LOGGERS = (
    "asyncio",
    "uvicorn.error",
    "serving.runtime.connections",
    "python_multipart",
)
"""The loggers that report per-connection events (python-multipart warns of every malformed
form); request lines are not limited."""


REQUEST_LOGGER = "serving.requests"


class Redact(logging.Filter):
    """Mask secrets in a record's message and in its exception text before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == REQUEST_LOGGER:  # built from sane parts only: the hot path skips
            return True
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class OncePerInterval(logging.Filter):
    """Let through one record per message template and interval; count the rest."""

    MAX_KINDS = 1000  # message templates remembered; more than this means the keys vary

    def __init__(self, seconds: float = REPEAT_INTERVAL) -> None:
        super().__init__()
        self.seconds = seconds
        self._last: dict[tuple[str, object], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.msg)
        now = time.monotonic()
        last, held_back = self._last.get(key, (float("-inf"), 0))
        if now - last < self.seconds:
            self._last[key] = (last, held_back + 1)
            return False
        if len(self._last) >= self.MAX_KINDS:
            self._last.clear()
        self._last[key] = (now, 0)
        if record.exc_info and isinstance(record.exc_info[1], OSError):
            # "Too many open files" and the like: the reason is the message, not the stack.
            record.msg = f"{record.getMessage()}: {record.exc_info[1]}"
            record.args, record.exc_info, record.exc_text = None, None, None
        if held_back:
            record.msg = f"{record.getMessage()} ({held_back} more like this in the last "
            record.msg += f"{now - last:.0f} s were not logged)"
            record.args = None
        return True


class LineFormatter(logging.Formatter):
    """LOG_FORMAT, with the date and time formatted once a second rather than per line.

    Every request writes a line. Making this formatter (dictConfig does, in every process)
    also stops the logging module from looking up, for every record, the thread, process
    and multiprocessing names that no line shows: together a good half of a request
    line's cost (10.5 -> 5 us). The text is the standard Formatter's.
    """

    def __init__(self) -> None:
        super().__init__(LOG_FORMAT)
        logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
        self._second: int | None = None
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            self._stamp = time.strftime(self.default_time_format, self.converter(second))
            self._second = second
        return self.default_msec_format % (self._stamp, record.msecs)


def log_config(level: str) -> dict:
    """One format for uvicorn's and our loggers, applied by uvicorn in every worker."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"()": LineFormatter}},
        "filters": {"once": {"()": OncePerInterval}, "redact": {"()": Redact}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "line",
                "filters": ["redact"],
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {name: {"filters": ["once"]} for name in RATE_LIMITED_LOGGERS},
        "root": {"handlers": ["stderr"], "level": level.upper()},
    }
