"""``authctl platform serve`` over real HTTP: a subprocess per scenario, httpx2 on 127.0.0.1.

Covers the Lytics-shaped contract the ``lytics`` backend relies on: the token, both
envelopes and their error codes, authorizations and jobs end to end, paging, the guarded
and cascade deletes, the extensions, the injected faults, and the process itself (the
printed URL, SIGTERM, no token). A canary secret is sent everywhere a secret can go and
must come back nowhere: not in an answer, not in the server's output.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from served_support import Served, serve_platform

from reconciler.lytics_wire import AuthOut, ErrorEnvelope, JobOut, split_marker, with_marker

TOKEN = "served-test-token-5d1e"
CANARY = "CANARY-7f3a9c21-do-not-print"
SETTINGS = "name: served\nbackend: {kind: local, path: .authctl/platform.db}\nstate: {url: .authctl/state.db}\n"
FB_TYPE, FB_WORKFLOW = "fb-system-user", "facebook-audience-populate"
ServeFn = Callable[..., Any]


@pytest.fixture
def workspace(make_workspace: Callable[..., Path]) -> Path:
    return make_workspace({}, settings=SETTINGS)


@pytest.fixture
def served(workspace: Path) -> Iterator[Served]:
    with serve_platform(workspace, token=TOKEN) as running:
        yield running


@pytest.fixture
def api(served: Served) -> Iterator[httpx2.Client]:
    with served.client() as client:
        yield client


# -- helpers ---------------------------------------------------------------------------------------------
def ok(response: httpx2.Response, status: int = 200) -> Any:
    """The envelope's data, after checking the success envelope's shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"data", "status", "request_id", "_meta"}, body
    assert body["status"] == status and body["request_id"] == response.headers["x-request-id"]
    return body["data"]


def refused(response: httpx2.Response, status: int, code: str) -> str:
    """The error's message, after checking the error envelope's shape, status and code."""
    assert response.status_code == status, response.text
    body = response.json()
    envelope = ErrorEnvelope.model_validate(body)
    assert set(body) == {"errors", "request_id", "status"} and envelope.status == status
    assert set(body["errors"][0]) == {"code", "level", "message", "timestamp"}
    assert envelope.errors[0].code == code and envelope.errors[0].level == "error", body
    assert envelope.request_id == response.headers["x-request-id"]
    return envelope.errors[0].message


def fb_config(account: str = "act_123456", token: str = CANARY) -> dict[str, Any]:
    return {"ads_account_id": account, "access_token": token}


def create_auth(api: httpx2.Client, label: str, **extra: Any) -> dict[str, Any]:
    body = {"label": label, "config": fb_config(), **extra}
    return ok(api.post(f"/v2/auth/{FB_TYPE}", json=body), 201)


def create_job(api: httpx2.Client, name: str, auth_ids: list[str], workflow: str = FB_WORKFLOW,
               **extra: Any) -> dict[str, Any]:
    body = {"name": name, "config": {"segment_id": "seg1"}, "auth_ids": auth_ids, **extra}
    return ok(api.post(f"/v2/job/{workflow}", json=body), 201)


def ids(items: list[dict[str, Any]]) -> set[str]:
    return {item["id"] for item in items}


# -- the process -----------------------------------------------------------------------------------------
def test_port_zero_prints_the_url_and_sigterm_exits_cleanly(workspace: Path) -> None:
    with serve_platform(workspace, token=TOKEN) as running:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", running.url)
        with running.client() as client:
            ok(client.get("/v2/auth"))
        assert running.stop() == 0  # SIGTERM
    stdout, stderr = running.output()
    assert stdout == f"authctl platform serve: listening on {running.url}\n"
    assert "Traceback" not in stderr
    data = workspace / ".authctl"  # the platform was closed: SQLite removed its -wal and -shm files
    assert (data / "platform.db").exists() and not list(data.glob("platform.db-*"))


