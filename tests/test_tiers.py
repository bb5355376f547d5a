"""The tier table names modules and tests that exist: a renamed test would otherwise drop into
the fast tier unnoticed, and a renamed module out of its tier."""

import ast
from pathlib import Path

import pytest

from tests.tiers import MARKERS, TIERS, debian_needs, missing_debian_package

TESTS = Path(__file__).resolve().parent
MAKEFILE = TESTS.parent / "Makefile"


@pytest.mark.parametrize("key", sorted(TIERS))
def test_every_tier_entry_names_a_module_or_test_that_exists(key):
    module, _, name = key.partition("::")
    path = TESTS / f"{module}.py"
    assert path.is_file(), f"tests/tiers.py lists {key}, but there is no {path.name}"
    if name:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert name in functions, f"tests/tiers.py lists {key}, but {path.name} has no {name}"
    assert TIERS[key] in MARKERS


def test_the_tier_markers_are_registered(pytestconfig):
    registered = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    assert registered >= set(MARKERS)


def test_every_debian_package_is_needed_by_a_marker_or_a_make_target():
    targets = {line.split(":")[0] for line in MAKEFILE.read_text().splitlines() if ":" in line}
    assert set(debian_needs()) <= set(MARKERS) | targets
    assert {"browser", "postgres"} <= set(debian_needs())


def test_a_missing_debian_package_is_named_in_one_line(tmp_path):
    needs = {"browser": [("chromium", str(tmp_path / "no-chromium"))]}
    reason = missing_debian_package(["slow", "browser"], needs)
    assert reason is not None and "\n" not in reason
    assert reason.startswith("browser tests need Debian's chromium")
    assert "apt-get install chromium" in reason
    needs = {"browser": [("chromium", str(tmp_path))]}
    assert missing_debian_package(["browser"], needs) is None
