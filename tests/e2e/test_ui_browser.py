"""The dashboard (`authctl ui`) in a real headless Chromium: what a person clicking through it sees.

One seeded workspace (tests/ui_support.py: six authorizations, two hostile labels, a blocked
delete, an unhealthy OAuth connection, request counts), one real ``authctl ui`` subprocess and
one browser (tests/browser_support.py) serve the whole module. Every page visited is checked
for console errors (script errors, failed loads, CSP violations), an opened dialog and the
canary secret, and saved as a screenshot under the test's temporary folder.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.support.select import Select

pytest.register_assert_rewrite("browser_support")  # before its import: its asserts explain themselves
pytest_plugins = ("browser_support",)  # the fixtures: chromium_session (one per module), browser

from browser_support import REBINDING_HOST, Browser  # noqa: E402
from reconciler.vocabulary import Health  # noqa: E402
from ui_support import (CANARY, EXPERIENCE, HOSTILE_JOB, HOSTILE_LABEL, HOSTILE_LABEL_2, REQUESTS,  # noqa: E402
                        UNHEALTHY_REASON, Seeded, UiServer, seed_workspace, start_ui)

# One worker runs the whole module (`make test` distributes with --dist loadgroup): one seed, one server, one browser.
pytestmark = pytest.mark.xdist_group("ui-browser")

# Elements only an injection could have made: the hostile labels' <img src=x>, an onerror
# handler, or a script other than the dashboard's one file.
INJECTED = "img[src='x'], [onerror], script:not([src='/static/ui.js'])"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed_workspace(tmp_path_factory.mktemp("ui") / "ws")


@pytest.fixture(scope="module")
def ui(seeded: Seeded) -> Iterator[UiServer]:
    with start_ui(seeded.root) as server:
        yield server


@pytest.fixture
def signed_in(browser: Browser, ui: UiServer) -> Browser:
    """The browser after opening the URL `authctl ui` printed (it now holds the session cookie)."""
    browser.open(ui.url)
    return browser


def check_page(browser: Browser, where: str, folder: Path) -> None:
    """What every page must be: no console error, no dialog, nothing injected, no secret; then a screenshot."""
    browser.assert_no_console_errors(where)
    assert browser.dialogs() == [], f"a dialog opened on {where}"
    assert injected(browser) == 0, f"markup was injected into {where}"
    assert CANARY not in browser.driver.page_source, f"the secret is on {where}"
    browser.screenshot(folder, where.replace(" ", "-"))


def injected(browser: Browser) -> int:
    """How many elements of the page only an injection could have made (:data:`INJECTED`)."""
    return browser.driver.execute_script(f"return document.querySelectorAll({INJECTED!r}).length")


def auth_labels(browser: Browser) -> list[str]:
    return [link.text for link in browser.testids("authorization-link")]


def test_the_token_url_sets_an_httponly_cookie_and_leaves_the_address_bar(
        signed_in: Browser, ui: UiServer, seeded: Seeded, tmp_path: Path) -> None:
    browser = signed_in
    assert browser.driver.current_url == f"{ui.base_url}/authorizations"  # the token is gone from the URL
    [cookie] = browser.driver.get_cookies()
    assert ui.token not in cookie["value"]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["domain"]) == (True, "Strict", "127.0.0.1")
    assert browser.driver.execute_script("return document.cookie") == ""  # HttpOnly: no script can read it
    assert sorted(auth_labels(browser)) == sorted(seeded.labels.values())
    check_page(browser, "the authorizations list", tmp_path)


def test_clicking_a_column_header_sorts_by_it_and_clicking_again_reverses(
        signed_in: Browser, seeded: Seeded, tmp_path: Path) -> None:
    browser = signed_in
    ascending = sorted(seeded.labels.values())
    assert auth_labels(browser) == ascending  # by label, A to Z, unless told otherwise

    browser.click_and_wait(browser.testid("sort-label"))
    assert auth_labels(browser) == ascending[::-1]
    assert browser.css("th[aria-sort]").get_attribute("aria-sort") == "descending"

    browser.click_and_wait(browser.testid("sort-jobs"))
    totals = [int(cell.text.split("/")[1]) for cell in browser.testids("jobs-count")]
    assert totals == sorted(totals) and totals[0] < totals[-1], totals
    browser.click_and_wait(browser.testid("sort-jobs"))
    totals = [int(cell.text.split("/")[1]) for cell in browser.testids("jobs-count")]
    assert totals == sorted(totals, reverse=True), totals
    assert auth_labels(browser)[0] == seeded.labels["doomed"]  # the one with two jobs
    assert browser.css("th[aria-sort]").get_attribute("aria-sort") == "descending"
    check_page(browser, "the list sorted by jobs", tmp_path)


def test_choosing_a_health_filters_the_list_to_it(signed_in: Browser, seeded: Seeded, tmp_path: Path) -> None:
    browser = signed_in
    page = browser.page()
    Select(browser.testid("filter-health")).select_by_value(Health.UNHEALTHY)  # ui.js submits on change
    browser.wait_until_replaced(page)
    assert parse_qs(urlsplit(browser.driver.current_url).query)["health"] == [Health.UNHEALTHY]
    assert auth_labels(browser) == [seeded.labels["pin-oauth"]]
    health = browser.testid("health")
    assert health.get_attribute("data-health") == Health.UNHEALTHY
    assert health.get_attribute("title") == UNHEALTHY_REASON  # the reason, on hover
    check_page(browser, "the unhealthy authorizations", tmp_path)

    browser.click_and_wait(browser.testid("authorization-link"))  # its page says how to fix it
    assert browser.testid("summary-health").get_attribute("data-health") == Health.UNHEALTHY
    assert browser.testid("fix-command").text == "authctl reauth pin-oauth"
    check_page(browser, "an unhealthy authorization", tmp_path)

    browser.driver.back()
    browser.click_and_wait(browser.testid("filter-clear"))
    assert len(auth_labels(browser)) == len(seeded.labels)


def test_an_authorization_page_shows_its_jobs_experiences_and_activity(
        signed_in: Browser, ui: UiServer, seeded: Seeded, tmp_path: Path) -> None:
    browser = signed_in
    [link] = [a for a in browser.testids("authorization-link") if a.text == seeded.labels["alpha"]]
    browser.click_and_wait(link)
    assert browser.driver.current_url == f"{ui.base_url}/authorizations/{seeded.ids['alpha']}"
    assert browser.testid("authorization-label").text == seeded.labels["alpha"]
    assert [a.text for a in browser.testids("job-link")] == ["alpha-sync"]
    assert [row.find_element("css selector", "td").text for row in browser.testids("experience-row")] == [EXPERIENCE]

    # Charts: an SVG per period whose bars add up to the requests recorded in it (all within a month;
    # within the week, all but the one 400 hours ago).
    expected = {"month": sum(count for _, count in REQUESTS),
                "week": sum(count for hours_ago, count in REQUESTS if hours_ago < 7 * 24)}
    for period, total in expected.items():
        chart = browser.testid(f"activity-chart-{period}")
        assert chart.tag_name == "svg" and chart.get_attribute("role") == "img"
        counts = [int(bar.get_attribute("data-count")) for bar in chart.find_elements("css selector", "rect.bar")]
        assert sum(counts) == total and max(counts) > 0, (period, counts)
        assert browser.testid(f"activity-total-{period}").text.startswith(str(total))
        assert chart.size["width"] > 100 and chart.size["height"] > 20  # drawn, not collapsed
    check_page(browser, "an authorization", tmp_path)

    browser.click_and_wait(browser.testids("job-link")[0])
    assert browser.driver.current_url == f"{ui.base_url}/jobs/{seeded.ids['alpha-sync']}"
    assert browser.testid("job-name").text == "alpha-sync"
    check_page(browser, "a job", tmp_path)


def test_the_plan_puts_the_blocked_delete_first_and_links_to_the_blocking_job(
        signed_in: Browser, ui: UiServer, seeded: Seeded, tmp_path: Path) -> None:
    browser = signed_in
    browser.click_and_wait(browser.testid("nav-plan"))
    blocked, others = browser.testid("blocked-actions"), browser.testid("other-actions")
    assert blocked.location["y"] < others.location["y"]
    [action] = browser.testids("plan-action", within=blocked)
    assert (action.get_attribute("data-action"), action.get_attribute("data-blocked")) == ("delete", "true")
    assert action.get_attribute("data-address") == "Authorization/doomed"
    [replace] = [a for a in browser.testids("plan-action", within=others) if a.get_attribute("data-action") == "replace"]
    [moved] = browser.testids("moved-job-link", within=replace)
    assert moved.text == "Job/beta-sync"
    assert moved.get_attribute("href") == f"{ui.base_url}/jobs/{seeded.ids['beta-sync']}"
    check_page(browser, "the plan", tmp_path)

    [blocker] = browser.testids("blocker-link", within=action)
    assert blocker.text == HOSTILE_JOB  # a job name from the platform, shown as text
    browser.click_and_wait(blocker)
    assert browser.driver.current_url == f"{ui.base_url}/jobs/{seeded.blocker_job_id}"
    assert browser.testid("job-name").text == HOSTILE_JOB
    assert [a.text for a in browser.testids("job-authorization-link")] == [seeded.labels["doomed"]]
    check_page(browser, "the blocking job", tmp_path)


def test_hostile_labels_render_as_text_on_the_list_and_their_pages(
        signed_in: Browser, ui: UiServer, seeded: Seeded, tmp_path: Path) -> None:
    browser = signed_in
    assert {HOSTILE_LABEL, HOSTILE_LABEL_2} <= set(auth_labels(browser))  # check_page: nothing injected
    for name in ("hostile", "hostile2"):
        browser.open(f"{ui.base_url}/authorizations/{seeded.ids[name]}")
        assert browser.testid("authorization-label").text == seeded.labels[name]
        assert browser.driver.title.startswith(seeded.labels[name])
        check_page(browser, f"the page of {name}", tmp_path)


def refused(browser: Browser, seeded: Seeded, where: str, folder: Path) -> None:
    """The page is the dashboard's refusal and holds no data, no cookie came with it, and nothing ran."""
    assert browser.testid("refusal").is_displayed()
    assert browser.testids("authorization-row") == []
    assert not any(label in browser.driver.page_source for label in seeded.labels.values()), f"data on {where}"
    assert browser.driver.get_cookies() == []
    assert browser.dialogs() == []
    browser.screenshot(folder, where.replace(" ", "-"))