def test_sigint_exits_cleanly_too(workspace: Path) -> None:
    import signal

    with serve_platform(workspace, token=TOKEN) as running:
        assert running.stop(signal.SIGINT) == 0


def test_refuses_to_start_without_a_token(workspace: Path, run_cli: ServeFn) -> None:
    result = run_cli("platform", "serve", "-w", workspace, "--port", "0", env={"LYTICS_API_TOKEN": None})
    assert result.returncode == 1
    assert "no API token" in result.stderr and "LYTICS_API_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr and "listening" not in result.stdout


# -- the token and the envelopes -------------------------------------------------------------------------
def test_a_missing_or_wrong_token_is_401_and_openapi_is_public(served: Served) -> None:
    with httpx2.Client(base_url=served.url) as anonymous:
        refused(anonymous.get("/v2/auth"), 401, "UNAUTHORIZED-017")
        refused(anonymous.get("/v2/nothing-here"), 401, "UNAUTHORIZED-017")
        document = anonymous.get("/openapi.json")
        assert document.status_code == 200 and document.json()["openapi"].startswith("3.")
    with served.client(token="wrong") as wrong:
        refused(wrong.get("/v2/auth"), 401, "UNAUTHORIZED-017")
        refused(wrong.post(f"/v2/auth/{FB_TYPE}", json={"label": "x", "config": fb_config()}), 401,
                "UNAUTHORIZED-017")
    with served.client(token=f"Bearer {TOKEN}") as bearer:
        assert ok(bearer.get("/v2/auth")) == []


def test_unknown_routes_methods_and_malformed_bodies_answer_in_the_error_envelope(api: httpx2.Client) -> None:
    assert "/v2/nope" in refused(api.get("/v2/nope"), 404, "NOTFOUND-003")
    refused(api.get("/v2/auth/"), 404, "NOTFOUND-003")  # no redirect to /v2/auth
    response = api.patch("/v2/auth")
    refused(response, 405, "BADREQ-001")
    assert "GET" in response.headers["allow"]
    headers = {"content-type": "application/json"}
    refused(api.post(f"/v2/auth/{FB_TYPE}", content=b'{"label": "x", ', headers=headers), 400, "JSON-BADREQ-025")
    refused(api.post(f"/v2/auth/{FB_TYPE}", content=b"[1, 2]", headers=headers), 400, "JSON-BADREQ-025")
    refused(api.post(f"/v2/auth/{FB_TYPE}", content=b"", headers=headers), 400, "JSON-BADREQ-025")
    refused(api.post(f"/v2/job/{FB_WORKFLOW}", content=b'{"name": NaN}', headers=headers), 400, "JSON-BADREQ-025")
    refused(api.post(f"/v2/job/{FB_WORKFLOW}", content=b'{"name": "\\ud800"}', headers=headers), 400,
            "JSON-BADREQ-025")


def test_a_body_over_the_cap_is_413_declared_or_streamed(api: httpx2.Client) -> None:
    big = json.dumps({"label": "big", "config": fb_config(), "description": "x" * (1024 * 1024)}).encode()
    refused(api.post(f"/v2/auth/{FB_TYPE}", content=big, headers={"content-type": "application/json"}), 413,
            "BADREQ-001")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap holds while reading
        for start in range(0, len(big), 65536):
            yield big[start:start + 65536]

    refused(api.post(f"/v2/auth/{FB_TYPE}", content=chunks()), 413, "BADREQ-001")
    assert ok(api.get("/v2/auth")) == []


