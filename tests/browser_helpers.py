"""Helpers for the browser tests: the real app in a subprocess, the browser, a watched page,
drawn digits, strokes and pixel reads.

Kept out of the test modules so the tests there read as what the user does and sees. The
fixtures are in browser_fixtures.py.
"""

import math
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from playwright.sync_api import (
    Browser,
    CDPSession,
    Page,
    Request,
    Route,
    expect,
    sync_playwright,
)

from bench.server import REPO_ROOT, start_server, stop_server, wait_ready
from recognizer.contract import MAX_DIGITS
from serving import page_contract

OUTPUT_DIR = REPO_ROOT / "test-output"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

Stroke = list[tuple[float, float]]
"""A polyline in pad units: (0, 0) is the pad's top left corner, (1, 1) its bottom right."""


class AppServer:
    """The real app on a fixed port, so a test can stop it and start it again on the same URL."""

    def __init__(self, port: int, **env: str) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/"
        self.env = env
        """Extra environment for the app (FEEDBACK_DB, FEEDBACK_TOKEN, ...)."""
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start `python -m serving` and return once it answers."""
        self._process = start_server(self.port, **{"LOG_LEVEL": "warning", **self.env})
        try:
            wait_ready(self._process, self.port)
        except (RuntimeError, TimeoutError):
            self.stop()
            raise

    def stop(self) -> None:
        """Terminate the app and wait until it has gone."""
        if self._process is not None:
            stop_server(self._process)
            self._process = None


ANSWER_TIMEOUT_MS = 10_000
"""Real time means well under a second here; the margin is for a busy CI machine (a shared
2-core machine has been seen taking over 2 s for one batch answer)."""


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 24) -> Stroke:
    """A closed loop, drawn clockwise from the top."""
    return [
        (cx + rx * math.sin(2 * math.pi * i / n), cy - ry * math.cos(2 * math.pi * i / n))
        for i in range(n + 1)
    ]


ONE: list[Stroke] = [[(0.55, 0.12), (0.47, 0.88)]]
SEVEN_BAR: Stroke = [(0.22, 0.18), (0.78, 0.18)]
SEVEN_LEG: Stroke = [(0.78, 0.18), (0.6, 0.5), (0.45, 0.88)]
SEVEN: list[Stroke] = [SEVEN_BAR + SEVEN_LEG[1:]]
ZERO: list[Stroke] = [ellipse(0.5, 0.5, 0.26, 0.38)]
FOUR: list[Stroke] = [
    [(0.32, 0.15), (0.28, 0.55), (0.78, 0.52)],
    [(0.66, 0.2), (0.64, 0.88)],
]
TWO: list[Stroke] = [
    [
        *[(0.27, 0.3), (0.35, 0.16), (0.52, 0.12), (0.68, 0.18), (0.72, 0.32), (0.62, 0.5)],
        *[(0.45, 0.66), (0.28, 0.86), (0.76, 0.86)],
    ]
]
SIX: list[Stroke] = [
    [
        *[(0.66, 0.12), (0.48, 0.26), (0.36, 0.46), (0.31, 0.66), (0.38, 0.83), (0.53, 0.88)],
        *[(0.66, 0.8), (0.69, 0.64), (0.58, 0.52), (0.43, 0.53), (0.33, 0.62)],
    ]
]
DIGITS: dict[str, list[Stroke]] = {
    "0": ZERO,
    "1": ONE,
    "2": TWO,
    "4": FOUR,
    "6": SIX,
    "7": SEVEN,
}
"""Digits drawn in a unit square, as on the square pad; `place` puts them on the wide one."""

NUMBER_ASPECT = 3
"""The pad's width over its height in number mode."""


def place(strokes: list[Stroke], centre: float, size: float = 0.8) -> list[Stroke]:
    """A digit's strokes on the wide pad: `size` of its height, centred at `centre` (a
    fraction of its width), in fractions of the wide pad's width and height."""
    return [
        [(centre + (x - 0.5) * size / NUMBER_ASPECT, 0.5 + (y - 0.5) * size) for x, y in stroke]
        for stroke in strokes
    ]


def number_strokes(text: str, size: float = 0.8) -> list[Stroke]:
    """The strokes of a number, its digits evenly spaced across the wide pad."""
    step = 1 / (len(text) + 1)
    return [
        stroke
        for i, digit in enumerate(text)
        for stroke in place(DIGITS[digit], step * (i + 1), size)
    ]


