"""The phone app without a network: the service worker, recognition on the device, the outbox.

The browser tests run the real app (`python -m serving`) and Debian's Chromium: install the
page, stop the server and cut the network, reload, draw, get an answer "on this device";
bring the server back and get the server's answers and the queued feedback, exactly once.
"""

import hashlib
import json
import re
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect, sync_playwright

from bench.server import free_port
from serving import page_contract, shell
from tests.browser_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DIGITS,
    AppServer,
    draw_with_mouse,
    number_strokes,
    place,
    switch_to_number_mode,
)

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web"
VENDOR = WEB / "vendor" / "onnxruntime-web"
TOKEN = "offline-test-token-0123456789"
SEVEN = [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]]
ONE = [[(0.5, 0.15), (0.5, 0.85)]]
OFFLINE_READY_S = 60
"""The service worker caches 15 MB after the first visit; on a busy machine that takes a while."""

FIRST_VISIT_BUDGET = 400_000
"""Bytes the page may load before it is usable: the shell, without the runtime or the model."""

# What a page without a network legitimately logs: the requests it tried and could not make.
NETWORK_ERRORS = re.compile(
    r"ERR_(INTERNET_DISCONNECTED|CONNECTION_REFUSED|CONNECTION_RESET|FAILED)"
)


# --- The server's side: the model download, the service worker's manifest, the CSP ---


def test_model_download_is_the_served_model_named_by_its_sha256(client) -> None:
    health = client.get("/health").json()
    response = client.get("/model.onnx")
    assert response.status_code == 200
    digest = hashlib.sha256(response.content).hexdigest()
    assert digest == health["model_sha256"] == response.headers["x-model-sha256"]
    assert response.headers["etag"] == f'"{digest}"'
    assert response.headers["x-model-version"] == health["model_version"]
    assert response.headers["cache-control"] == "no-cache"
    again = client.get("/model.onnx", headers={"If-None-Match": f'"{digest}"'})
    assert again.status_code == 304 and again.content == b""


def test_csp_allows_webassembly_and_no_javascript_eval(client) -> None:
    policy = client.get("/").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self' 'wasm-unsafe-eval'"
    assert directives["default-src"] == "'self'"
    assert "'unsafe-eval'" not in policy and "'unsafe-inline'" not in policy


def _manifest(source: bytes) -> dict:
    line = re.search(rb"^self\.MANIFEST = (.*);$", source, re.MULTILINE)
    assert line, "the served sw.js has no manifest line"
    return json.loads(line.group(1))


def test_service_worker_caches_the_shell_and_runtime_but_no_api(client) -> None:
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"
    manifest = _manifest(response.content)
    shell_files = manifest["shell"]["files"]
    for needed in ("./", "index.html", "style.css", "manifest.webmanifest", "js/app.js"):
        assert needed in shell_files
    assert "js/offline.js" in shell_files and "js/preprocess.js" in shell_files
    assert page_contract.PATH in shell_files  # rendered by the server, cached like the rest
    assert any(f.startswith("icons/") for f in shell_files)
    assert not any(f.startswith("vendor/") for f in shell_files)  # not on the first visit
    assert sorted(manifest["runtime"]["files"]) == [
        "vendor/onnxruntime-web/ort-wasm-simd-threaded.mjs",
        "vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm",
        "vendor/onnxruntime-web/ort.wasm.min.mjs",
    ]
    api = ("predict", "feedback", "health", "metrics", "openapi.json", "model.onnx")
    assert not any(f.startswith(api) for f in shell_files + manifest["runtime"]["files"])


