"""The test tiers: what keeps a test out of `make test-fast`, by the fixtures it uses, the module
it is in, or its name. The markers are described in pyproject.toml; tests/conftest.py applies
them and tests/test_tiers.py checks that every name below still exists."""

import functools
import glob
from collections.abc import Iterable
from pathlib import Path

import pytest

DEBIAN_PACKAGES = Path(__file__).resolve().parents[1] / ".ci" / "debian-packages"

BROWSER_FIXTURES = {"playwright", "browser", "page"}
"""A test that uses any of these drives Chromium, whatever module it is in."""

TIERS = {
    # TensorFlow: training, export and re-evaluation of the Keras model.
    "test_artifacts": "tensorflow",
    "test_augment": "tensorflow",
    "test_feedback_finetune": "tensorflow",
    "test_training": "tensorflow",
    # A throwaway PostgreSQL cluster.
    "test_feedback_storage": "postgres",
    "test_hostile_bodies": "postgres",
    # Real servers in other processes, and what they do under load or over time.
    "test_concurrency": "slow",
    "test_hostile_connections": "slow",
    "test_slow_clients": "slow",
    "test_workers": "slow",
    # Seconds of drawing and reading: the fine-tuning benchmark's 2,000 feedback drawings.
    "test_bench_finetune": "slow",
    # Single tests that take seconds: a real server, a started process, a long measurement.
    "test_feedback::test_the_cli_exports_the_same_rows_from_the_database": "slow",
    "test_numbers::test_evaluate_numbers_reports_exact_accuracy_by_gap_and_length": "slow",
    "test_numbers::test_overlapping_digits_whose_strokes_cross_are_read": "slow",
    "test_numbers::test_touching_digits_are_cut_finely_only_where_the_first_reading_is_unsure": (
        "slow"
    ),
    "test_numbers::test_touching_pairs_of_narrow_digits_are_cut_in_a_second_run": "slow",
    "test_openapi::test_every_route_answers_as_documented": "slow",
    "test_pendigits::test_training_stops_with_one_clear_line_without_the_pen_file": "slow",
    "test_segment::test_every_style_of_every_digit_stays_one_digit": "slow",
    "test_settings::test_a_bad_setting_stops_start_up_with_one_line": "slow",
    "test_settings::test_a_model_onnxruntime_cannot_load_stops_any_number_of_workers": "slow",
}
"""By module ("test_x") or by test ("test_x::test_y"). A new test is fast until it is listed
here; the fast tier cannot import TensorFlow, so one that does fails there at once."""

MARKERS = ("browser", "postgres", "tensorflow", "slow")
FAST = f"not ({' or '.join(MARKERS)})"
"""The fast tier's marker expression: none of the tiers above (tests/fast_tier.py selects it)."""


def mark(items: list[pytest.Item]) -> None:
    """Add each test's tier markers."""
    for item in items:
        if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)
        module, name = item.path.stem, getattr(item, "originalname", item.name)
        for tier in {TIERS.get(module), TIERS.get(f"{module}::{name}")} - {None}:
            item.add_marker(tier)


@functools.cache
def debian_needs() -> dict[str, list[tuple[str, str]]]:
    """What each marker needs from Debian, from .ci/debian-packages: (package, file glob)."""
    needs: dict[str, list[tuple[str, str]]] = {}
    for line in DEBIAN_PACKAGES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            package, pattern, need = line.split()
            needs.setdefault(need, []).append((package, pattern))
    return needs


def missing_debian_package(
    markers: Iterable[str], needs: dict[str, list[tuple[str, str]]] | None = None
) -> str | None:
    """One line saying what to install, when a package these markers need is not installed."""
    for marker in markers:
        for package, pattern in (needs or debian_needs()).get(marker, []):
            if not glob.glob(pattern):
                return (
                    f"{marker} tests need Debian's {package} ({pattern} is missing): "
                    f"apt-get install {package}, or `sudo make debian-deps` for all of them"
                )
    return None