# -- authorizations --------------------------------------------------------------------------------------
def test_authorization_create_get_update_list_delete(api: httpx2.Client) -> None:
    created = create_auth(api, "Meta prod", description="the prod ad account", user_id="ana")
    auth = AuthOut.model_validate(created)
    assert (auth.type, auth.provider_slug, auth.provider_id) == (FB_TYPE, "facebook", "prov-facebook")
    assert (auth.label, auth.description, auth.user_id, auth.status, auth.unhealthy) == (
        "Meta prod", "the prod ad account", "ana", "unknown", False)
    assert auth.account_id == "acct-local" and auth.created is not None
    assert "config" not in created and "access_token" not in json.dumps(created)

    assert ok(api.get(f"/v2/auth/{FB_TYPE}/{auth.id}")) == created
    renamed = ok(api.put(f"/v2/auth/{FB_TYPE}/{auth.id}", json={"label": "Meta production"}))
    assert (renamed["label"], renamed["description"]) == ("Meta production", "the prod ad account")
    described = ok(api.put(f"/v2/auth/{FB_TYPE}/{auth.id}", json={"description": ""}))
    assert (described["label"], described["description"]) == ("Meta production", "")
    assert ids(ok(api.get("/v2/auth"))) == {auth.id}

    assert ok(api.delete(f"/v2/auth/{auth.id}")) == {"id": auth.id, "stopped_job_ids": [], "warnings": []}
    refused(api.get(f"/v2/auth/{FB_TYPE}/{auth.id}"), 404, "AUTH-NOTFOUND-006")
    refused(api.delete(f"/v2/auth/{auth.id}"), 404, "AUTH-NOTFOUND-006")
    assert ok(api.get("/v2/auth")) == []


def test_authorization_refusals_name_what_is_wrong(api: httpx2.Client) -> None:
    refused(api.post("/v2/auth/no-such-type", json={"label": "x", "config": {}}), 404, "AUTHTYPE-NOTFOUND-007")
    message = refused(api.post(f"/v2/auth/{FB_TYPE}", json={"label": "x", "config": fb_config(account="x")}),
                      400, "AUTH-BADREQ-008")
    assert message.startswith('config.ads_account_id: "x" does not match the pattern')
    message = refused(api.post(f"/v2/auth/{FB_TYPE}", json={"label": "x", "config": {"ads_account_id": 7,
                                                                                     "extra": 1}}),
                      400, "AUTH-BADREQ-008")
    assert "config.extra: is not a field of this type" in message
    assert 'config.access_token: required config field "access_token"' in message
    assert "; " in message
    refused(api.post(f"/v2/auth/{FB_TYPE}", json={"config": fb_config()}), 400, "AUTH-BADREQ-008")
    refused(api.post(f"/v2/auth/{FB_TYPE}", json={"label": "   ", "config": fb_config()}), 400, "AUTH-BADREQ-008")

    first = create_auth(api, "Taken")
    message = refused(api.post(f"/v2/auth/{FB_TYPE}", json={"label": "taken", "config": fb_config()}), 409,
                      "AUTH-BADREQ-008")
    assert "'taken'" in message and "already used" in message
    other = create_auth(api, "Other")
    assert "Taken" in refused(api.put(f"/v2/auth/{FB_TYPE}/{other['id']}", json={"label": "Taken"}), 409,
                              "AUTH-BADREQ-008")
    assert refused(api.put(f"/v2/auth/{FB_TYPE}/{first['id']}", json={"config": fb_config()}), 400,
                   "AUTH-BADREQ-008") == "config is immutable: create a new authorization"
    refused(api.get(f"/v2/auth/{FB_TYPE}/0123456789abcdef"), 404, "AUTH-NOTFOUND-006")
    refused(api.get(f"/v2/auth/pinterest-capi-token/{first['id']}"), 404, "AUTH-NOTFOUND-006")  # another type
    refused(api.put(f"/v2/auth/pinterest-capi-token/{first['id']}", json={"label": "y"}), 404, "AUTH-NOTFOUND-006")
    assert ok(api.get(f"/v2/auth/{FB_TYPE}/{first['id']}"))["label"] == "Taken"


