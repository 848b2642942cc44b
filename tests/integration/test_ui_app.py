"""The dashboard application over a real seeded workspace (embedded platform, state store), in process.

One workspace is seeded for the module (tests/ui_support.seed_workspace: managed and
unmanaged authorizations, hostile labels and job names, an unhealthy OAuth connection, a
blocked delete, a replace, request counts, an imported experience; every secret the
canary). The application is the real one (DashboardSource, pages, API, AccessGuard), driven
by Starlette's TestClient as http://127.0.0.1:PORT. What is checked:

- access: the token is traded for an HttpOnly, SameSite=Strict cookie and leaves the URL;
  a wrong or missing token, a wrong cookie and an unexpected Host header are refused; every
  answer carries the security headers; only GET and HEAD exist, and nothing the dashboard
  does changes the platform or the state;
- hostile labels and job names are text on every page and exact in JSON; the canary is in
  no answer;
- lists sort, filter, search and page as the CLI orders; the authorization page shows its
  jobs, experiences, charts and the command that fixes it; the plan page lists the blocked
  delete first and links its blocker; refresh re-reads (and re-plans) on demand only;
- bad parameters and unknown ids are 400 and 404 in the page's form (HTML or JSON).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from ui_support import (CANARY, EXPERIENCE, HOSTILE_JOB, HOSTILE_LABEL, HOSTILE_LABEL_2, REQUESTS, UNHEALTHY_REASON,
                        InProcess, Seeded, in_process, seed_workspace)

import apply_support
from reconciler.ui.access import CONTENT_SECURITY_POLICY
from reconciler.views import authorization_rows

HOSTILE = (HOSTILE_LABEL, HOSTILE_LABEL_2, HOSTILE_JOB)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed_workspace(tmp_path_factory.mktemp("ui-app") / "ws")


@pytest.fixture(scope="module")
def dash(seeded: Seeded) -> Iterator[InProcess]:
    with in_process(seeded.root) as dashboard:
        dashboard.login()
        yield dashboard


@pytest.fixture
def fresh(seeded: Seeded) -> Iterator[InProcess]:
    """A dashboard of its own, not logged in (its own token and cookie)."""
    with in_process(seeded.root, port=48081) as dashboard:
        yield dashboard


class _Hooks(HTMLParser):
    """Elements by data-testid: (attributes, text) in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str], list[str]]] = []
        self._open: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if "data-testid" in values:
            self.found.append((values["data-testid"], values, []))
            self._open.append(len(self.found) - 1)
        elif tag not in ("br", "input", "meta", "link", "img", "rect", "line"):
            self._open.append(-1)

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for index in self._open:
            if index >= 0:
                self.found[index][2].append(data)


class _Attributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.update(name for name, _ in attrs)


def _attribute_names(html: str) -> set[str]:
    """Every attribute name of every element (text that merely looks like one is not an attribute)."""
    parser = _Attributes()
    parser.feed(html)
    return parser.names


def hooks(html: str, testid: str) -> list[tuple[dict[str, str], str]]:
    parser = _Hooks()
    parser.feed(html)
    return [(attrs, " ".join("".join(text).split())) for tid, attrs, text in parser.found if tid == testid]


def texts(html: str, testid: str) -> list[str]:
    return [text for _, text in hooks(html, testid)]


def _get(dash: InProcess, path: str, status: int = 200) -> str:
    response = dash.client.get(path)
    assert response.status_code == status, (path, response.status_code, response.text[:2000])
    return response.text


# -- access -------------------------------------------------------------------------------------------------------------
def test_the_token_is_traded_for_a_strict_cookie_and_leaves_the_address(fresh: InProcess) -> None:
    client = fresh.client
    assert client.get("/authorizations").status_code == 401
    answer = client.get(f"/authorizations?sort=created&token={fresh.token}&order=desc")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/authorizations?sort=created&order=desc"  # the token is gone
    cookie = answer.headers["set-cookie"]
    name, value = cookie.split(";")[0].split("=", 1)
    assert name == f"authctl_ui_{fresh.port}" and value and value != fresh.token
    assert {part.strip() for part in cookie.split(";")[1:]} == {"Path=/", "HttpOnly", "SameSite=Strict"}
    assert client.get("/authorizations").status_code == 200
    assert fresh.token not in client.get("/authorizations").text
    assert client.get("/?token=" + fresh.token).headers["location"] == "/"
    sneaky = client.get(f"http://127.0.0.1:{fresh.port}//evil.example/x?token={fresh.token}")
    assert sneaky.headers["location"] == "/evil.example/x"  # never "//evil.example": a path on this server


