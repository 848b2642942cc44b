"""A real headless Chromium for the dashboard's browser tests: Debian's ``chromium`` driven by Selenium.

Importable as ``browser_support`` (pytest puts ``tests/`` on ``sys.path``). A test module
registers the fixtures with ``pytest_plugins`` (asserts rewritten first, so a failing helper
assert shows its values)::

    pytest.register_assert_rewrite("browser_support")
    pytest_plugins = ("browser_support",)

    def test_list_page(browser, tmp_path):
        browser.open(url)                         # waits for the page to load
        browser.testid("authorization-row")       # [data-testid="authorization-row"], waiting for it
        browser.click_and_wait(link)              # click a link and wait for the next page
        browser.assert_no_console_errors("the list")
        assert browser.dialogs() == []            # no alert() (see Dialogs below)
        browser.screenshot(tmp_path, "list")      # tmp_path/list.png (whole page), a test artifact

- ``chromium_session`` (module scope) starts ONE browser per test module (a start costs about
  a second): with a fresh profile under the module's temporary folder, 1280x800.
- ``browser`` (function scope) is that browser, reset for the test: no cookies (of any
  site), on ``about:blank``, the console log read and dropped.

Why Selenium with Debian's chromium-driver: the browser and its driver come from the same
Debian package version, installed by ``make browser`` (part of ``make test``), and nothing
downloads a browser or driver build of its own. The driver is given by path, so Selenium
Manager (which would download one) is never run; ``SE_OFFLINE`` keeps it offline even if it were.

The browser is hermetic: its host resolver maps every name but ``127.0.0.1``/``localhost`` to
"not found", except :data:`REBINDING_HOST`, which resolves to 127.0.0.1, so a test can open
``http://evil.test:PORT/`` and see what a DNS-rebinding page would get from the dashboard.

Console: every message of the page's console (``goog:loggingPrefs``) is kept; SEVERE entries
are JavaScript errors, failed loads and Content-Security-Policy violations, so
:meth:`Browser.assert_no_console_errors` catches a page that breaks its own CSP.

Dialogs: every page gets, before its own scripts run, ``alert``/``confirm``/``prompt`` that
record their call instead of opening a dialog (:data:`DIALOG_RECORDER`), and
:meth:`Browser.dialogs` reads that record. Asking the driver for an open alert instead would
race with the page (an ``onerror`` fires when the image request fails, maybe after the check).

When chromium or chromedriver is missing the tests skip and name the Debian package to
install; with ``CI`` set they fail instead, so a CI run never passes without them.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DEBIAN_PACKAGES = {CHROMIUM: "chromium", CHROMEDRIVER: "chromium-driver"}
REBINDING_HOST = "evil.test"  # resolves to 127.0.0.1 in the test browser only
WINDOW_SIZE = (1280, 800)
WAIT_SECONDS = 10.0

# Runs in every document before the page's scripts (DevTools injects it, CSP or not).
DIALOG_LOG = "__authctlTestDialogs"
DIALOG_RECORDER = f"""(() => {{
  const asked = [];
  Object.defineProperty(window, "{DIALOG_LOG}", {{value: asked}});
  for (const name of ["alert", "confirm", "prompt"]) {{
    window[name] = (message) => {{ asked.push(name + ": " + String(message)); return null; }};
  }}
}})();"""

# Headless, and quiet on a closed network: no sandbox (the suite runs as root on CI), no GPU,
# /tmp instead of a small /dev/shm, and none of the background traffic a fresh profile starts
# (component updates, sync, QUIC probes, extensions, proxies from the environment).
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-extensions", "--no-proxy-server",
    "--hide-scrollbars",
    f"--host-resolver-rules=MAP {REBINDING_HOST} 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
)


def missing_packages() -> list[str]:
    """The Debian packages whose program is not installed (empty when the browser tests can run)."""
    return [package for program, package in DEBIAN_PACKAGES.items() if not os.access(program, os.X_OK)]


def require_browser() -> None:
    """Skip (fail on CI) with the packages to install when chromium or chromedriver is missing."""
    missing = missing_packages()
    if not missing:
        return
    reason = (f"the browser tests need Debian's {' and '.join(missing)} "
              f"(`make browser`, or `apt-get install {' '.join(missing)}`)")
    if os.environ.get("CI"):
        pytest.fail(reason + "; on CI they must run", pytrace=False)
    pytest.skip(reason)


@dataclass
class Browser:
    """One headless Chromium, with the few operations the dashboard tests need."""

    driver: webdriver.Chrome
    console: list[dict] = field(default_factory=list)  # every entry read so far, oldest first

    def open(self, url: str) -> None:
        """Load ``url`` and wait for it (the driver returns once the page's load event fired)."""
        self.driver.get(url)

    def testid(self, name: str, *, within: WebElement | None = None) -> WebElement:
        """The element with ``data-testid=NAME`` (waiting for it to appear)."""
        return self.css(f'[data-testid="{name}"]', within=within)

    def testids(self, name: str, *, within: WebElement | None = None) -> list[WebElement]:
        """Every element with ``data-testid=NAME`` now (possibly none: no waiting)."""
        return (within or self.driver).find_elements(By.CSS_SELECTOR, f'[data-testid="{name}"]')

    def css(self, selector: str, *, within: WebElement | None = None) -> WebElement:
        """The first element matching the CSS ``selector``, waiting for it to appear."""
        root = within or self.driver
        return WebDriverWait(self.driver, WAIT_SECONDS).until(
            lambda _: root.find_element(By.CSS_SELECTOR, selector),
            message=f"no element matches {selector!r} on {self.driver.current_url}")

    def page(self) -> WebElement:
        """The current page's ``<html>`` element (to wait for the next page with :meth:`wait_until_replaced`)."""
        return self.driver.find_element(By.TAG_NAME, "html")

    def wait_until_replaced(self, page: WebElement) -> None:
        """Wait until another page has replaced ``page`` (from :meth:`page`) and finished loading."""
        WebDriverWait(self.driver, WAIT_SECONDS).until(
            expected_conditions.staleness_of(page), message=f"no new page replaced {self.driver.current_url}")
        WebDriverWait(self.driver, WAIT_SECONDS).until(
            lambda driver: driver.execute_script("return document.readyState") == "complete",
            message=f"{self.driver.current_url} did not finish loading")

    def click_and_wait(self, element: WebElement) -> None:
        """Click a link (or submit button) and wait until the next page has replaced this one."""
        page = self.page()
        element.click()
        self.wait_until_replaced(page)

    def read_console(self) -> list[dict]:
        """The console entries logged since the last read (also kept in :attr:`console`)."""
        entries = self.driver.get_log("browser")
        self.console.extend(entries)
        return entries

    def assert_no_console_errors(self, where: str) -> None:
        """No SEVERE console entry (script error, failed load, CSP violation) since the last read.

        An entry about a URL of another origin than the current page is a previous page's
        request finishing late (a favicon of the last site visited), not this page's.
        """
        origin = _origin(self.driver.current_url)
        severe = [entry["message"] for entry in self.read_console()
                  if entry["level"] == "SEVERE" and _origin(entry["message"].split(" ", 1)[0]) in (origin, None)]
        assert not severe, f"console errors on {where}:\n  " + "\n  ".join(severe)

    def dialogs(self) -> list[str]:
        """The dialogs the current page asked for so far (``"alert: MESSAGE"``), oldest first."""
        return self.driver.execute_script(f"return window.{DIALOG_LOG} || [];")

    def screenshot(self, folder: Path, name: str, *, full_page: bool = True) -> Path:
        """Save the page as ``folder/NAME.png`` (a test artifact) and return its path.

        ``full_page``: the whole page, however long (a plan or a long list is the point of the
        picture), through the DevTools protocol; else what the 1280x800 window shows.
        """
        path = folder / f"{name}.png"
        if not full_page:
            assert self.driver.save_screenshot(str(path)), f"could not save the screenshot {path}"
            return path
        width, height = self.driver.execute_script(
            "const page = document.documentElement;"
            "return [Math.max(page.scrollWidth, page.clientWidth), Math.max(page.scrollHeight, page.clientHeight)];")
        clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot",
                                           {"format": "png", "captureBeyondViewport": True, "clip": clip})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def reset(self) -> None:
        """Back to a blank page with no cookies and the console read, for the next test."""
        self.driver.get("about:blank")
        self.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})  # every site's, not only the current one's
        self.read_console()
        self.console.clear()