def _to_page(page: Page, x: float, y: float, pad: str = "#pad") -> tuple[float, float]:
    box = page.locator(pad).bounding_box()
    assert box is not None, "the drawing pad is not visible"
    return box["x"] + x * box["width"], box["y"] + y * box["height"]


MOVES_PER_STROKE = 40
"""Mouse moves per stroke: plenty of samples for a smooth line, few enough to stay fast."""


def draw_with_mouse(page: Page, strokes: list[Stroke], pad: str = "#pad") -> None:
    """Press, drag through every point of each stroke in small moves, release, on the
    canvas `pad` (the page's pad unless another is named)."""
    for stroke in strokes:
        steps = max(2, MOVES_PER_STROKE // max(1, len(stroke) - 1))
        page.mouse.move(*_to_page(page, *stroke[0], pad))
        page.mouse.down()
        for point in stroke[1:]:
            page.mouse.move(*_to_page(page, *point, pad), steps=steps)
        page.mouse.up()


def draw_with_finger(page: Page, cdp: CDPSession, stroke: Stroke, steps: int = 10) -> None:
    """One touch stroke through Chromium's real input pipeline (so it could scroll the page)."""

    def touch(kind: str, x: float, y: float) -> None:
        px, py = _to_page(page, x, y)
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": px, "y": py}]})

    touch("touchStart", *stroke[0])
    previous = stroke[0]
    for point in stroke[1:]:
        for i in range(1, steps + 1):
            t = i / steps
            touch(
                "touchMove",
                previous[0] + (point[0] - previous[0]) * t,
                previous[1] + (point[1] - previous[1]) * t,
            )
        previous = point
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def draw_with_pen(page: Page, cdp: CDPSession, stroke: Stroke, steps: int = 10) -> None:
    """One pen stroke (pointerType "pen", with pressure), as a stylus on a tablet sends it."""

    def pen(kind: str, x: float, y: float, buttons: int) -> None:
        px, py = _to_page(page, x, y)
        event = {"type": kind, "x": px, "y": py, "pointerType": "pen", "force": 0.5}
        if kind != "mouseMoved":
            event |= {"button": "left", "clickCount": 1}
        cdp.send("Input.dispatchMouseEvent", event | {"buttons": buttons})

    pen("mousePressed", *stroke[0], 1)
    previous = stroke[0]
    for point in stroke[1:]:
        for i in range(1, steps + 1):
            t = i / steps
            x = previous[0] + (point[0] - previous[0]) * t
            pen("mouseMoved", x, previous[1] + (point[1] - previous[1]) * t, 1)
        previous = point
    pen("mouseReleased", *previous, 0)


_READ_PAD = """
(points) => {
  const pad = document.getElementById("pad");
  const { data, width, height } = pad.getContext("2d").getImageData(0, 0, pad.width, pad.height);
  const dark = (x, y) => data[(y * width + x) * 4] < 128;
  let ink = 0;
  for (let y = 0; y < height; y += 1) for (let x = 0; x < width; x += 1) ink += dark(x, y);
  const pixel = ([u, v]) => [Math.floor(u * (width - 1)), Math.floor(v * (height - 1))];
  const at = points.map((point) => dark(...pixel(point)));
  return {
    ink: ink / (width * height), at, width, height,
    cssWidth: pad.clientWidth, cssHeight: pad.clientHeight,
  };
}
"""


def read_pad(page: Page, points: Stroke = ()) -> dict:
    """The pad's pixels: `ink` = fraction of dark pixels, `at` = is each point dark (points in
    fractions of the pad's width and height), sizes."""
    return page.evaluate(_READ_PAD, [list(p) for p in points])


_SEEN_INK = """
() => {
  const seen = document.getElementById("seen");
  const { data } = seen.getContext("2d").getImageData(0, 0, 28, 28);
  let bright = 0;
  for (let i = 0; i < data.length; i += 4) bright += data[i] > 127;
  return bright;
}
"""


def seen_bright_pixels(page: Page) -> int:
    """How many of the 28x28 'what the model saw' pixels are ink (bright, as the model sees it)."""
    return page.evaluate(_SEEN_INK)


SEVERAL_DIGITS = {
    "digit": None,
    "confidence": 0.0,
    "probabilities": {str(d): 0.1 for d in range(10)},
    "blank": False,
    "reason": "several_digits",
    "message": "This looks like several digits.",
    "model_version": "test",
}
"""Digit mode's answer to several digits, as the API shapes it."""


def answering(reply: dict):
    """A route handler that answers every request with `reply`, as the API shapes answers."""
    return lambda route: route.fulfill(json=reply)


def bar_values(page: Page) -> dict[str, float]:
    """The probability each of the ten bars shows, by digit."""
    return page.eval_on_selector_all(
        "#bars .bar", "rows => Object.fromEntries(rows.map(r => [r.dataset.digit, +r.dataset.p]))"
    )


_CONTRAST = """
(selectors) => {
  const rgba = (css) => css.match(/[\\d.]+/g).map(Number);
  const channel = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  return Object.fromEntries(selectors.map((selector) => {
    const el = document.querySelector(selector);
    const [a, b] = [luminance(rgba(getComputedStyle(el).color)), luminance(background(el))];
    return [selector, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
  }));
}
"""


def contrast_ratios(page: Page, selectors: list[str]) -> dict[str, float]:
    """WCAG contrast ratio of each element's text colour against its nearest background."""
    return page.evaluate(_CONTRAST, selectors)


class Watch:
    """Everything the page logs as an error and every URL it asks for."""

    def __init__(self, page: Page, origin: str) -> None:
        self.origin = origin
        self.errors: list[str] = []
        self.requests: list[Request] = []
        self.failed: list[Request] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("request", lambda r: self.requests.append(r))
        page.on("requestfailed", lambda r: self.failed.append(r))

    def posts(self, path: str) -> list[Request]:
        """The POST requests the page has made to `path` so far."""
        return [r for r in self.requests if r.method == "POST" and urlsplit(r.url).path == path]

    def predictions(self) -> int:
        """How many POST /predict requests the page has made so far."""
        return len(self.posts("/predict"))

    def assert_clean(self, allowed_errors: str | None = None) -> None:
        """No console errors (except ones matching `allowed_errors`), no other hosts."""
        errors = [e for e in self.errors if not (allowed_errors and re.search(allowed_errors, e))]
        assert errors == [], f"console errors: {errors}"
        foreign = [r.url for r in self.requests if not r.url.startswith(self.origin)]
        assert foreign == [], f"requests to other hosts: {foreign}"


MODULES_ORIGIN = "http://modules.test"
"""A made-up origin where web_modules_page serves web/'s files, and the contract.js the
server renders with its default settings."""

_CONTENT_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm"}


def _serve_web_file(route: Route) -> None:
    path = urlsplit(route.request.url).path
    if path == f"/{page_contract.PATH}":
        route.fulfill(content_type="text/javascript", body=page_contract.render(MAX_DIGITS))
        return
    file = REPO_ROOT / "web" / path.lstrip("/")
    if path == "/" or not file.is_file():
        route.fulfill(content_type="text/html", body="<!doctype html><title>modules</title>")
        return
    route.fulfill(content_type=_CONTENT_TYPES.get(file.suffix), body=file.read_bytes())


@contextmanager
def web_modules_page() -> Iterator[Page]:
    """A blank page whose origin serves web/'s files, for testing the page's JavaScript
    modules (`await import("/js/pad.js")`) in Chromium without starting the app."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.route(f"{MODULES_ORIGIN}/**", _serve_web_file)
        page.goto(f"{MODULES_ORIGIN}/")
        yield page
        browser.close()


def open_page(browser: Browser, server: AppServer, **context_options) -> tuple[Page, Watch]:
    """A fresh browser profile on the app's page, once the page is ready for a drawing."""
    options = {"viewport": {"width": 1100, "height": 800}, "device_scale_factor": 2}
    context = browser.new_context(**(options | context_options))
    page = context.new_page()
    watch = Watch(page, server.url.rstrip("/"))
    page.goto(server.url)
    expect(page.locator("#summary")).to_have_text(re.compile(r"^Draw a (digit|number)$"))
    return page, watch


def switch_to_number_mode(page: Page) -> None:
    """Pick "Number" on the switch and wait until the pad is wide."""
    page.get_by_role("radio", name="Number").check()
    expect(page.locator("#pad")).to_have_attribute("data-aspect", str(NUMBER_ASPECT))
    expect(page.locator("#summary")).to_have_text("Draw a number")
