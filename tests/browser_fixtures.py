"""Fixtures of the browser tests: the real app, Playwright, Chromium and a watched desktop page.

A plugin (`pytest_plugins = ["browser_fixtures"]` in each browser test module), so that
the modules use the fixtures by name without importing them.
"""

from collections.abc import Iterator

import pytest
from browser_helpers import CHROMIUM, CHROMIUM_ARGS, OUTPUT_DIR, AppServer, Watch, open_page
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from bench.server import free_port


@pytest.fixture(scope="module")
def server() -> Iterator[AppServer]:
    """The real app with the model in artifacts/ (or MODEL_PATH), on a free port."""
    OUTPUT_DIR.mkdir(exist_ok=True)
    app = AppServer(free_port())
    app.start()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def desktop(browser: Browser, server: AppServer) -> Iterator[tuple[Page, Watch]]:
    """A desktop page; the test fails if it logged an error or reached another host."""
    page, watch = open_page(browser, server)
    yield page, watch
    watch.assert_clean()
    page.context.close()