def test_descriptions_and_marker_lines_round_trip_byte_for_byte(api: httpx2.Client) -> None:
    text = "  Prod ads — ünïcode, tabs\tand\r\nCRLF, trailing spaces  \n"
    description = with_marker(text, "7f3c2a9e-intent.1")
    auth = create_auth(api, "Marked", description=description)
    assert auth["description"] == description
    assert ok(api.get(f"/v2/auth/{FB_TYPE}/{auth['id']}"))["description"] == description
    assert split_marker(ok(api.get("/v2/auth"))[0]["description"]) == (text, "7f3c2a9e-intent.1")
    job = create_job(api, "marked job", [auth["id"]], description=with_marker("", "job-marker-1"))
    listed = ok(api.get("/v2/job"))[0]
    assert listed["description"] == job["description"] == "managed by authctl (marker job-marker-1)"
    assert split_marker(listed["description"]) == ("", "job-marker-1")


def test_a_canary_secret_never_comes_back_nor_reaches_the_logs(workspace: Path) -> None:
    seen: list[str] = []
    with serve_platform(workspace, token=TOKEN, extra_args=["--access-log"]) as running, running.client() as api:
        def call(method: str, url: str, **kwargs: Any) -> httpx2.Response:
            response = api.request(method, url, **kwargs)
            seen.append(response.text + json.dumps(dict(response.headers)))
            return response

        created = call("POST", f"/v2/auth/{FB_TYPE}", json={"label": "canary", "config": fb_config()}).json()["data"]
        call("POST", f"/v2/auth/{FB_TYPE}", json={"label": "canary", "config": fb_config()})  # 409
        call("POST", f"/v2/auth/{FB_TYPE}", json={"label": "c2", "config": fb_config(account="act_1")})  # 400
        call("POST", f"/v2/auth/{FB_TYPE}", json={"label": "c3", "config": {"access_token": {"nested": CANARY}}})
        call("POST", "/v2/auth/twitter-oauth1-0a", json={"label": "c4", "config": {"token": CANARY}})
        call("POST", "/v2/auth/pinterest-capi-token", json={"label": "c5", "config": {"account_id": "acct-x",
                                                                                        "token": CANARY}})
        call("PUT", f"/v2/auth/{FB_TYPE}/{created['id']}", json={"config": fb_config()})
        call("GET", f"/v2/auth/{FB_TYPE}/{created['id']}")
        call("GET", "/v2/auth")
        call("POST", f"/v2/auth/{FB_TYPE}", content=json.dumps({"label": CANARY[:3], "config": fb_config()})[:-2])
    stdout, stderr = running.output()
    for text in (*seen, stdout, stderr):
        assert CANARY not in text
    # c5's account_id is not a secret field: its value is quoted, as Lytics quotes a bad non-secret value.
    assert any('config.account_id: \\"acct-x\\" does not match' in text for text in seen)


