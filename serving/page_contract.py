"""The page's constants and messages, rendered from the server's own definitions.

The page recognizes drawings on the device when the server cannot be reached, and must
then prepare and judge them exactly as the server does: the same input size, thresholds
and messages. Rather than keep JavaScript copies of those values, the server renders them
as an ES module, js/contract.js, that the page's modules import (`import { IMAGE_SIZE }
from "./contract.js"`). It is served and cached offline like the page's other files
(serving.shell puts it in the service worker's shell), and it carries this server's
settings too: a server with MAX_DIGITS=20 has a page that takes 20 digits.
"""

import ast
import functools
import inspect
import itertools
import json
from dataclasses import fields
from types import ModuleType

from recognizer import answers, contract, preprocess
from serving.middleware import REQUEST_ID_HEADER
from serving.settings import Settings

PATH = "js/contract.js"
"""Where the page finds the module, under its own address (no file by that name in web/)."""

SHARED: tuple[tuple[ModuleType, tuple[str, ...]], ...] = (
    (
        contract,
        (
            "INPUT_NAME",
            "OUTPUT_NAME",
            "IMAGE_SIZE",
            "DIGIT_BOX",
            "MNIST_CENTRE",
            "DIGIT_CLASSES",
            "NOT_A_DIGIT",
            "NOT_A_DIGIT_THRESHOLD",
        ),
    ),
    (preprocess, ("INK_THRESHOLD", "WORKING_SIDE", "LANCZOS_SUPPORT")),
    (answers, ("MESSAGES", "BLOB_THICKNESS", "BLOB_DIGIT_CONFIDENCE")),
)
"""The recognizer's values the page uses, by the module that defines them."""

Constant = tuple[str, object, str]
"""A name, its value (anything JSON can say) and what it means."""


def _constants(max_digits: int) -> dict[str, tuple[Constant, ...]]:
    """Every value contract.js exports, grouped by where it is defined."""
    groups: dict[str, tuple[Constant, ...]] = {}
    for module, names in SHARED:
        notes = _docstrings(module)
        groups[_source(module)] = tuple((n, getattr(module, n), notes.get(n, "")) for n in names)
    meaning = {f.name: f.metadata["meaning"] for f in fields(Settings)}
    groups["serving/settings.py (this server's setting)"] = (
        ("MAX_DIGITS", max_digits, meaning["max_digits"]),
    )
    groups["serving/middleware.py"] = (
        ("REQUEST_ID_HEADER", REQUEST_ID_HEADER.decode(), "The header that names each answer."),
    )
    return groups


@functools.lru_cache(maxsize=8)
def render(max_digits: int) -> bytes:
    """contract.js for a server with this MAX_DIGITS: `export const NAME = <JSON>;` lines."""
    lines = [
        "// The page's constants and messages, rendered by the server (serving/page_contract.py)",
        "// from the definitions named below: change them there, not here.",
    ]
    for source, group in _constants(max_digits).items():
        lines += ["", f"// {source}"]
        for name, value, note in group:
            if note:
                lines.append(_comment(note))
            lines.append(f"export const {name} = {json.dumps(value, ensure_ascii=False)};")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _source(module: ModuleType) -> str:
    return module.__name__.replace(".", "/") + ".py"


def _docstrings(module: ModuleType) -> dict[str, str]:
    """The docstrings under a module's constants (`NAME = ...` then `\"\"\"what it is\"\"\"`)."""
    body = ast.parse(inspect.getsource(module)).body
    notes = {}
    for node, following in itertools.pairwise(body):
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        text = following.value.value if isinstance(following, ast.Expr) else None
        if isinstance(target, ast.Name) and isinstance(text, str):
            notes[target.id] = inspect.cleandoc(text)
    return notes


def _comment(text: str) -> str:
    """A JSDoc comment holding `text`, which cannot end it early."""
    lines = text.replace("*/", "* /").splitlines()
    if len(lines) == 1:
        return f"/** {lines[0]} */"
    return "\n".join(["/**", *(f" * {line}".rstrip() for line in lines), " */"])
