"""Every setting of the service, read from environment variables and checked in one place.

Container platforms and Kubernetes configure a process through its environment,
so that is the only source. Each field of Settings carries its variable name, what
it means and what values it allows; load_settings() checks all of them before
anything starts, and the README's Configuration table is generated from the same
fields (`python -m serving.settings`), so the documentation cannot drift.
"""

import os
import resource
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from importlib.util import find_spec
from pathlib import Path

from feedback import DB_ENV, DB_TIMEOUT_S, DEFAULT_DB
from feedback.secrets import redact
from recognizer.contract import MAX_DIGITS, MAX_DIGITS_LIMIT, MODEL_FILE

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_PATH = REPO_ROOT / "artifacts" / MODEL_FILE
DEFAULT_WEB_DIR = REPO_ROOT / "web"
LOG_LEVELS = ("debug", "info", "warning", "error")
SWITCH_VALUES = {"on": True, "true": True, "1": True, "off": False, "false": False, "0": False}
SECRETS = frozenset({"FEEDBACK_TOKEN"})
"""Settings whose values never appear in an error message or a log (and a password in
any other value, such as FEEDBACK_DB's URL, is masked: feedback.secrets.redact)."""
RESERVED_FILES = 64
"""Descriptors a worker needs besides its connections: libraries, the model, pipes, logs."""
FILES_PER_CONNECTION = 2
"""A connection's socket, and the file it may be sending."""


class SettingError(ValueError):
    """A setting has a value the service cannot run with; the message says which and why."""


def _setting(env: str, default: object, meaning: str, allowed: str = "", shown: str = "") -> object:
    """A Settings field that knows its environment variable and documents itself."""
    return field(
        default=default,
        metadata={"env": env, "meaning": meaning, "allowed": allowed, "shown": shown},
    )


@dataclass(frozen=True)
class Settings:
    """Resolved configuration; the defaults are the documented ones."""

    host: str = _setting(
        "HOST", "127.0.0.1", "Interface to listen on; `0.0.0.0` in a container", "an address"
    )
    port: int = _setting(
        "PORT", 8000, "Port to listen on, used as given (container platforms set it)", "1-65535"
    )
    model_path: Path = _setting(  # noqa: RUF009 (a field(), with metadata)
        "MODEL_PATH",
        DEFAULT_MODEL_PATH,
        "The ONNX model; its `model_card.json` must sit next to it and give its sha256",
        "a file",
        f"`artifacts/{MODEL_FILE}` in the repository",
    )
    web_dir: Path = _setting(  # noqa: RUF009
        "WEB_DIR",
        DEFAULT_WEB_DIR,
        "The directory the page is served from",
        "a directory holding index.html",
        "`web/` in the repository",
    )
    workers: int = _setting(
        "WORKERS",
        1,
        "Worker processes, each with its own model session and its own listening socket "
        "(SO_REUSEPORT), so the kernel spreads connections over them",
        ">= 1",
    )
    ort_threads: int = _setting(
        "ORT_THREADS",
        1,
        "onnxruntime threads per session; the model is small, so workers scale better than threads",
        ">= 1",
    )
    max_body_bytes: int = _setting(
        "MAX_BODY_BYTES", 1_048_576, "Larger request bodies get 413", ">= 1", "`1048576` (1 MB)"
    )
    max_image_pixels: int = _setting(
        "MAX_IMAGE_PIXELS",
        4_000_000,  # 2000x2000: far above any canvas (1120x1120 at 4x DPR), far below a bomb
        "Images with more pixels get 413 before they are decoded",
        ">= 1",
        "`4000000` (2000x2000)",
    )
    max_request_pixels: int = _setting(
        "MAX_REQUEST_PIXELS",
        16_000_000,  # four 2000x2000 images, or 64 of the page's 840x280 number pads
        "Pixels in all the images of one request (a batch, or one image), weighed from their "
        "headers; more get 413 before any is decoded, so one request cannot take a worker's "
        "memory",
        ">= 1",
        "`16000000`",
    )
    max_batch: int = _setting("MAX_BATCH", 64, "Most images in one batch request", ">= 1")
    max_digits: int = _setting(
        "MAX_DIGITS",
        MAX_DIGITS,
        "Most digits in one drawing in number mode (`mode=number`)",
        f"1-{MAX_DIGITS_LIMIT}",
    )
    max_connections: int = _setting(
        "MAX_CONNECTIONS",
        400,  # 2 x 400 + 64 descriptors: within a container's usual `ulimit -n 1024`
        "Open connections per worker, each counted until its socket is closed. A new one "
        "beyond it aborts the connection that has waited longest on its client (sending its "
        "head or body, kept alive, or not reading its response); if the server is working on "
        "every connection it gets an immediate 503",
        f">= 1, and at most half the open-files limit minus {RESERVED_FILES}",
    )
    client_timeout: float = _setting(
        "CLIENT_TIMEOUT",
        10.0,
        "Seconds a client has to send a request's head, then again its body, and to take "
        "more of a response it has stopped reading; slower clients are disconnected (a late "
        "body gets 408)",
        "> 0",
    )
    cors_origins: tuple[str, ...] = _setting(
        "CORS_ORIGINS",
        (),
        "Comma-separated origins allowed to call the API from other sites' pages",
        "origins such as https://example.org",
        "empty (CORS off)",
    )
    log_level: str = _setting(
        "LOG_LEVEL",
        "info",
        "At `info` every request is one log line",
        ", ".join(LOG_LEVELS),
    )
    feedback: bool = _setting(
        "FEEDBACK",
        True,
        "Collect users' corrections at `POST /feedback`; when off it answers 404 and the page "
        "hides its control",
        "on, off (or true, false, 1, 0)",
        "`on`",
    )
    feedback_db: str = _setting(
        DB_ENV,
        DEFAULT_DB,
        "Where feedback is stored: a SQLite file (created on first use), or a `postgresql://` "
        "URL shared by several replicas (needs the `postgres` extra)",
        "a file path, or a postgresql:// URL with the postgres extra installed",
        "`data/feedback.sqlite3` in the working directory",
    )
    feedback_timeout: float = _setting(
        "FEEDBACK_TIMEOUT",
        DB_TIMEOUT_S,
        "Seconds a feedback request may wait for the database (to connect, and for each "
        "statement) before it gets 503; a hung database cannot hold a request longer",
        "> 0",
    )
    feedback_token: str = _setting(
        "FEEDBACK_TOKEN",
        "",
        "Bearer token for `GET /feedback/export`; export answers 404 while it is unset",
        "16 or more characters without spaces",
        "empty (export off)",
    )