# -- jobs ------------------------------------------------------------------------------------------------
def test_jobs_create_list_filter_replace_pause_resume_kill_delete(api: httpx2.Client) -> None:
    a1, a2 = create_auth(api, "A1")["id"], create_auth(api, "A2")["id"]
    j1 = JobOut.model_validate(create_job(api, "one", [a1]))
    assert (j1.status, j1.workflow, j1.workflow_id, j1.deleted, j1.auth_ids) == (
        "runnable", FB_WORKFLOW, f"wf-{FB_WORKFLOW}", False, [a1])
    j2 = create_job(api, "two", [a2], workflow="facebook-conversion-api")["id"]
    j3 = create_job(api, "three", [a1, a2])["id"]

    assert ids(ok(api.get("/v2/job"))) == {j1.id, j2, j3}
    assert ids(ok(api.get("/v2/job", params={"workflow": FB_WORKFLOW}))) == {j1.id, j3}
    assert ids(ok(api.get("/v2/job", params={"auth_ids": a2}))) == {j2, j3}
    assert ids(ok(api.get("/v2/job", params=[("auth_ids", a1), ("auth_ids", a2)]))) == {j1.id, j2, j3}
    assert ids(ok(api.get("/v2/job", params={"auth_ids": f"{a2},nope"}))) == {j2, j3}
    assert ids(ok(api.get("/v2/job", params={"workflow": FB_WORKFLOW, "auth_ids": a2}))) == {j3}

    assert ok(api.get(f"/v2/job/{FB_WORKFLOW}/{j1.id}"))["name"] == "one"
    replaced = ok(api.put(f"/v2/job/{FB_WORKFLOW}/{j1.id}", json={
        "name": "uno", "config": {"segment_id": "seg2", "withbackfill": True}, "auth_ids": [a2],
        "description": "replaced"}))
    assert (replaced["name"], replaced["config"], replaced["auth_ids"], replaced["description"]) == (
        "uno", {"segment_id": "seg2", "withbackfill": True}, [a2], "replaced")
    again = ok(api.put(f"/v2/job/{FB_WORKFLOW}/{j1.id}", json={"name": "uno", "config": {}, "auth_ids": [a2]}))
    assert (again["config"], again["description"]) == ({}, "")  # a full replace: what is not sent is gone

    assert ok(api.post(f"/v2/job/{j1.id}/pause"))["status"] == "paused"
    assert ok(api.post(f"/v2/job/{j1.id}/resume"))["status"] == "runnable"
    assert ok(api.post(f"/v2/job/{j2}/kill"))["status"] == "killed"
    assert j2 in ids(ok(api.get("/v2/job")))  # a killed job stays listed

    assert ok(api.put(f"/v2/_authctl/job/{j3}/status", json={"status": "completed"}))["status"] == "completed"
    assert j3 not in ids(ok(api.get("/v2/job")))
    assert j3 in ids(ok(api.get("/v2/job", params={"show_completed": "true"})))

    deleted = ok(api.delete(f"/v2/job/{j1.id}"))
    assert (deleted["status"], deleted["deleted"]) == ("deleted", True)
    assert j1.id not in ids(ok(api.get("/v2/job")))
    shown = {j["id"]: j for j in ok(api.get("/v2/job", params={"show_deleted": "true"}))}
    assert shown[j1.id]["deleted"] is True and j3 not in shown
    assert ok(api.get(f"/v2/job/{FB_WORKFLOW}/{j1.id}"))["deleted"] is True


def test_job_refusals_name_what_is_wrong(api: httpx2.Client) -> None:
    fb = create_auth(api, "FB")["id"]
    message = refused(api.post(f"/v2/job/{FB_WORKFLOW}", json={"name": "j", "auth_ids": [fb],
                                                              "config": {"segment_ids": "s1"}}),
                      400, "JOB-BADREQ-002")
    assert message.startswith("config.segment_ids: must be a list")
    message = refused(api.post(f"/v2/job/{FB_WORKFLOW}", json={"name": "j", "auth_ids": [fb],
                                                              "config": {"ads_account_id": "bad"}}),
                      400, "JOB-BADREQ-002")
    assert message.startswith('config.ads_account_id: "bad" does not match the pattern')
    refused(api.post(f"/v2/job/{FB_WORKFLOW}", json={"auth_ids": [fb], "config": {}}), 400, "JOB-BADREQ-002")
    assert "does not work with facebook/system_user" in refused(
        api.post("/v2/job/twitter-export-audience", json={"name": "j", "auth_ids": [fb], "config": {}}),
        400, "JOB-BADREQ-002")
    refused(api.post(f"/v2/job/{FB_WORKFLOW}", json={"name": "j", "auth_ids": [], "config": {}}), 400,
            "JOB-BADREQ-002")
    refused(api.post(f"/v2/job/{FB_WORKFLOW}", json={"name": "j", "auth_ids": ["0" * 32], "config": {}}), 404,
            "AUTH-NOTFOUND-006")
    job = create_job(api, "j", [fb])["id"]
    refused(api.get(f"/v2/job/{FB_WORKFLOW}/{'0' * 32}"), 404, "JOB-NOTFOUND-004")
    refused(api.get(f"/v2/job/facebook-conversion-api/{job}"), 404, "JOB-NOTFOUND-004")  # another workflow
    refused(api.put(f"/v2/job/{FB_WORKFLOW}/{'0' * 32}", json={"name": "j", "config": {}, "auth_ids": [fb]}), 404,
            "JOB-NOTFOUND-004")
    refused(api.put(f"/v2/job/{FB_WORKFLOW}/{job}", json={"name": "j", "config": {}, "auth_ids": ["0" * 32]}),
            404, "AUTH-NOTFOUND-006")
    for action in ("pause", "resume", "kill"):
        refused(api.post(f"/v2/job/{'0' * 32}/{action}"), 404, "JOB-NOTFOUND-004")
    refused(api.delete(f"/v2/job/{'0' * 32}"), 404, "JOB-NOTFOUND-004")
    refused(api.put(f"/v2/_authctl/job/{job}/status", json={"status": "sideways"}), 400, "JOB-BADREQ-002")
    refused(api.get("/v2/job", params={"show_deleted": "maybe"}), 400, "BADREQ-001")


