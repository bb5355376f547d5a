"""The tier table names modules and tests that exist: a renamed test would otherwise drop into
the fast tier unnoticed, and a renamed module out of its tier."""

import ast
from pathlib import Path

import pytest

from tests.tiers import MARKERS, TIERS

TESTS = Path(__file__).resolve().parent


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