def test_without_the_token_or_with_a_wrong_one_nothing_is_shown(fresh: InProcess, seeded: Seeded) -> None:
    client = fresh.client
    for path in ("/", "/authorizations", f"/authorizations/{seeded.ids['alpha']}", "/plan", "/jobs"):
        answer = client.get(path)
        assert answer.status_code == 401 and "Access token needed" in answer.text
        assert "Alpha Ads" not in answer.text and seeded.ids["alpha"] not in answer.text
    wrong = client.get("/authorizations?token=not-the-token")
    assert wrong.status_code == 403 and "Wrong access token" in wrong.text and "set-cookie" not in wrong.headers
    assert client.get(f"/?token={fresh.token}&token={fresh.token}").status_code == 403  # one token, not two
    forged = client.get("/authorizations", headers={"Cookie": f"authctl_ui_{fresh.port}={fresh.token}"})
    assert forged.status_code == 401  # the token is not the cookie's value
    api = client.get("/api/authorizations")
    assert api.status_code == 401 and api.json()["error"]["type"] == "AccessRefused"
    assert client.get("/static/ui.css").status_code == 200  # the package's own files are public


def test_an_unexpected_host_header_is_refused_even_with_the_token(dash: InProcess) -> None:
    for host in ("evil.example", f"evil.example:{dash.port}", f"127.0.0.1:{dash.port + 1}", "127.0.0.1",
                 f"attacker.127.0.0.1.nip.io:{dash.port}"):
        for path in ("/authorizations", f"/?token={dash.token}", "/api/plan", "/static/ui.css"):
            answer = dash.client.get(path, headers={"Host": host})
            assert answer.status_code == 400, (host, path)
            assert "Alpha Ads" not in answer.text and "set-cookie" not in answer.headers
    assert dash.client.get("/authorizations", headers={"Host": f"localhost:{dash.port}"}).status_code == 200
    assert dash.client.get("/authorizations", headers={"Host": f"LOCALHOST:{dash.port}"}).status_code == 200


def test_every_answer_carries_the_security_headers(dash: InProcess, fresh: InProcess, seeded: Seeded) -> None:
    answers = [dash.client.get(p) for p in ("/authorizations", f"/authorizations/{seeded.ids['alpha']}", "/plan",
                                            "/api/authorizations", "/static/ui.js", "/nowhere", "/jobs?sort=x", "/")]
    answers += [fresh.client.get("/jobs"), fresh.client.get("/?token=x"), fresh.client.get(fresh.token_url),
                dash.client.post("/plan"), dash.client.get("/", headers={"Host": "evil.example"})]
    assert sorted({a.status_code for a in answers}) == [200, 303, 400, 401, 403, 404, 405]
    for answer in answers:
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert CONTENT_SECURITY_POLICY == ("default-src 'none'; script-src 'self'; style-src 'self'; "
                                           "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
                                           "base-uri 'none'")
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"


def test_pages_hold_no_inline_script_or_style(dash: InProcess, seeded: Seeded) -> None:
    for path in ("/authorizations", f"/authorizations/{seeded.ids['alpha']}", "/plan", "/jobs",
                 f"/jobs/{seeded.blocker_job_id}"):
        html = _get(dash, path)
        assert re.findall(r"<script\b[^>]*>", html) == ['<script src="/static/ui.js" defer>']
        attributes = _attribute_names(html)
        assert "style" not in attributes and "<style" not in html and "javascript:" not in html
        assert not [a for a in attributes if a.startswith("on")], path  # no event handler attribute