# -- deletes: guarded and cascade ------------------------------------------------------------------------
def test_a_guarded_delete_of_an_authorization_in_use_is_refused_naming_the_users(api: httpx2.Client) -> None:
    auth = create_auth(api, "In use")["id"]
    job = create_job(api, "exporter", [auth])["id"]
    experience = ok(api.post("/v2/_authctl/experience", json={"name": "welcome flow", "auth_ids": [auth]}), 201)
    message = refused(api.delete(f"/v2/auth/{auth}"), 409, "AUTH-BADREQ-008")
    assert f"job exporter ({job}, runnable)" in message and f"experience welcome flow ({experience['id']})" in message
    assert ok(api.get(f"/v2/job/{FB_WORKFLOW}/{job}"))["status"] == "runnable"
    assert ids(ok(api.get("/v2/auth"))) == {auth}


def test_a_cascade_delete_stops_the_jobs_as_lytics_does(workspace: Path) -> None:
    with serve_platform(workspace, token=TOKEN, extra_args=["--cascade"]) as running, running.client() as api:
        auth = create_auth(api, "Doomed")["id"]
        running_job = create_job(api, "running", [auth])["id"]
        paused_job = create_job(api, "paused", [auth])["id"]
        ok(api.post(f"/v2/job/{paused_job}/pause"))
        finished = create_job(api, "finished", [auth])["id"]
        ok(api.put(f"/v2/_authctl/job/{finished}/status", json={"status": "completed"}))
        deleted = ok(api.delete(f"/v2/auth/{auth}"))
        assert deleted["id"] == auth and set(deleted["stopped_job_ids"]) == {running_job, paused_job}
        jobs = {j["id"]: j["status"] for j in ok(api.get("/v2/job", params={"show_completed": "true"}))}
        assert jobs == {running_job: "killed", paused_job: "killed", finished: "completed"}


# -- paging ----------------------------------------------------------------------------------------------
def _all_pages(api: httpx2.Client, path: str, limit: int) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        body = api.get(path, params=params).json()
        pages.append(body["data"])
        cursor = body["_meta"].get("_next")
        if cursor is None:
            return pages


def test_paging_returns_every_object_exactly_once(api: httpx2.Client) -> None:
    auths = [create_auth(api, f"paged {i}")["id"] for i in range(7)]
    pages = _all_pages(api, "/v2/auth", 3)
    assert [len(p) for p in pages] == [3, 3, 1]
    listed = [a["id"] for p in pages for a in p]
    assert sorted(listed) == sorted(auths) and len(set(listed)) == 7
    assert [len(p) for p in _all_pages(api, "/v2/auth", 7)] == [7]

    # Created between two pages: nothing already listed comes back, nothing listed before goes missing.
    first = api.get("/v2/auth", params={"limit": 4}).json()
    late = create_auth(api, "late")["id"]
    rest = ok(api.get("/v2/auth", params={"limit": 100, "cursor": first["_meta"]["_next"]}))
    seen = [a["id"] for a in first["data"]] + [a["id"] for a in rest]
    assert len(seen) == len(set(seen)) and set(auths) <= set(seen)
    assert late in seen or late < first["data"][-1]["id"]

    jobs = [create_job(api, f"job {i}", [auths[0]])["id"] for i in range(5)]
    assert sorted(j["id"] for p in _all_pages(api, "/v2/job", 2) for j in p) == sorted(jobs)
    providers = [p["slug"] for page in _all_pages(api, "/v2/provider", 5) for p in page]
    assert len(providers) == len(set(providers)) and "facebook" in providers

    refused(api.get("/v2/auth", params={"limit": 2, "cursor": "not-a-cursor"}), 400, "BADREQ-001")
    refused(api.get("/v2/auth", params={"limit": 0}), 400, "BADREQ-001")
    refused(api.get("/v2/auth", params={"limit": "ten"}), 400, "BADREQ-001")
    assert len(ok(api.get("/v2/auth"))) == 8  # no limit: the whole array, no _next


