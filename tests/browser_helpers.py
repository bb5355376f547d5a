"""Helpers for the browser tests: the real app in a subprocess, strokes and pixel reads.

Kept out of test_browser.py so the tests there read as what the user does and sees.
"""

import subprocess

from playwright.sync_api import CDPSession, Page

from bench.server import REPO_ROOT, start_server, stop_server, wait_ready

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


def _to_page(page: Page, x: float, y: float) -> tuple[float, float]:
    box = page.locator("#pad").bounding_box()
    assert box is not None, "the drawing pad is not visible"
    return box["x"] + x * box["width"], box["y"] + y * box["height"]


MOVES_PER_STROKE = 40
"""Mouse moves per stroke: plenty of samples for a smooth line, few enough to stay fast."""


def draw_with_mouse(page: Page, strokes: list[Stroke]) -> None:
    """Press, drag through every point of each stroke in small moves, release."""
    for stroke in strokes:
        steps = max(2, MOVES_PER_STROKE // max(1, len(stroke) - 1))
        page.mouse.move(*_to_page(page, *stroke[0]))
        page.mouse.down()
        for point in stroke[1:]:
            page.mouse.move(*_to_page(page, *point), steps=steps)
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
  const at = points.map(([u, v]) => dark(Math.floor(u * (width - 1)), Math.floor(v * (height - 1))));
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