def test_only_get_and_head_are_answered_and_nothing_changes(dash: InProcess, seeded: Seeded) -> None:
    before = apply_support.read_world(seeded.root)
    paths = ["/authorizations", f"/authorizations/{seeded.ids['alpha']}", "/jobs", "/plan", "/plan?refresh=1",
             "/api/authorizations", f"/api/jobs/{seeded.ids['alpha-sync']}", "/api/plan?refresh=1", "/static/ui.css",
             f"/?token={dash.token}"]
    for path in paths:
        for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            answer = dash.client.request(method, path, content=b"{}")
            assert answer.status_code == 405, (method, path)
            assert answer.headers["allow"] == "GET, HEAD"
    head = dash.client.head("/authorizations")
    assert head.status_code == 200 and head.content == b""
    for path in paths[:-1]:  # every page, the plans included, read only
        assert dash.client.get(path).status_code in (200, 303)
    after = apply_support.read_world(seeded.root)
    assert after.auths == before.auths and after.all_jobs == before.all_jobs
    assert after.managed == before.managed and not after.pending


# -- hostile text and secrets --------------------------------------------------------------------------------------------
def test_hostile_labels_and_job_names_are_text_on_every_page(dash: InProcess, seeded: Seeded) -> None:
    pages = {path: _get(dash, path) for path in (
        "/authorizations", f"/authorizations/{seeded.ids['hostile']}", f"/authorizations/{seeded.ids['hostile2']}",
        f"/authorizations/{seeded.ids['doomed']}", "/jobs", f"/jobs/{seeded.blocker_job_id}", "/plan")}
    for path, html in pages.items():
        for raw in HOSTILE:
            assert raw not in html, (path, raw)
    listed = texts(pages["/authorizations"], "authorization-link")
    assert HOSTILE_LABEL in listed and HOSTILE_LABEL_2 in listed  # shown, as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages["/authorizations"]
    assert texts(pages[f"/authorizations/{seeded.ids['hostile2']}"], "authorization-label") == [HOSTILE_LABEL_2]
    assert HOSTILE_JOB in texts(pages["/jobs"], "job-link")
    assert texts(pages[f"/jobs/{seeded.blocker_job_id}"], "job-name") == [HOSTILE_JOB]
    assert HOSTILE_JOB in texts(pages["/plan"], "blocker-link")
    assert f"<title>{HOSTILE_LABEL}" not in pages[f"/authorizations/{seeded.ids['hostile']}"]


def test_json_gives_hostile_text_back_exactly(dash: InProcess, seeded: Seeded) -> None:
    labels = {row["label"] for row in dash.client.get("/api/authorizations").json()["authorizations"]}
    assert {HOSTILE_LABEL, HOSTILE_LABEL_2} <= labels
    jobs = dash.client.get("/api/jobs?per_page=500")
    assert jobs.headers["content-type"].startswith("application/json")
    assert HOSTILE_JOB in {job["name"] for job in jobs.json()["jobs"]}
    plan = dash.client.get("/api/plan").json()
    blockers = [b["name"] for a in plan["actions"] for b in a["blocked_by"]]
    assert blockers == [HOSTILE_JOB]


def test_no_answer_holds_a_secret(dash: InProcess, seeded: Seeded) -> None:
    paths = ["/authorizations", "/jobs", "/plan", "/api/authorizations", "/api/jobs", "/api/plan"]
    paths += [f"/authorizations/{i}" for i in (seeded.ids[n] for n in ("alpha", "beta", "hostile", "pin-oauth"))]
    paths += [f"/api/authorizations/{seeded.ids[n]}" for n in ("alpha", "beta", "hostile", "hostile2", "doomed",
                                                                  "pin-oauth")]
    paths += [f"/jobs/{seeded.ids[n]}" for n in ("alpha-sync", "manual-job")]
    for path in paths:
        answer = dash.client.get(path)
        assert answer.status_code == 200, path
        assert CANARY not in answer.text, path
    detail = dash.client.get(f"/api/authorizations/{seeded.ids['alpha']}").json()
    assert detail["credentials"] == {"token": "(sensitive)"}  # by name only, no length


