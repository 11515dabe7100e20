"""A real browser: Debian's chromium driven by Playwright (never a downloaded browser)."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium per test module that drives a browser.

    Playwright's sync API keeps an event loop running in this thread for as long as it is
    started, and Django then refuses ORM calls from the thread (SynchronousOnlyOperation). So
    DJANGO_ALLOW_ASYNC_UNSAFE is set here, for the browser's lifetime only, and put back after:
    every other test runs with Django's check intact.
    """
    if not CHROMIUM.exists():
        message = (
            "Chromium not found at /usr/bin/chromium: install it with `apt-get install chromium`"
        )
        if os.environ.get("ERPCRM_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()


@pytest.fixture
def page(browser: Browser, live_server: object) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, locale="en-US")  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()
