"""The rooms' arrows run one way, and no source file outgrows a reader.

recognizer/ is the core (no web code, no TensorFlow); feedback/ stores corrections and may
use the recognizer's contract; serving/ is HTTP on top of both; training/ builds the model
from the recognizer and the feedback, never from the server. An import against an arrow
would make training start a web server's code, or the server pull in TensorFlow.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("recognizer", "feedback", "serving", "training", "bench")
MAY_IMPORT = {
    "recognizer": {"recognizer"},
    "feedback": {"feedback", "recognizer"},
    "serving": {"serving", "recognizer", "feedback"},
    "training": {"training", "recognizer", "feedback"},
    "bench": {"bench", "recognizer", "feedback", "serving", "training"},
}
NEVER = {"recognizer": {"tensorflow", "keras", "starlette", "uvicorn"}, "serving": {"tensorflow"}}
MAX_LINES = 600
SOURCE_SUFFIXES = (".py", ".js", ".css", ".html", ".sh")


def imported_modules(path: Path) -> set[str]:
    """The top-level names of every module a file imports, at any depth of its code."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("room", ROOMS)
def test_a_room_imports_only_the_rooms_below_it(room):
    crossings = {}
    for path in sorted((ROOT / room).rglob("*.py")):
        wrong = imported_modules(path) & (set(ROOMS) - MAY_IMPORT[room] | NEVER.get(room, set()))
        if wrong:
            crossings[str(path.relative_to(ROOT))] = sorted(wrong)
    assert crossings == {}


def test_no_source_file_outside_tests_is_over_600_lines():
    tracked = [
        path
        for path in ROOT.rglob("*")
        if path.suffix in SOURCE_SUFFIXES
        and path.is_file()
        and not {"tests", "vendor", ".venv", "node_modules", "runs"} & set(path.parts)
        and ".egg-info" not in str(path)
    ]
    assert len(tracked) > 50
    long = {
        str(path.relative_to(ROOT)): lines
        for path in tracked
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