# -- lists ------------------------------------------------------------------------------------------------------------------
def test_lists_sort_like_the_cli_both_ways(dash: InProcess) -> None:
    data = dash.source.current
    assert data is not None
    for column in ("label", "health", "created", "owner", "method"):
        for order in ("asc", "desc"):
            rows = dash.client.get(f"/api/authorizations?sort={column}&order={order}").json()["authorizations"]
            expected = authorization_rows(data.snapshot, data.managed, sort=column, reverse=order == "desc")
            assert [r["id"] for r in rows] == [r.id for r in expected], (column, order)
    html = _get(dash, "/authorizations?sort=health&order=desc")
    assert [a["data-health"] for a, _ in hooks(html, "health")][0] == "unhealthy"
    header = hooks(html, "sort-health")[0][0]
    assert header["href"] == "/authorizations?sort=health" and "sorted desc" in header["class"]
    assert hooks(html, "sort-label")[0][0]["href"] == "/authorizations"  # label ascending: the default


def test_filters_and_search_narrow_the_list(dash: InProcess, seeded: Seeded) -> None:
    unhealthy = dash.client.get("/api/authorizations?health=unhealthy").json()
    assert [r["id"] for r in unhealthy["authorizations"]] == [seeded.ids["pin-oauth"]]
    assert (unhealthy["total"], unhealthy["filters"]) == (1, {"health": "unhealthy"})
    by_method = dash.client.get("/api/authorizations?method=oauth&provider=pinterest").json()["authorizations"]
    assert [r["label"] for r in by_method] == ["Pinterest Ads (OAuth)"]
    searched = dash.client.get("/api/authorizations?q=ADS").json()["authorizations"]
    assert sorted(r["label"] for r in searched) == ["Alpha Ads", "Beta Ads", "Doomed Ads", "Pinterest Ads (OAuth)"]
    html = _get(dash, "/authorizations?health=unhealthy&sort=created")
    assert len(hooks(html, "authorization-row")) == 1
    [(health, _)] = hooks(html, "health")
    assert health["title"] == UNHEALTHY_REASON
    assert 'name="sort" value="created"' in html  # the form keeps the sort
    none = _get(dash, "/authorizations?provider=nobody")
    assert texts(none, "empty") and not hooks(none, "authorizations-table")
    jobs = dash.client.get("/api/jobs?status=running&q=sync").json()["jobs"]
    assert sorted(j["name"] for j in jobs) == ["alpha-sync", "beta-sync", "doomed-sync", "hostile-sync"]


def test_pages_walk_through_every_row_once(dash: InProcess) -> None:
    everything = [r["id"] for r in dash.client.get("/api/authorizations?sort=updated").json()["authorizations"]]
    assert len(everything) == 6
    seen: list[str] = []
    path = "/authorizations?sort=updated&per_page=4"
    while True:
        html = _get(dash, path)
        seen += [attrs["data-id"] for attrs, _ in hooks(html, "authorization-row")]
        following = hooks(html, "page-next")
        if not following:
            break
        path = following[0][0]["href"]
    assert seen == everything
    assert texts(_get(dash, "/authorizations?per_page=4&page=2"), "page-info") == [
        "5–6 of 6 authorizations · page 2 of 2"]
    api = dash.client.get("/api/authorizations?per_page=4&page=2").json()
    assert (api["total"], api["page"], api["pages"], api["per_page"]) == (6, 2, 2, 4)


@pytest.mark.parametrize(("path", "status", "words"), [
    ("/authorizations?sort=password", 400, "sort: unknown column 'password'"),
    ("/authorizations?page=9", 400, "page: 9 is past the last page (1)"),
    ("/authorizations?health=sick", 400, "health: expected one of healthy, unknown, unhealthy, got 'sick'"),
    ("/authorizations/no-such-id", 404, "no authorization with id 'no-such-id' on the platform"),
    ("/jobs/no-such-id", 404, "no job with id 'no-such-id' on the platform"),
    ("/nowhere", 404, "no page at /nowhere"),
])
def test_bad_addresses_say_what_is_wrong(dash: InProcess, path: str, status: int, words: str) -> None:
    html = _get(dash, path, status)
    assert words in texts(html, "error")[0]
    answer = dash.client.get("/api" + path if not path.startswith("/nowhere") else "/api/nowhere")
    assert answer.status_code == status and words.replace("/nowhere", "/api/nowhere") in answer.json()["error"][
        "message"]