# -- providers and extensions ----------------------------------------------------------------------------
def test_providers_and_the_authctl_extensions(api: httpx2.Client) -> None:
    providers = {p["slug"]: p for p in ok(api.get("/v2/provider"))}
    assert providers["facebook"] == {"id": "prov-facebook", "slug": "facebook", "name": "Facebook / Meta Ads"}

    auth = create_auth(api, "Checked")["id"]
    health = ok(api.put(f"/v2/_authctl/auth/{auth}/health", json={
        "status": "unhealthy", "reason": "token revoked", "scopes": ["ads_management"],
        "token_expires_at": "2030-01-01T00:00:00Z"}))
    assert (health["status"], health["unhealthy"], health["health_reason"], health["scopes"]) == (
        "unhealthy", True, "token revoked", ["ads_management"])
    assert health["token_expires_at"].startswith("2030-01-01T00:00:00")
    # The platform counts its health check as one request made with the authorization.
    counts = ok(api.get(f"/v2/_authctl/auth/{auth}/requests"))
    assert {k: v for k, v in counts.items() if k != "hourly"} == {"hour": 1, "day": 1, "week": 1, "month": 1}
    assert [hour["count"] for hour in counts["hourly"]] == [1]  # sparse: only hours that saw requests
    later = ok(api.get(f"/v2/_authctl/auth/{auth}/requests", params={"now": "2999-01-01T00:00:00+00:00"}))
    assert later == {"hour": 0, "day": 0, "week": 0, "month": 0, "hourly": []}
    refused(api.get(f"/v2/_authctl/auth/{auth}/requests", params={"now": "yesterday"}), 400, "BADREQ-001")

    experience = ok(api.post("/v2/_authctl/experience", json={"name": "exp", "auth_ids": [auth]}), 201)
    assert ok(api.get("/v2/_authctl/experience")) == [experience]
    job = create_job(api, "j", [auth])["id"]
    assert ok(api.put(f"/v2/_authctl/job/{job}/status", json={"status": "running"}))["status"] == "runnable"
    assert ok(api.put(f"/v2/_authctl/job/{job}/status", json={"status": "failed"}))["status"] == "failed"

    missing = "0" * 32
    refused(api.put(f"/v2/_authctl/auth/{missing}/health", json={"status": "healthy"}), 404, "AUTH-NOTFOUND-006")
    refused(api.get(f"/v2/_authctl/auth/{missing}/requests"), 404, "AUTH-NOTFOUND-006")
    refused(api.post("/v2/_authctl/experience", json={"name": "e", "auth_ids": [missing]}), 404, "AUTH-NOTFOUND-006")
    refused(api.put(f"/v2/_authctl/job/{missing}/status", json={"status": "paused"}), 404, "JOB-NOTFOUND-004")
    refused(api.put(f"/v2/_authctl/auth/{auth}/health", json={"status": "sick"}), 400, "AUTH-BADREQ-008")


