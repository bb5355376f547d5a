"""The page's constants and messages come from the server: js/contract.js, rendered from the
Python definitions (serving/page_contract.py), carries each of them with its value, every
page module takes them from it, and none keeps a copy of its own.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from starlette.testclient import TestClient

from recognizer import answers, contract, preprocess
from serving import page_contract
from serving.app import create_app
from serving.middleware import REQUEST_ID_HEADER
from serving.settings import Settings

WEB_JS = Path(__file__).resolve().parents[1] / "web" / "js"
EXPORT = re.compile(r"^export const ([A-Z_]+) = (.+);$", re.MULTILINE)
IMPORT = re.compile(r'^import \{([^}]+)\} from "\./contract\.js";$', re.MULTILINE)


def exports(source: str) -> dict[str, object]:
    """The names and JSON values of a contract.js's `export const` lines."""
    return {name: json.loads(value) for name, value in EXPORT.findall(source)}


def test_contract_js_carries_the_python_values(client, settings: Settings) -> None:
    response = client.get(f"/{page_contract.PATH}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    expected = {
        "INPUT_NAME": contract.INPUT_NAME,
        "OUTPUT_NAME": contract.OUTPUT_NAME,
        "IMAGE_SIZE": contract.IMAGE_SIZE,
        "DIGIT_BOX": contract.DIGIT_BOX,
        "MNIST_CENTRE": list(contract.MNIST_CENTRE),
        "DIGIT_CLASSES": contract.DIGIT_CLASSES,
        "NOT_A_DIGIT": contract.NOT_A_DIGIT,
        "NOT_A_DIGIT_THRESHOLD": contract.NOT_A_DIGIT_THRESHOLD,
        "INK_THRESHOLD": preprocess.INK_THRESHOLD,
        "WORKING_SIDE": preprocess.WORKING_SIDE,
        "LANCZOS_SUPPORT": preprocess.LANCZOS_SUPPORT,
        "MESSAGES": answers.MESSAGES,
        "BLOB_THICKNESS": answers.BLOB_THICKNESS,
        "BLOB_DIGIT_CONFIDENCE": answers.BLOB_DIGIT_CONFIDENCE,
        "MAX_DIGITS": settings.max_digits,
        "REQUEST_ID_HEADER": REQUEST_ID_HEADER.decode(),
    }
    assert exports(response.text) == expected
    # Every line is an export, a comment or blank: nothing else runs in the page.
    for line in response.text.splitlines():
        assert not line or line.startswith(("export const ", "//", "/**", " *")), line
    assert "/** Side of the square image the model sees, as in MNIST. */" in response.text


def test_contract_js_follows_the_servers_settings(settings: Settings) -> None:
    """A server that reads longer numbers has a page that takes them, and a new shell cache."""
    versions = []
    for max_digits in (settings.max_digits, 20):
        with TestClient(create_app(replace(settings, max_digits=max_digits))) as client:
            assert exports(client.get(f"/{page_contract.PATH}").text)["MAX_DIGITS"] == max_digits
            worker = client.get("/sw.js").text
        manifest = json.loads(re.search(r"^self\.MANIFEST = (.*);$", worker, re.MULTILINE)[1])
        assert page_contract.PATH in manifest["shell"]["files"]
        versions.append(manifest["shell"]["version"])
    assert versions[0] != versions[1]


def test_contract_js_is_revalidated_and_gzipped_like_the_pages_files(client) -> None:
    path = f"/{page_contract.PATH}"
    plain = client.get(path, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["cache-control"] == "no-cache"
    zipped = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == plain.content
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.headers["etag"] != plain.headers["etag"]  # another body, another tag
    for etag in (plain.headers["etag"], zipped.headers["etag"]):
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"", etag


def page_imports() -> Iterator[tuple[str, str]]:
    """(module, name) for every name a page module imports from contract.js."""
    for module in sorted(WEB_JS.glob("*.js")):
        for names in IMPORT.findall(module.read_text()):
            for name in names.split(","):
                if name.strip():
                    yield module.name, name.strip()


def test_the_page_imports_the_contract_and_keeps_no_copy() -> None:
    assert not (WEB_JS / "contract.js").exists(), "contract.js is the server's, not a file"
    exported = set(exports(page_contract.render(contract.MAX_DIGITS).decode()))
    imported = {name for _, name in page_imports()}
    assert imported <= exported, f"imported but not exported: {imported - exported}"
    assert exported <= imported, f"exported but used nowhere: {exported - imported}"
    # No page module defines one of the contract's names, or writes its header by hand.
    for module in sorted(WEB_JS.glob("*.js")):
        source = module.read_text()
        for name in exported:
            assert not re.search(rf"\b(const|let|var) {name}\b", source), (module.name, name)
        assert REQUEST_ID_HEADER.decode() not in source.lower(), module.name