# -- one authorization ----------------------------------------------------------------------------------------------------
def test_an_authorization_page_shows_its_jobs_experiences_and_activity(dash: InProcess, seeded: Seeded) -> None:
    html = _get(dash, f"/authorizations/{seeded.ids['alpha']}")
    assert texts(html, "authorization-label") == ["Alpha Ads"] and texts(html, "managed-name") == ["alpha"]
    assert texts(html, "job-link") == ["alpha-sync"]
    assert hooks(html, "job-link")[0][0]["href"] == f"/jobs/{seeded.ids['alpha-sync']}"
    assert texts(html, "experience-name") == [EXPERIENCE]
    charts = {key: hooks(html, f"activity-chart-{key}") for key in ("hour", "day", "week", "month")}
    assert all(len(found) == 1 and found[0][0]["role"] == "img" for found in charts.values())
    totals = {key: int(texts(html, f"activity-total-{key}")[0]) for key in ("hour", "day", "week", "month")}
    assert totals["month"] == sum(count for _, count in REQUESTS)
    assert totals["hour"] == sum(count for ago, count in REQUESTS if ago <= 1)
    assert html.count('<rect class="bar') == 2 + 25 + 169 + 30
    assert not hooks(html, "fix") or texts(html, "fix-command") == ["authctl health alpha"]


def test_an_unhealthy_oauth_connection_says_how_to_fix_it(dash: InProcess, seeded: Seeded) -> None:
    html = _get(dash, f"/authorizations/{seeded.ids['pin-oauth']}")
    [(health, word)] = hooks(html, "summary-health")
    assert (health["data-health"], health["title"], word) == ("unhealthy", UNHEALTHY_REASON, "Unhealthy")
    assert texts(html, "health-reason") == [UNHEALTHY_REASON]
    assert texts(html, "fix-command") == ["authctl reauth pin-oauth"]
    assert texts(html, "scopes-granted") == ["ads:read"]
    assert "ads:write" in texts(html, "scopes-required")[0] and "ads:write" in texts(html, "scopes-missing")[0]
    detail = dash.client.get(f"/api/authorizations/{seeded.ids['pin-oauth']}").json()
    assert detail["fixes"][0]["commands"] == ["authctl reauth pin-oauth"]
    assert detail["scopes"]["granted"] == ["ads:read"] and "ads:write" in detail["scopes"]["missing"]
    assert texts(html, "jobs-none") and texts(html, "experiences-none")


def test_an_authorizations_jobs_sort_by_their_own_parameters(dash: InProcess, seeded: Seeded) -> None:
    path = f"/authorizations/{seeded.ids['doomed']}"
    ascending = texts(_get(dash, f"{path}?jsort=name"), "job-link")
    assert sorted(ascending) == sorted([HOSTILE_JOB, "doomed-sync"]) and len(ascending) == 2
    assert texts(_get(dash, f"{path}?jsort=name&jorder=desc"), "job-link") == ascending[::-1]
    header = hooks(_get(dash, f"{path}?jsort=status"), "sort-status")[0][0]
    assert header["href"] == f"{path}?jsort=status&jorder=desc"  # the current column flips
    assert hooks(_get(dash, f"{path}?jsort=status"), "sort-name")[0][0]["href"] == path  # name: the default


# -- the plan ---------------------------------------------------------------------------------------------------------------
def test_the_plan_shows_the_blocked_delete_first_and_links_what_blocks_it(dash: InProcess, seeded: Seeded) -> None:
    html = _get(dash, "/plan")
    assert html.index('data-testid="blocked-actions"') < html.index('data-testid="other-actions"')
    [(delete, _)] = hooks(html, "blocked-actions") and [
        (a, t) for a, t in hooks(html, "plan-action") if a["data-blocked"] == "true"]
    assert (delete["data-action"], delete["data-address"]) == ("delete", "Authorization/doomed")
    [(link, name)] = hooks(html, "blocker-link")
    assert (link["href"], name) == (f"/jobs/{seeded.blocker_job_id}", HOSTILE_JOB)
    assert texts(_get(dash, link["href"]), "job-name") == [HOSTILE_JOB]  # following it lands on that job
    summary = texts(html, "plan-summary")[0]
    assert summary == dash.client.get("/api/plan").json()["summary_line"] and "1 BLOCKED" in summary
    moves = hooks(html, "moved-job-link")
    assert [(a["href"], t) for a, t in moves] == [(f"/jobs/{seeded.ids['beta-sync']}", "Job/beta-sync")]
    reauth = [a for a, _ in hooks(html, "plan-action") if a["data-action"] == "reauthorize"]
    assert [a["data-address"] for a in reauth] == ["Authorization/pin-oauth"]
    assert "authctl reauth pin-oauth" in texts(html, "fix-command")


