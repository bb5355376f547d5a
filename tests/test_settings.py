"""Every setting is checked once, before anything starts: one line, a non-zero exit."""

import hashlib
import json
import logging
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from feedback.secrets import redact
from recognizer.contract import CARD_FILE
from serving.runtime.logs import LineFormatter, Redact
from serving.settings import (
    DEFAULT_MODEL_PATH,
    SettingError,
    Settings,
    configuration_table,
    load_settings,
)

REPO_ROOT = Path(__file__).resolve().parent.parent

# (variable, bad value, words the one-line message must contain)
BAD_SETTINGS = [
    ("HOST", "", "HOST must be an address"),
    ("HOST", "local host", "HOST must be an address"),
    ("PORT", "abc", "PORT must be 1-65535"),
    ("PORT", "99999", "PORT must be 1-65535"),
    ("PORT", "0", "PORT must be 1-65535"),
    ("WEB_DIR", "/nonexistent", "WEB_DIR must be a directory holding index.html"),
    ("WORKERS", "abc", "WORKERS must be >= 1"),
    ("WORKERS", "0", "WORKERS must be >= 1"),
    ("WORKERS", "-3", "WORKERS must be >= 1"),
    ("ORT_THREADS", "0", "ORT_THREADS must be >= 1"),
    ("MAX_BODY_BYTES", "abc", "MAX_BODY_BYTES must be >= 1"),
    ("MAX_BODY_BYTES", "0", "MAX_BODY_BYTES must be >= 1"),
    ("MAX_IMAGE_PIXELS", "-1", "MAX_IMAGE_PIXELS must be >= 1"),
    ("MAX_REQUEST_PIXELS", "0", "MAX_REQUEST_PIXELS must be >= 1"),
    ("MAX_BATCH", "0", "MAX_BATCH must be >= 1"),
    ("MAX_DIGITS", "0", "MAX_DIGITS must be 1-64"),
    ("MAX_CONNECTIONS", "0", "MAX_CONNECTIONS must be >= 1"),
    ("MAX_CONNECTIONS", "100000000", "lower MAX_CONNECTIONS to at most"),
    ("CLIENT_TIMEOUT", "0", "CLIENT_TIMEOUT must be > 0"),
    ("CLIENT_TIMEOUT", "nan", "CLIENT_TIMEOUT must be > 0"),
    ("CORS_ORIGINS", "example.org", "CORS_ORIGINS must be origins such as https://example.org"),
    ("LOG_LEVEL", "bogus", "LOG_LEVEL must be debug, info, warning, error"),
    ("FEEDBACK", "maybe", "FEEDBACK must be on, off"),
    ("FEEDBACK_DB", " ", "FEEDBACK_DB must be a file path"),
    ("FEEDBACK_TIMEOUT", "-1", "FEEDBACK_TIMEOUT must be > 0"),
    ("FEEDBACK_TOKEN", "short secret", "FEEDBACK_TOKEN=(hidden) is not allowed"),
]


def run_server(**env: str) -> subprocess.CompletedProcess:
    """`python -m serving` with these variables; every case here must end by itself."""
    environment = {**os.environ, "HOST": "127.0.0.1", "PORT": "18399", **env}
    return subprocess.run(
        [sys.executable, "-m", "serving"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line_failure(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("number-visualizer: cannot start: "), lines[0]
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize(("name", "value", "words"), BAD_SETTINGS)
def test_a_bad_setting_stops_start_up_with_one_line(name, value, words):
    result = run_server(**{name: value})
    assert_one_line_failure(result, words)
    if "must be" in words:
        assert f"{name}={value!r}" in result.stderr


def test_a_database_password_never_reaches_the_start_up_error():
    """A PostgreSQL URL where the driver cannot be imported: the line names the URL with its
    password masked."""
    code = "import sys; sys.modules['psycopg'] = None; from serving.__main__ import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={**os.environ, "FEEDBACK_DB": "postgresql://nv:S3cret-pw@db.example/feedback"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert_one_line_failure(result, "postgresql://nv:***@db.example/feedback", "postgres extra")
    assert "S3cret" not in result.stderr


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("postgresql://nv:S3cret@db/feedback", "postgresql://nv:***@db/feedback"),
        ("postgres://nv:p@ss:w0rd@db:5432/fb?x=1", "postgres://nv:***@db:5432/fb?x=1"),
        ("host=db password=S3cret dbname=fb", "host=db password=*** dbname=fb"),
        ("Authorization: Bearer S3cretS3cretS3cret", "Authorization: Bearer ***"),
        ("http://example.org:8080/x and postgresql://nv@db/fb", None),  # nothing secret
    ],
)
def test_redact_masks_passwords_and_tokens(line, masked):
    assert redact(line) == (masked or line)


def test_the_log_handler_masks_secrets_in_messages_and_tracebacks():
    """The filter every server log line passes (serving.runtime.logs.log_config)."""
    url = "postgresql://nv:S3cret@db/feedback"
    try:
        raise RuntimeError(f"cannot connect to {url}")
    except RuntimeError as exc:
        record = logging.LogRecord("serving", logging.ERROR, "", 0, "using %s", (url,), None)
        record.exc_info = (type(exc), exc, exc.__traceback__)
    assert Redact().filter(record)
    text = LineFormatter().format(record)
    assert "S3cret" not in text
    assert text.count("postgresql://nv:***@db/feedback") == 2


def test_every_setting_has_a_bad_value_in_the_table():
    covered = {name for name, _, _ in BAD_SETTINGS} | {"MODEL_PATH"}  # the model tests below
    assert covered == {spec.metadata["env"] for spec in fields(Settings)}


def test_defaults_and_good_values():
    assert load_settings({}) == Settings()
    settings = load_settings(
        {"PORT": "8080", "WORKERS": "2", "LOG_LEVEL": "WARNING", "CORS_ORIGINS": "https://a.b, "}
    )
    assert (settings.port, settings.workers, settings.log_level) == (8080, 2, "warning")
    assert settings.cors_origins == ("https://a.b",)
    with pytest.raises(SettingError, match="MAX_BATCH='x'"):
        load_settings({"MAX_BATCH": "x"})


def test_readme_configuration_table_is_generated_from_the_settings():
    """`python -m serving.settings` prints the table; the README must hold it as printed."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert configuration_table() in readme


@pytest.fixture
def unloadable_model(tmp_path) -> Path:
    """A model file onnxruntime cannot load, with a card whose checksum matches it."""
    model = tmp_path / DEFAULT_MODEL_PATH.name
    garbage = b"not an onnx graph" * 10
    model.write_bytes(garbage)
    card = json.loads(DEFAULT_MODEL_PATH.with_name(CARD_FILE).read_text())
    card["model"]["sha256"] = hashlib.sha256(garbage).hexdigest()
    model.with_name(CARD_FILE).write_text(json.dumps(card))
    return model


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_model_onnxruntime_cannot_load_stops_any_number_of_workers(unloadable_model, workers):
    result = run_server(MODEL_PATH=str(unloadable_model), WORKERS=workers)
    assert_one_line_failure(result, "onnxruntime cannot load", str(unloadable_model))


def test_a_missing_model_stops_start_up(tmp_path):
    result = run_server(MODEL_PATH=str(tmp_path / "nothing.onnx"), WORKERS="2")
    assert_one_line_failure(result, "cannot read the model")


def test_settings_module_prints_the_table():
    result = subprocess.run(
        [sys.executable, "-m", "serving.settings"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.stdout == configuration_table()