# -- faults ----------------------------------------------------------------------------------------------
def test_error_rate_one_fails_every_request_before_anything_is_done(workspace: Path) -> None:
    with serve_platform(workspace, token=TOKEN, extra_args=["--error-rate", "1", "--seed", "7"]) as running, \
            running.client() as api:
        statuses = set()
        for i in range(12):
            response = api.post(f"/v2/auth/{FB_TYPE}", json={"label": f"never {i}", "config": fb_config()})
            refused(response, response.status_code, "INTERNAL-019")
            statuses.add(response.status_code)
        assert statuses == {500, 503}
        assert api.get("/openapi.json").status_code == 200  # never a fault
    with serve_platform(workspace, token=TOKEN) as running, running.client() as api:
        assert ok(api.get("/v2/auth")) == []


def test_above_the_rate_limit_the_answer_is_429_with_retry_after(workspace: Path) -> None:
    with serve_platform(workspace, token=TOKEN, extra_args=["--rate-limit", "2"]) as running, \
            running.client() as api:
        responses = [api.get("/v2/auth") for _ in range(10)]
        limited = [r for r in responses if r.status_code == 429]
        assert limited and any(r.status_code == 200 for r in responses)
        for response in limited:
            assert "rate limit" in refused(response, 429, "BADREQ-001")
            assert response.headers["retry-after"] == "1"
        time.sleep(1.1)
        ok(api.get("/v2/auth"))


def test_a_dropped_create_leaves_the_client_without_an_answer_and_the_object_made(workspace: Path) -> None:
    with serve_platform(workspace, token=TOKEN, extra_args=["--drop-create-rate", "1"]) as running, \
            running.client() as api:
        with pytest.raises(httpx2.TransportError):
            api.post(f"/v2/auth/{FB_TYPE}", json={"label": "lost answer", "config": fb_config()})
        [auth] = ok(api.get("/v2/auth"))
        assert auth["label"] == "lost answer"
        with pytest.raises(httpx2.TransportError):
            api.post(f"/v2/job/{FB_WORKFLOW}", json={"name": "lost job", "config": {}, "auth_ids": [auth["id"]]})
        assert [j["name"] for j in ok(api.get("/v2/job"))] == ["lost job"]
    assert "Traceback" not in running.output()[1]


def test_latency_is_waited_out_concurrently_and_writes_stay_serialized(workspace: Path) -> None:
    """8 creates of 1.5 s latency each: waited out one after the other they would take 12 s or more.

    The bound is the serial total itself, not a guess at how fast a concurrent server is,
    so a loaded machine cannot fail it; only a server that waits its latency one request at a
    time can.
    """
    count, latency = 8, 1.5
    with serve_platform(workspace, token=TOKEN, extra_args=["--latency-ms", str(int(latency * 1000))]) as running:
        results: dict[int, float] = {}

        def one(index: int) -> None:
            with running.client(timeout=60) as api:
                started = time.monotonic()
                create_auth(api, f"concurrent {index}")
                results[index] = time.monotonic() - started

        threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        with running.client() as api:
            assert len(ok(api.get("/v2/auth"))) == count
    assert len(results) == count and min(results.values()) >= latency
    assert elapsed < count * latency, f"{count} requests of {latency} s took {elapsed:.2f}s: the latency was not concurrent"


# -- a bug in the server ---------------------------------------------------------------------------------
def test_an_unexpected_failure_is_a_500_that_names_nothing_of_the_server() -> None:
    """In process (a subprocess cannot be made to fail on demand): the ASGI app over a platform that breaks."""
    import anyio

    from reconciler.catalog import load_catalog
    from reconciler.served import ServeSettings, create_app

    class BrokenPlatform:
        def list_authorizations(self) -> list[Any]:
            raise RuntimeError(f"internals: /srv/platform.db password={CANARY}")

    app = create_app(BrokenPlatform(), load_catalog(), ServeSettings(token=TOKEN))  # type: ignore[arg-type]

    async def call() -> httpx2.Response:
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://served",
                                      headers={"Authorization": TOKEN}) as client:
            return await client.get("/v2/auth")

    response = anyio.run(call)
    message = refused(response, 500, "INTERNAL-019")
    assert "request_id" in message and "internals" not in response.text and CANARY not in response.text