def test_refresh_rereads_and_replans_only_when_asked(dash: InProcess, seeded: Seeded) -> None:
    """The data and the plan are kept until someone asks; then the page shows what changed."""
    assert "1 BLOCKED" in dash.client.get("/api/plan").json()["summary_line"]
    platform = apply_support.open_platform_of(seeded.root)
    try:
        platform.set_job_status(seeded.blocker_job_id, "completed")  # the blocker stops
        late = platform.create_experience(name="Late campaign", auth_ids=[seeded.ids["hostile2"]])
    finally:
        platform.close()
    try:
        assert "1 BLOCKED" in dash.client.get("/api/plan").json()["summary_line"]  # the plan in hand
        page = f"/authorizations/{seeded.ids['hostile2']}"
        assert texts(_get(dash, page), "experiences-none")  # the snapshot in hand
        again = dash.client.get(f"{page}?refresh=1&jsort=status")
        assert again.status_code == 303 and again.headers["location"] == f"{page}?jsort=status"
        assert texts(_get(dash, page), "experience-name") == ["Late campaign"]
        replanned = dash.client.get("/plan?refresh=1")
        assert replanned.status_code == 303 and replanned.headers["location"] == "/plan"
        assert "BLOCKED" not in texts(_get(dash, "/plan"), "plan-summary")[0]
    finally:
        platform = apply_support.open_platform_of(seeded.root)
        try:
            platform.set_job_status(seeded.blocker_job_id, "runnable")
            platform.delete_experience(late.id)
        finally:
            platform.close()
        dash.client.get("/plan?refresh=1")
    assert "1 BLOCKED" in dash.client.get("/api/plan").json()["summary_line"]


def test_the_api_documents_carry_the_format_version(dash: InProcess, seeded: Seeded) -> None:
    for path in ("/api/authorizations", "/api/jobs", "/api/plan", f"/api/authorizations/{seeded.ids['alpha']}",
                 f"/api/jobs/{seeded.ids['alpha-sync']}"):
        document = json.loads(dash.client.get(path).text)
        assert document["format_version"] == "1", path


def test_a_workspace_with_nothing_applied_shows_an_empty_platform_and_why_it_cannot_plan(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    (root / "authctl.yaml").write_text(apply_support.settings("ui-empty"), encoding="utf-8")
    with in_process(root) as dashboard:
        client = dashboard.login()
        assert texts(_get(dashboard, "/authorizations"), "empty") == ["No authorizations on the platform."]
        assert client.get("/api/jobs").json()["total"] == 0
        [error] = texts(_get(dashboard, "/plan"), "plan-error")  # as `authctl plan` says it, on the page
        assert "no manifest files (*.yaml, *.yml) found in the workspace" in error
        failed = client.get("/api/plan")
        assert failed.status_code == 422 and "no manifest files" in failed.json()["error"]["message"]
    assert not (root / ".authctl" / "platform.db").exists()  # read-only: nothing was created


def test_a_failed_reread_keeps_the_last_data_and_says_so(seeded: Seeded, tmp_path: Path) -> None:
    """What cannot be read is an error, never an absence: the banner names it, the old data stays, dated."""
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(seeded.root, root)
    with in_process(root, port=48082) as dashboard:
        client = dashboard.login()
        state = root / ".authctl" / "state.db"
        state.unlink()
        state.write_bytes(b"this is not a database\n" * 100)
        state.chmod(0o600)
        again = client.get("/authorizations?refresh=1")
        assert again.status_code == 303
        html = _get(dashboard, "/authorizations")
        [banner] = texts(html, "data-error")
        assert banner.startswith("Reading the platform and the state again failed")
        assert "state.db cannot be used: the file is corrupt or not a SQLite database" in banner
        assert len(hooks(html, "authorization-row")) == 6  # the last good read, still shown
        assert "What this page shows was read" in banner
        assert texts(_get(dashboard, f"/authorizations/{seeded.ids['alpha']}"), "data-error")  # on every page