def test_a_wrong_token_or_none_is_refused(browser: Browser, ui: UiServer, seeded: Seeded, tmp_path: Path) -> None:
    browser.open(f"{ui.base_url}/?token=not-the-token")
    refused(browser, seeded, "a wrong token", tmp_path)
    browser.open(f"{ui.base_url}/authorizations")
    refused(browser, seeded, "no token", tmp_path)
    # The refused answer's own status is the page's only console error: its CSS, icon and script loaded.
    assert {(e["source"], e["message"].split(" ")[0]) for e in browser.read_console() if e["level"] == "SEVERE"} \
        <= {("network", f"{ui.base_url}/?token=not-the-token"), ("network", f"{ui.base_url}/authorizations")}


def test_a_page_under_another_host_name_is_refused_even_with_the_token(
        browser: Browser, ui: UiServer, seeded: Seeded, tmp_path: Path) -> None:
    # DNS rebinding: evil.test's page, its name now resolving to 127.0.0.1, reads the dashboard.
    browser.open(f"http://{REBINDING_HOST}:{ui.port}/?token={ui.token}")
    refused(browser, seeded, "another host name", tmp_path)


# -- the harness itself: it sees what these tests rely on it to see -----------------------------------------------
# A page that breaks its own Content-Security-Policy and opens an alert: what check_page must
# notice if the dashboard ever did it.
BAD_PAGE = (b"<!doctype html><title>bad</title><p data-testid='host'>HOST</p>"
            b"<script>alert('xss')</script><img src=x onerror=alert('img')>")


class _BadPageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if self.path == "/csp":
            self.send_header("Content-Security-Policy", "default-src 'none'")
        self.end_headers()
        self.wfile.write(BAD_PAGE.replace(b"HOST", self.headers["Host"].encode()))

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def bad_page_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BadPageHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_harness_sees_dialogs_csp_violations_and_maps_the_rebinding_host(
        browser: Browser, bad_page_port: int) -> None:
    browser.open(f"http://127.0.0.1:{bad_page_port}/")
    assert browser.dialogs() == ["alert: xss", "alert: img"]
    assert injected(browser) == 2

    browser.open(f"http://127.0.0.1:{bad_page_port}/csp")
    assert browser.dialogs() == []  # the CSP blocked the inline script...
    with pytest.raises(AssertionError, match="console errors on a page breaking its CSP"):  # ...and said so
        browser.assert_no_console_errors("a page breaking its CSP")
    assert {entry["source"] for entry in browser.console} == {"security"}  # the script, the image, its handler

    browser.open(f"http://{REBINDING_HOST}:{bad_page_port}/csp")
    assert browser.testid("host").text == f"{REBINDING_HOST}:{bad_page_port}"
