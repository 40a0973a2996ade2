"""Browser fixtures: Debian's Chromium driven by Playwright against the live server.

Rules of this project:

- the browser is the system Chromium at /usr/bin/chromium; Playwright never downloads one;
- every browser starts from a new, empty profile (user-data-dir) of its own, made with
  ``tmp_path_factory``; Playwright refuses ``--user-data-dir`` in ``args`` for ``launch()``, so
  each browser is a ``launch_persistent_context`` on that directory;
- the sync API runs outside any asyncio loop (all fixtures here are sync). While it is
  started, Playwright keeps its own loop marked as running on the main thread, so
  ``asyncio.run`` (behind ``sql``, ``make_user`` and ``clean_db`` of tests/conftest.py) fails
  there: this module's ``sql``, ``make_user`` and ``clean_db`` run the same helpers in a
  worker thread (tests in tests/e2e import them from here), and Playwright is started per
  test, so it is stopped again before any test of another folder runs.

``open_browser()`` gives one :class:`BrowserWindow` per call (two calls = two separate
browsers, as on two desks); each collects the page's uncaught JavaScript errors and any 5xx
response it received, and the test fails at teardown if there were any.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright

from examhall.config import Settings
from tests import conftest as shared
from tests.conftest import REPO, LiveServer

T = TypeVar("T")

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
TIMEOUT_MS = 10_000
RESULTS = REPO / "test-results"


def off_loop(work: Callable[..., T], *args: Any) -> T:
    """Run blocking work that calls ``asyncio.run`` in a thread of its own."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="e2e-db") as pool:
        return pool.submit(work, *args).result()


def sql(url: str, query: str, *args: Any) -> list[dict[str, Any]]:
    """``tests.conftest.sql``, safe to call while a browser is open."""
    return off_loop(shared.sql, url, query, *args)


def make_user(url: str, settings: Settings, username: str, roles: list[str], password: str = "correct-horse-9") -> None:
    """``tests.conftest.make_user``, safe to call while a browser is open."""
    off_loop(shared.make_user, url, settings, username, roles, password)


@pytest.fixture
def clean_db(pg_url: str) -> str:
    """Empty tables, as ``tests.conftest.clean_db``, truncated from a worker thread."""
    off_loop(shared.truncate_all, pg_url)
    return pg_url


@dataclass
class BrowserWindow:
    """One browser (own process, own profile) with its single tab."""

    context: BrowserContext
    page: Page
    base_url: str
    errors: list[str] = field(default_factory=list)

    def url_path(self) -> str:
        """The path (and query) of the current page, without the scheme and host."""
        url = self.page.url
        return url[len(self.base_url) :] if url.startswith(self.base_url) else url

    def login_staff(self, username: str, password: str = "correct-horse-9") -> None:
        """Log in through the staff form, the way a person does it, and wait for the home page."""
        page = self.page
        page.goto("/login")
        page.locator("#username").fill(username)
        page.locator("#password").fill(password)
        page.get_by_role("button", name="登录", exact=True).click()
        expect(page.get_by_test_id("who")).to_be_visible()
        assert self.url_path() == "/"


@pytest.fixture
def playwright_driver(live_server: LiveServer, clean_db: str) -> Iterator[Playwright]:
    # Per test, never per session: while Playwright runs, asyncio.run fails on this thread, and
    # tests of other folders use it. It starts after the database is migrated and emptied.
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def open_browser(
    playwright_driver: Playwright,
    live_server: LiveServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[], BrowserWindow]]:
    windows: list[BrowserWindow] = []

    def open_one() -> BrowserWindow:
        profile = tmp_path_factory.mktemp("chromium-profile")
        context = playwright_driver.chromium.launch_persistent_context(
            user_data_dir=profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            base_url=live_server.url,
            viewport={"width": 1280, "height": 800},
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.pages[0] if context.pages else context.new_page()
        window = BrowserWindow(context=context, page=page, base_url=live_server.url)
        page.on("pageerror", lambda exc: window.errors.append(f"JavaScript: {exc}"))
        page.on(
            "response",
            lambda r: (
                window.errors.append(f"HTTP {r.status} on {r.request.method} {r.url}") if r.status >= 500 else None
            ),
        )
        windows.append(window)
        return window

    yield open_one

    problems = [f"{i}: {e}" for i, w in enumerate(windows) for e in w.errors]
    for window in windows:
        window.context.close()
    if problems:
        pytest.fail("the browser met uncaught JavaScript errors or server errors:\n" + "\n".join(problems))


@pytest.fixture
def browser(open_browser: Callable[[], BrowserWindow]) -> BrowserWindow:
    """One browser on an empty database."""
    return open_browser()


@pytest.fixture
def results_dir() -> Path:
    RESULTS.mkdir(exist_ok=True)
    return RESULTS