def _integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum or (maximum is not None and value > maximum):
            raise ValueError
        return value

    return parse


def _positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise ValueError
    return value


def _log_level(text: str) -> str:
    if text.lower() not in LOG_LEVELS:
        raise ValueError
    return text.lower()


def _web_dir(text: str) -> Path:
    path = Path(text)
    if not (path / "index.html").is_file():
        raise ValueError
    return path


def _host(text: str) -> str:
    if not text.strip() or any(c.isspace() for c in text):
        raise ValueError
    return text


def _switch(text: str) -> bool:
    value = text.strip().lower()
    if value not in SWITCH_VALUES:
        raise ValueError
    return SWITCH_VALUES[value]


def _feedback_db(text: str) -> str:
    if not text.strip():
        raise ValueError
    if text.startswith(("postgresql://", "postgres://")) and not find_spec("psycopg"):
        raise ValueError  # the postgres extra is not installed
    return text


def _token(text: str) -> str:
    if text and (len(text) < 16 or any(c.isspace() for c in text)):
        raise ValueError
    return text


def _origins(text: str) -> tuple[str, ...]:
    origins = tuple(item.strip() for item in text.split(",") if item.strip())
    if any(o != "*" and not o.startswith(("http://", "https://")) for o in origins):
        raise ValueError
    return origins


PARSERS: dict[str, Callable[[str], object]] = {
    "host": _host,
    "port": _integer(1, 65535),
    "model_path": Path,
    "web_dir": _web_dir,
    "workers": _integer(1),
    "ort_threads": _integer(1),
    "max_body_bytes": _integer(1),
    "max_image_pixels": _integer(1),
    "max_request_pixels": _integer(1),
    "max_batch": _integer(1),
    "max_digits": _integer(1, MAX_DIGITS_LIMIT),
    "max_connections": _integer(1),
    "client_timeout": _positive_float,
    "cors_origins": _origins,
    "log_level": _log_level,
    "feedback": _switch,
    "feedback_db": _feedback_db,
    "feedback_timeout": _positive_float,
    "feedback_token": _token,
}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (or the mapping given); raises SettingError on a bad value."""
    environ = os.environ if environ is None else environ
    values = {}
    for spec in fields(Settings):
        env = spec.metadata["env"]
        if env not in environ:
            continue
        try:
            values[spec.name] = PARSERS[spec.name](environ[env])
        except ValueError:
            shown = "(hidden)" if env in SECRETS else redact(repr(environ[env]))
            raise SettingError(
                f"{env}={shown} is not allowed: {env} must be {spec.metadata['allowed']}"
            ) from None
    return Settings(**values)


def check_resources(settings: Settings) -> None:
    """Make sure a worker can hold MAX_CONNECTIONS open connections, raising the soft limit.

    Running out of descriptors makes the accept loop fail on every attempt; keeping
    the connection bound below the limit means it never gets there. A connection holds two:
    its socket, and the file it is sending (streamed from disk, see serving.files).
    """
    needed = FILES_PER_CONNECTION * settings.max_connections + RESERVED_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard == resource.RLIM_INFINITY or hard >= needed:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        else:
            raise SettingError(
                f"MAX_CONNECTIONS={settings.max_connections} is not allowed: it needs "
                f"{needed} open files but the limit (ulimit -n) is {hard}; lower "
                f"MAX_CONNECTIONS to at most {(hard - RESERVED_FILES) // FILES_PER_CONNECTION} "
                "or raise the limit"
            )


def configuration_table() -> str:
    """The README's Configuration table, generated from the fields above."""
    rows = ["| Variable | Default | Allowed | Meaning |", "|---|---|---|---|"]
    for spec in fields(Settings):
        meta = spec.metadata
        default = meta["shown"] or f"`{spec.default}`"
        rows.append(f"| `{meta['env']}` | {default} | {meta['allowed']} | {meta['meaning']} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.stdout.write(configuration_table())