def test_runtime_is_gzipped_for_clients_that_take_it(client) -> None:
    wasm = "/vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm"
    plain = client.get(wasm, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert plain.content == (VENDOR / "ort-wasm-simd-threaded.wasm").read_bytes()
    assert plain.headers["content-type"] == "application/wasm"
    gzipped = client.get(wasm, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert gzipped.headers["content-encoding"] == "gzip"
    assert int(gzipped.headers["content-length"]) < len(plain.content) / 3
    assert gzipped.content == plain.content  # httpx undoes the gzip
    assert gzipped.headers["vary"] == "Accept-Encoding"
    again = client.get(wasm, headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304
    module = client.get("/vendor/onnxruntime-web/ort.wasm.min.mjs")
    assert module.headers["content-type"] == "text/javascript"
    assert client.get("/vendor/onnxruntime-web/LICENSE").status_code == 200  # still served


def test_the_cache_version_changes_with_any_shell_file(tmp_path: Path) -> None:
    web = tmp_path / "web"
    shutil.copytree(WEB, web, ignore=shutil.ignore_patterns("vendor"))
    generated = {page_contract.PATH: b"export const A = 1;\n"}

    def version() -> str:
        return _manifest(shell.service_worker(web, generated))["shell"]["version"]

    versions = [version(), version()]  # stable while nothing changes
    (web / "js" / "view.js").write_text((web / "js" / "view.js").read_text() + "\n// changed\n")
    versions.append(version())
    (web / "icons" / "new.png").write_bytes(b"png")
    versions.append(version())
    generated[page_contract.PATH] = b"export const A = 2;\n"  # a server with other settings
    versions.append(version())
    assert versions[0] == versions[1] and len(set(versions)) == 4, versions


def test_vendored_runtime_is_the_pinned_release_with_its_licence() -> None:
    readme = (VENDOR / "README.md").read_text()
    listed = re.findall(r"^\| (\S+) \| [\d,]+ \| ([0-9a-f]{64}) \|$", readme, re.MULTILINE)
    assert len(listed) == 3
    for name, sha in listed:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == sha, name
    assert "ONNX Runtime Web v1.30.0" in (VENDOR / "ort.wasm.min.mjs").read_text()[:200]
    assert "MIT License" in (VENDOR / "LICENSE").read_text()
    shipped = {p.name for p in VENDOR.iterdir()}
    assert shipped == {name for name, _ in listed} | {
        "LICENSE",
        "ThirdPartyNotices.txt",
        "README.md",
    }


# --- In Chromium ---


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[AppServer]:
    data = tmp_path_factory.mktemp("offline")
    app = AppServer(free_port(), FEEDBACK_DB=str(data / "feedback.sqlite3"), FEEDBACK_TOKEN=TOKEN)
    app.start()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Console:
    """Every console error and uncaught exception of a page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def assert_clean(self) -> None:
        unexpected = [e for e in self.errors if not NETWORK_ERRORS.search(e)]
        assert unexpected == []


def stored_feedback(server: AppServer) -> list[dict]:
    """Every feedback row the server holds, from its export."""
    request = urllib.request.Request(
        f"{server.url}feedback/export", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return [json.loads(line) for line in response.read().splitlines() if line.strip()]


_CACHES = """
async () => {
  const out = {};
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    const files = {};
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      files[new URL(request.url).pathname] = (await response.arrayBuffer()).byteLength;
    }
    out[name] = files;
  }
  return out;
}
"""


def cached(page: Page) -> dict[str, dict[str, int]]:
    """The Cache Storage of the page's origin: cache name -> {path: bytes}."""
    return page.evaluate(_CACHES)


def wait_for(page: Page, expression: str, seconds: float = 15) -> None:
    """Poll a JavaScript expression until it is true (wait_for_function would eval() it in
    the page, which the page's CSP rightly forbids)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {seconds} s: {expression}"
        page.wait_for_timeout(100)


def wait_until_offline_ready(page: Page) -> dict[str, dict[str, int]]:
    """Wait for the worker to control the page and to hold the runtime and the model."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    wait_for(page, "navigator.serviceWorker.controller !== null")
    deadline = time.monotonic() + OFFLINE_READY_S
    while time.monotonic() < deadline:
        caches = cached(page)
        paths = {path for files in caches.values() for path in files}
        if (
            "/model.onnx" in paths
            and "/vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm" in paths
        ):
            return caches
        page.wait_for_timeout(250)
    raise AssertionError(f"the offline runtime was not cached within {OFFLINE_READY_S} s")


def outbox_size(page: Page) -> int:
    return page.evaluate("import('./js/outbox.js').then((outbox) => outbox.pendingCount())")


def answered_by(page: Page, source: str, digit: str | None, timeout: float = 15_000) -> None:
    """Wait for the drawing's own answer (showing `digit`, unless None): a mid-stroke preview
    can show the digit first, while the answer asked for when the pen lifted is still on its
    way (the result is aria-busy)."""
    answered = page.locator("#answered-by")
    expect(answered).to_have_attribute("data-source", source, timeout=timeout)
    if digit is not None:
        expect(page.locator("#digit")).to_have_text(digit, timeout=timeout)
    expect(page.locator("#result")).to_have_attribute("aria-busy", "false", timeout=timeout)
    expect(answered).to_have_attribute("data-source", source, timeout=1)
    if digit is not None:
        expect(page.locator("#digit")).to_have_text(digit, timeout=1)


def stored_history(page: Page) -> list[dict]:
    """The history rows as the page keeps them (newest first), read back from its storage."""
    return page.evaluate("import('./js/history.js').then((h) => new h.History().entries)")


def test_installed_page_answers_offline_then_the_server_again(
    browser: Browser, server: AppServer
) -> None:
    context = browser.new_context()
    page = context.new_page()
    console = Console(page)
    first_visit: list[Request] = []

    def record(request: Request) -> None:
        first_visit.append(request)

    page.on("requestfinished", record)
    page.goto(server.url, wait_until="networkidle")
    page.remove_listener("requestfinished", record)
    sizes = [r.sizes() for r in first_visit]
    first_visit_bytes = sum(s["responseBodySize"] + s["responseHeadersSize"] for s in sizes)
    assert not any("vendor/" in r.url or "model.onnx" in r.url for r in first_visit)
    assert first_visit_bytes < FIRST_VISIT_BUDGET

    caches = wait_until_offline_ready(page)
    offline_bytes = {name: sum(files.values()) for name, files in caches.items()}
    print(f"\nfirst visit: {first_visit_bytes:,} bytes in {len(first_visit)} requests")
    print(f"cached for offline use: {offline_bytes}, {sum(offline_bytes.values()):,} bytes")

    # The server stops: the installed page answers with the model on the device instead.
    server.stop()
    draw_with_mouse(page, SEVEN)
    answered_by(page, "device", "7", timeout=30_000)
    # No network either: the page still opens, from the worker's caches, and answers. The
    # reload comes as soon as the answer is there: the drawing's row was stored with it.
    context.set_offline(True)
    page.reload()
    rows = page.locator("#history-list li")
    expect(page.locator("#pad")).to_be_visible()
    expect(rows).to_have_count(1)
    draw_with_mouse(page, SEVEN)
    answered_by(page, "device", "7")
    expect(page.locator("#answered-by")).to_contain_text("on this device")
    expect(rows).to_have_count(2)
    # The API is never answered from a cache.
    assert page.evaluate("fetch('health').then(() => 'answered', () => 'failed')") == "failed"
    assert (
        page.evaluate("fetch('predict', {method: 'POST'}).then(() => 'answered', () => 'failed')")
        == "failed"
    )

    # Feedback waits in the outbox, and its row says so.
    page.locator("#feedback-right").click()
    expect(page.locator("#feedback-thanks")).not_to_be_empty()
    expect(rows.first.locator(".history-details")).to_contain_text("confirmed")
    assert outbox_size(page) == 1
    # Another drawing on the same offline page, then another reload at once.
    page.locator("#clear").click()
    draw_with_mouse(page, ONE)
    answered_by(page, "device", "1")
    page.reload()
    expect(page.locator("#pad")).to_be_visible()
    # Every answer drawn while the server was away is in the history exactly once, from the
    # device, and survived the reloads.
    expect(rows.locator(".history-answer")).to_have_text(["1", "7", "7"])
    expect(rows.locator(".history-details")).to_contain_text(["on this device"] * 3)
    history = stored_history(page)
    assert [(row["answer"], row["source"]) for row in history] == [("1", "device")] + [
        ("7", "device")
    ] * 2
    assert len({row["id"] for row in history}) == 3
    assert history[1]["feedback"] == {"label": "7", "status": "queued"}
    assert [row["feedback"] for row in (history[0], history[2])] == [None, None]

    # The server and the network come back: a drawing answered on the device is answered by
    # the server again without a touch (its row now says so), and the queued feedback
    # arrives, once.
    draw_with_mouse(page, SEVEN)
    answered_by(page, "device", "7")
    server.start()
    context.set_offline(False)
    answered_by(page, "server", "7", timeout=20_000)
    page.locator("#clear").click()
    draw_with_mouse(page, ONE)
    answered_by(page, "server", "1")
    history = stored_history(page)
    assert [(row["answer"], row["source"]) for row in history] == [
        ("1", "server"),
        ("7", "server"),
        ("1", "device"),
        ("7", "device"),
        ("7", "device"),
    ]
    deadline = time.monotonic() + 15
    while outbox_size(page) and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert outbox_size(page) == 0
    page.wait_for_timeout(2500)  # a retry that should not happen would have happened by now
    rows = stored_feedback(server)
    assert [row["label"] for row in rows] == ["7"]
    console.assert_clean()
    context.close()


def expect_number_on_device(page: Page, text: str) -> None:
    """The drawing's own answer: the number, one box per digit, read on this device."""
    answered_by(page, "device", text)
    boxes = page.locator("#boxes .part-box")
    expect(boxes).to_have_count(len(text))
    assert boxes.evaluate_all("bs => bs.map((b) => b.dataset.digit)") == list(text)
    expect(page.locator("#answered-by")).to_contain_text("digits that touch need the server")


def test_number_mode_offline_reads_the_parts_on_the_device(
    browser: Browser, server: AppServer
) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    console = Console(page)
    page.goto(server.url)
    wait_until_offline_ready(page)
    server.stop()
    try:
        context.set_offline(True)
        page.reload()
        switch_to_number_mode(page)

        draw_with_mouse(page, number_strokes("2026"))
        expect_number_on_device(page, "2026")
        # A 4 and a 7 drawn across each other are one group of strokes: without the server
        # the page does not cut them, and offers to split them; split, they are 47.
        page.locator("#clear").click()
        draw_with_mouse(page, place(DIGITS["4"], 0.45) + place(DIGITS["7"], 0.56))
        answered_by(page, "device", None)
        expect(page.locator("#boxes .part-box")).to_have_count(1)
        page.locator("#split .split-button", has_text="Split").click()
        expect_number_on_device(page, "47")

        rows = page.locator("#history-list li")
        expect(rows.locator(".history-answer")).to_have_text(["47", "2026"])
        expect(rows.locator(".history-details")).to_contain_text(["on this device"] * 2)
        history = stored_history(page)
        assert [(row["mode"], row["source"]) for row in history] == [("number", "device")] * 2
        console.assert_clean()
    finally:
        server.start()
        context.close()


def test_feedback_whose_reply_was_lost_is_sent_again_and_stored_once(
    browser: Browser, server: AppServer
) -> None:
    # Playwright cannot route requests that pass through a service worker; the outbox needs none.
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    console = Console(page)
    page.goto(server.url)
    lost: list[int] = []

    def lose_the_first_reply(route: Route) -> None:
        if lost:
            route.continue_()
            return
        response = route.fetch()  # the server stores it...
        lost.append(response.status)
        route.abort("connectionreset")  # ...but the page never hears back

    page.route("**/feedback", lose_the_first_reply)
    before = len(stored_feedback(server))
    draw_with_mouse(page, ONE)
    answered_by(page, "server", "1")
    page.locator('#feedback button[data-label="4"]').click()  # "Wrong? It was 4"
    deadline = time.monotonic() + 15
    while (not lost or outbox_size(page)) and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert lost == [201]
    assert outbox_size(page) == 0
    rows = stored_feedback(server)[before:]
    assert [row["label"] for row in rows] == ["4"]
    console.assert_clean()
    context.close()


def test_a_new_version_installs_and_the_user_is_told(browser: Browser, tmp_path: Path) -> None:
    web = tmp_path / "web"
    shutil.copytree(WEB, web, ignore=shutil.ignore_patterns("vendor"))
    (web / "vendor").symlink_to(WEB / "vendor")
    app = AppServer(free_port(), WEB_DIR=str(web), FEEDBACK="off")
    app.start()
    try:
        context = browser.new_context()
        page = context.new_page()
        console = Console(page)
        page.goto(app.url)
        wait_for(page, "navigator.serviceWorker.controller !== null")
        old = [name for name in cached(page) if "-shell-" in name]
        expect(page.locator("#app-update")).to_be_hidden()

        style = web / "style.css"
        style.write_text(style.read_text() + "\n.masthead h1 { letter-spacing: 0.01em; }\n")
        page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
        expect(page.locator("#app-update")).to_be_visible(timeout=15_000)
        page.locator("#app-update button").click()  # the new version takes over; the page reloads
        page.wait_for_load_state()
        expect(page.locator("#app-update")).to_be_hidden()
        deadline = time.monotonic() + 10
        while old[0] in cached(page) and time.monotonic() < deadline:
            page.wait_for_timeout(250)  # the new worker deletes the old shell when it activates
        new = [name for name in cached(page) if "-shell-" in name]
        assert len(old) == len(new) == 1 and new != old
        assert page.evaluate("fetch('style.css').then((r) => r.text())").endswith("0.01em; }\n")
        console.assert_clean()
        context.close()
    finally:
        app.stop()