def _origin(text: str) -> tuple[str, str] | None:
    """``(scheme, host:port)`` of an http(s) URL; None for anything else."""
    parts = urlsplit(text)
    return (parts.scheme, parts.netloc) if parts.scheme in ("http", "https") and parts.netloc else None


def chromium_options(profile: Path, window: tuple[int, int] = WINDOW_SIZE) -> webdriver.ChromeOptions:
    """The options of the test browser: Debian's binary, the flags above and a profile at ``profile``."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={window[0]},{window[1]}")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


@contextmanager
def start_chromium(profile: Path, window: tuple[int, int] = WINDOW_SIZE) -> Iterator[Browser]:
    """A headless Chromium with a fresh profile in ``profile`` (a new, empty folder); quit on exit."""
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager never downloads (it is not run anyway)
    service = Service(str(CHROMEDRIVER))  # a path: Selenium Manager is skipped
    driver = webdriver.Chrome(service=service, options=chromium_options(profile, window))
    try:
        # The window size includes headless Chromium's (invisible) window frame: fix the page's own size.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": window[0], "height": window[1], "deviceScaleFactor": 1, "mobile": False})
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": DIALOG_RECORDER})
        yield Browser(driver)
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def chromium_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One browser for the whole test module (skips, or fails on CI, without chromium)."""
    require_browser()
    with start_chromium(tmp_path_factory.mktemp("chromium-profile")) as browser:
        yield browser


@pytest.fixture
def browser(chromium_session: Browser) -> Browser:
    """The module's browser, reset for this test (no cookies, blank page, console read)."""
    chromium_session.reset()
    return chromium_session
