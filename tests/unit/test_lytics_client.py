"""The ``lytics`` backend's own HTTP handling: errors, retries, creates after lost answers, paging, mapping.

``httpx2.MockTransport`` is the one seam (as in httpx's own tests): each test's handler
plays a platform having a bad day in one precise way, which a real server cannot be
made to do on cue. Everything else (round trips, the delete guard, real latency and
faults) runs against ``authctl platform serve`` in tests/integration/test_lytics_backend.py.
Backoff sleeps are recorded, not slept.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest

from reconciler.backends import AuthorizationRequest, Backend, JobRequest, Reauthorization
from reconciler.backends.http_client import HttpClient, retry_after
from reconciler.backends.lytics import LyticsBackend, open_lytics_backend, to_live_authorization, to_live_job
from reconciler.catalog import load_catalog
from reconciler.errors import (
    DeleteRefusedError,
    PermanentBackendError,
    SecretError,
    TemporaryBackendError,
    WorkspaceError,
)
from reconciler.live import HealthResult
from reconciler.lytics_wire import AuthOut, JobOut, with_marker
from reconciler.manifest.secrets import SecretValue
from reconciler.vocabulary import Health, JobStatus
from reconciler.workspace import load_workspace

TOKEN = "lyt-unit-token-5b1f"
CANARY = "canary-lytics-9d3e-secret"
URL = "http://127.0.0.1:8765"
CATALOG = load_catalog()
Handler = Callable[[httpx2.Request], httpx2.Response]


# -- a platform in a box --------------------------------------------------------------------------------
def ok(data: Any, status: int = 200, *, meta: dict[str, Any] | None = None, rid: str = "r-ok") -> httpx2.Response:
    return httpx2.Response(status, json={"data": data, "status": status, "request_id": rid, "_meta": meta or {}})


def fail(status: int, code: str, message: str, *, rid: str = "r-err",
         headers: dict[str, str] | None = None) -> httpx2.Response:
    body = {"errors": [{"code": code, "level": "error", "message": message, "timestamp": "2026-05-01T00:00:00Z"}],
            "request_id": rid, "status": status}
    return httpx2.Response(status, json=body, headers=headers)


def auth(auth_id: str = "a1", *, type: str = "fb-system-user", label: str = "FB prod", description: str = "",
         **extra: Any) -> dict[str, Any]:
    return {"id": auth_id, "type": type, "provider_slug": "facebook", "label": label, "description": description,
            "status": "healthy", "user_id": "u-7", "created": "2026-01-02T03:04:05Z", **extra}


def job(job_id: str = "j1", *, status: str = "runnable", auth_ids: tuple[str, ...] = ("a1",), description: str = "",
        workflow: str = "facebook-audience-populate", **extra: Any) -> dict[str, Any]:
    return {"id": job_id, "name": "audiences", "workflow": workflow, "status": status, "auth_ids": list(auth_ids),
            "description": description, "config": {"audiences": ["vip"]}, "user_id": "u-7", **extra}


class Platform:
    """Routes ``(method, path)`` to a handler and records every request the client sent."""

    def __init__(self, routes: dict[tuple[str, str], Handler | httpx2.Response | list[Any]]) -> None:
        self.routes = routes
        self.sent: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.sent.append(request)
        route = self.routes.get((request.method, request.url.path))
        if route is None:
            return fail(404, "NOTFOUND-003", f"no such endpoint: {request.url.path}")
        if isinstance(route, list):  # answers in turn; the last one repeats
            answer = route.pop(0) if len(route) > 1 else route[0]
            return answer(request) if callable(answer) else answer
        return route(request) if callable(route) else route

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.sent if r.method == method and r.url.path == path)

    def body(self, index: int = -1) -> dict[str, Any]:
        return json.loads(self.sent[index].content)


def backend_for(platform: Platform, *, page_size: int | None = None,
                sleeps: list[float] | None = None) -> LyticsBackend:
    http = HttpClient(URL, SecretValue(TOKEN), transport=httpx2.MockTransport(platform),
                      sleep=(sleeps if sleeps is not None else []).append, jitter=lambda: 0.5)
    return LyticsBackend(http, CATALOG, page_size=page_size)


def lists(auths: list[Any] | None = None, jobs: list[Any] | None = None) -> dict[tuple[str, str], Any]:
    return {("GET", "/v2/auth"): ok(auths or []), ("GET", "/v2/job"): ok(jobs or []),
            ("GET", "/v2/_authctl/experience"): ok([])}


def fb_request(marker: str | None = "authctl-m1", label: str = "FB prod") -> AuthorizationRequest:
    return AuthorizationRequest(provider="facebook", method="system_user", type="fb-system-user", label=label,
                                description="Audience sync", config={"ads_account_id": "act_1234567890"},
                                credentials={"access_token": SecretValue(CANARY)}, marker=marker)


def drop_connection(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.RemoteProtocolError("Server disconnected without sending a response.", request=request)


# -- the token -----------------------------------------------------------------------------------------
def test_a_refused_token_is_one_line_without_the_token() -> None:
    platform = Platform({("GET", "/v2/auth"): fail(401, "UNAUTHORIZED-017", f"bad token {TOKEN}", rid="r-401")})
    backend = backend_for(platform)
    with pytest.raises(PermanentBackendError) as caught:
        backend.find_authorization_by_marker("authctl-x")
    assert caught.value.message == ("GET /v2/auth: the platform refused the API token (401 UNAUTHORIZED-017); "
                                    "check backend.token (request r-401)")
    assert platform.count("GET", "/v2/auth") == 1  # never retried
    assert platform.sent[0].headers["Authorization"] == TOKEN  # the bare token, no "Bearer"
    for text in (str(caught.value), repr(caught.value), repr(backend), repr(backend.http),
                 repr(backend.http._client.auth), repr(platform.sent[0].headers)):
        assert TOKEN not in text
    assert isinstance(backend, Backend)


# -- retries -------------------------------------------------------------------------------------------
def test_429_waits_for_retry_after_then_succeeds() -> None:
    routes = lists()
    routes[("GET", "/v2/auth")] = [fail(429, "BADREQ-001", "slow down", headers={"Retry-After": "2"}), ok([auth()])]
    platform, sleeps = Platform(routes), []
    backend = backend_for(platform, sleeps=sleeps)
    snapshot = backend.snapshot()
    assert list(snapshot.authorizations) == ["a1"]
    assert sleeps == [2.0]
    assert snapshot.calls == 4 and backend.requests_made == 4
    assert backend.requests_by_kind["GET /v2/auth"] == 2


def test_retry_after_reads_seconds_and_http_dates_and_is_capped() -> None:
    assert retry_after("3") == 3.0 and retry_after("0.5") == 0.5 and retry_after(None) is None
    assert retry_after("soon") is None
    later = retry_after(format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True))
    assert later is not None and 25 < later <= 30
    platform, sleeps = Platform({("GET", "/v2/auth"): [fail(429, "X", "", headers={"Retry-After": "86400"}),
                                                        ok([])]}), []
    backend_for(platform, sleeps=sleeps).find_authorization_by_marker("authctl-x")
    assert sleeps == [30.0]  # a day is capped


def test_503_on_a_get_is_retried_with_backoff() -> None:
    platform, sleeps = Platform({("GET", "/v2/auth"): [fail(503, "X", "busy"), fail(503, "X", "busy"), ok([])]}), []
    assert backend_for(platform, sleeps=sleeps).find_authorization_by_marker("authctl-x") is None
    assert platform.count("GET", "/v2/auth") == 3
    assert sleeps == [0.125, 0.25]  # full jitter (here 0.5) of 0.25 s, doubling


def test_retries_are_bounded_and_end_in_one_temporary_error() -> None:
    platform, sleeps = Platform({("GET", "/v2/job"): fail(503, "INTERNAL-019", "down for\nmaintenance", rid="r-9")}), []
    backend = backend_for(platform, sleeps=sleeps)
    with pytest.raises(TemporaryBackendError) as caught:
        backend.get_job("j-unknown")
    assert caught.value.message == "GET /v2/job: 503 INTERNAL-019 down for maintenance (request r-9)"
    assert platform.count("GET", "/v2/job") == 6 and len(sleeps) == 5 and max(sleeps) <= 5.0
    five_hundred = Platform({("GET", "/v2/job"): fail(500, "INTERNAL-019", "bug")})
    with pytest.raises(TemporaryBackendError):
        backend_for(five_hundred).get_job("j-unknown")
    assert five_hundred.count("GET", "/v2/job") == 3  # a 500: a couple of times only


def test_an_unreachable_platform_is_said_plainly_after_retries() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("[Errno 111] Connection refused", request=request)

    platform = Platform({("GET", "/v2/auth"): refuse})
    with pytest.raises(TemporaryBackendError) as caught:
        backend_for(platform).find_authorization_by_marker("authctl-x")
    assert caught.value.message == f"cannot reach the platform at {URL}: connection refused"
    assert platform.count("GET", "/v2/auth") == 6


def test_a_certificate_that_does_not_verify_is_not_retried() -> None:
    def tls(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", request=request)

    platform = Platform({("GET", "/v2/auth"): tls})
    with pytest.raises(PermanentBackendError, match=r"^cannot reach the platform at .*: TLS handshake failed"):
        backend_for(platform).find_authorization_by_marker("authctl-x")
    assert platform.count("GET", "/v2/auth") == 1


# -- creates are never blindly repeated ------------------------------------------------------------------
def test_a_500_on_create_is_settled_by_the_marker_and_adopted() -> None:
    made = auth("a9", description=with_marker("Audience sync", "authctl-m1"))
    platform = Platform({("POST", "/v2/auth/fb-system-user"): fail(500, "INTERNAL-019", "oops"),
                         ("GET", "/v2/auth"): ok([auth("a0", label="Other"), made])})
    live = backend_for(platform).create_authorization(fb_request())
    assert (live.id, live.description, live.provider, live.method) == ("a9", "Audience sync", "facebook",
                                                                       "system_user")
    assert platform.count("POST", "/v2/auth/fb-system-user") == 1
    assert platform.count("GET", "/v2/auth") == 1


def test_a_dropped_create_answer_is_adopted_by_marker_without_a_second_post() -> None:
    made = job("j9", description=with_marker("sync", "authctl-j1"))
    platform = Platform({("POST", "/v2/job/facebook-audience-populate"): drop_connection,
                         ("GET", "/v2/job"): ok([job("j0"), made])})
    request = JobRequest(name="audiences", workflow="facebook-audience-populate", auth_ids=("a1",),
                         description="sync", marker="authctl-j1")
    live = backend_for(platform).create_job(request)
    assert (live.id, live.description) == ("j9", "sync")
    assert platform.count("POST", "/v2/job/facebook-audience-populate") == 1
    sent = json.loads(platform.sent[0].content)
    assert sent["description"] == "sync\n\nmanaged by authctl (marker authctl-j1)"


def test_a_dropped_create_not_found_by_marker_is_sent_once_more() -> None:
    platform = Platform({("POST", "/v2/auth/fb-system-user"): [drop_connection, ok(auth("a5"), 201)],
                         ("GET", "/v2/auth"): ok([])})
    live = backend_for(platform).create_authorization(fb_request())
    assert live.id == "a5"
    assert platform.count("POST", "/v2/auth/fb-system-user") == 2
    assert platform.count("GET", "/v2/auth") == 1


def test_creates_that_never_answer_stop_and_stay_temporary() -> None:
    platform = Platform({("POST", "/v2/job/facebook-audience-populate"): fail(503, "X", "busy"),
                         ("GET", "/v2/job"): ok([])})
    backend = backend_for(platform)
    request = JobRequest(name="a", workflow="facebook-audience-populate", auth_ids=("a1",), marker="authctl-j2")
    with pytest.raises(TemporaryBackendError, match="POST /v2/job/facebook-audience-populate: 503"):
        backend.create_job(request)
    assert platform.count("POST", "/v2/job/facebook-audience-populate") == 3
    # apply retries the step: the backend looks for the marker first, and finds what a lost answer made
    platform.routes[("GET", "/v2/job")] = ok([job("j3", description=with_marker("", "authctl-j2"))])
    assert backend.create_job(request).id == "j3"
    assert platform.count("POST", "/v2/job/facebook-audience-populate") == 3


def test_a_create_refused_with_429_is_simply_sent_again() -> None:
    platform, sleeps = Platform({("POST", "/v2/auth/fb-system-user"): [
        fail(429, "X", "later", headers={"Retry-After": "1"}), ok(auth("a2"), 201)]}), []
    assert backend_for(platform, sleeps=sleeps).create_authorization(fb_request()).id == "a2"
    assert sleeps == [1.0] and platform.count("GET", "/v2/auth") == 0


def test_a_lost_create_whose_label_is_taken_without_our_marker_is_never_adopted() -> None:
    platform = Platform({("POST", "/v2/auth/fb-system-user"): drop_connection,
                         ("GET", "/v2/auth"): ok([auth("a7", label="fb PROD", description="made in the UI")])})
    with pytest.raises(TemporaryBackendError, match=r"authorization a7 holds the label 'FB prod' without this "
                                                    r"apply's creation marker.*authctl import NAME a7"):
        backend_for(platform).create_authorization(fb_request())
    assert platform.count("POST", "/v2/auth/fb-system-user") == 1


def test_a_job_desired_paused_is_created_then_paused() -> None:
    platform = Platform({("POST", "/v2/job/facebook-audience-populate"): ok(job("j4"), 201),
                         ("POST", "/v2/job/j4/pause"): ok(job("j4", status="paused"))})
    request = JobRequest(name="a", workflow="facebook-audience-populate", auth_ids=("a1",),
                         status=JobStatus.PAUSED, marker="authctl-j4")
    assert backend_for(platform).create_job(request).status is JobStatus.PAUSED
    assert [f"{r.method} {r.url.path}" for r in platform.sent] == [
        "POST /v2/job/facebook-audience-populate", "POST /v2/job/j4/pause"]


# -- answers that are not what they should be --------------------------------------------------------------
def test_malformed_json_is_one_line_naming_the_endpoint_and_request() -> None:
    platform = Platform({("GET", "/v2/job"): httpx2.Response(200, content=b"{oops", headers={"X-Request-Id": "rq-7"})})
    with pytest.raises(PermanentBackendError) as caught:
        backend_for(platform).find_job_by_marker("authctl-x")
    assert caught.value.message == "GET /v2/job: the response is not JSON (request rq-7)"


def test_a_wrong_shape_names_the_first_problems_never_the_values() -> None:
    jobs = [job("j0"), job("j1"), job("j2"), {k: v for k, v in job("j3").items() if k != "status"}]
    jobs[1]["auth_ids"] = CANARY  # a value of the wrong type: named by place, never shown
    platform = Platform({("GET", "/v2/job"): ok(jobs, rid="r-shape")})
    with pytest.raises(PermanentBackendError) as caught:
        backend_for(platform).find_job_by_marker("authctl-x")
    message = caught.value.message
    assert message == ("GET /v2/job: the response is not the expected shape: data.1.auth_ids: Input should be a "
                       "valid array; data.3.status: Field required (request r-shape)")
    assert "\n" not in message and CANARY not in message
    not_a_list = Platform({("GET", "/v2/auth"): ok({"id": "a1"})})
    with pytest.raises(PermanentBackendError, match=r"^GET /v2/auth: the response is not the expected shape: "
                                                    r"data: Input should be a valid array \(request r-ok\)$"):
        backend_for(not_a_list).find_authorization_by_marker("authctl-x")


def test_an_error_without_the_lytics_envelope_still_names_the_status() -> None:
    platform = Platform({("PUT", "/v2/auth/fb-system-user/a1"): httpx2.Response(418, text="<html>teapot</html>")})
    backend = backend_for(platform)
    backend._remember_auths([AuthOut(**auth())])
    with pytest.raises(PermanentBackendError) as caught:
        backend.update_authorization("a1", label="x", description="")
    assert caught.value.message == "PUT /v2/auth/fb-system-user/a1: 418"


# -- paging ----------------------------------------------------------------------------------------------
def test_paging_follows_next_cursors_and_collects_every_page() -> None:
    pages = {None: ([auth("a1"), auth("a2")], "c2"), "c2": ([auth("a3"), auth("a4")], "c3"), "c3": ([auth("a5")], None)}

    def listing(request: httpx2.Request) -> httpx2.Response:
        items, following = pages[request.url.params.get("cursor")]
        assert request.url.params["limit"] == "2"
        return ok(items, meta={"_next": following} if following else {})

    routes = lists()
    routes[("GET", "/v2/auth")] = listing
    platform = Platform(routes)
    snapshot = backend_for(platform, page_size=2).snapshot()
    assert sorted(snapshot.authorizations) == ["a1", "a2", "a3", "a4", "a5"]
    assert platform.count("GET", "/v2/auth") == 3 and snapshot.calls == 5


def test_a_cursor_that_repeats_stops() -> None:
    platform = Platform({("GET", "/v2/auth"): ok([auth()], meta={"_next": "same"})})
    with pytest.raises(PermanentBackendError, match="the same page cursor twice"):
        backend_for(platform).find_authorization_by_marker("authctl-x")
    assert platform.count("GET", "/v2/auth") == 2


# -- mapping ---------------------------------------------------------------------------------------------
def test_auth_out_maps_to_a_live_authorization() -> None:
    live = to_live_authorization(AuthOut(**auth(
        description=with_marker("Audience sync", "authctl-abc"), status="unknown", unhealthy=True,
        health_reason="token expired", scopes=["ads_management"], token_expires_at="2030-01-01T00:00:00",
        updated="2026-02-01T00:00:00+02:00")), CATALOG)
    assert (live.provider, live.method, live.type, live.label) == ("facebook", "system_user", "fb-system-user",
                                                                    "FB prod")
    assert live.description == "Audience sync" and live.owner == "u-7"
    assert (live.health, live.health_reason, live.scopes) == (Health.UNHEALTHY, "token expired", ("ads_management",))
    assert live.token_expires_at == datetime(2030, 1, 1, tzinfo=UTC)  # no zone: UTC
    assert live.updated == datetime(2026, 1, 31, 22, tzinfo=UTC)
    served_only = to_live_authorization(AuthOut(**auth(type="authctl-facebook-user_oauth")), CATALOG)
    assert (served_only.provider, served_only.method) == ("facebook", "user_oauth")
    unknown = to_live_authorization(AuthOut(**auth(type="salesforce-oauth", description="no marker here")), CATALOG)
    assert (unknown.provider, unknown.method, unknown.description) == ("facebook", "type:salesforce-oauth",
                                                                      "no marker here")


def test_job_out_maps_to_a_live_job() -> None:
    live = to_live_job(JobOut(**job(description=with_marker("", "authctl-j"))))
    assert (live.status, live.description, live.auth_ids, live.owner) == (JobStatus.RUNNABLE, "", ("a1",), "u-7")
    assert live.config == {"audiences": ["vip"]}
    assert to_live_job(JobOut(**job(status="running"))).status is JobStatus.RUNNABLE
    assert to_live_job(JobOut(**job(status="hibernating"))).status is JobStatus.UNKNOWN
    assert to_live_job(JobOut(**job(status="paused", deleted=True))).status is JobStatus.DELETED


def test_the_snapshot_leaves_deleted_jobs_out_and_reads_experiences() -> None:
    routes = lists([auth()], [job("j1"), job("j2", status="deleted"), job("j3", status="completed")])
    routes[("GET", "/v2/_authctl/experience")] = ok([{"id": "e1", "name": "Lookalikes", "auth_ids": ["a1"]}])
    platform = Platform(routes)
    snapshot = backend_for(platform).snapshot()
    assert sorted(snapshot.jobs) == ["j1", "j3"]
    assert [r.id for r in snapshot.active_references("a1")] == ["j1", "e1"]
    job_query = next(r for r in platform.sent if r.url.path == "/v2/job").url.params
    assert job_query["show_completed"] == "true" and "show_deleted" not in job_query


# -- secrets ---------------------------------------------------------------------------------------------
def test_a_canary_credential_is_sent_once_and_never_shown() -> None:
    platform = Platform({("POST", "/v2/auth/fb-system-user"): fail(
        400, "AUTH-BADREQ-008", f"config.access_token: {CANARY} is not a valid token", rid="r-400")})
    backend = backend_for(platform)
    request = fb_request()
    with pytest.raises(PermanentBackendError) as caught:
        backend.create_authorization(request)
    assert caught.value.message == ("POST /v2/auth/fb-system-user: 400 AUTH-BADREQ-008 config.access_token: "
                                    "(sensitive) is not a valid token (request r-400)")
    assert platform.body()["config"] == {"ads_account_id": "act_1234567890", "access_token": CANARY}
    assert platform.body()["label"] == "FB prod"
    for text in (str(caught.value), repr(caught.value), repr(request), repr(backend), repr(backend.__dict__)):
        assert CANARY not in text
    lost = Platform({("POST", "/v2/auth/fb-system-user"): fail(502, "X", f"echo {CANARY}"),
                     ("GET", "/v2/auth"): ok([])})
    with pytest.raises(TemporaryBackendError) as again:
        backend_for(lost).create_authorization(fb_request())
    assert CANARY not in str(again.value)


# -- the rest of the protocol ------------------------------------------------------------------------------
def test_delete_maps_409_to_a_refusal_and_returns_the_stopped_jobs() -> None:
    platform = Platform({("DELETE", "/v2/auth/a1"): fail(409, "BADREQ-001", "in use by job j1 (running)"),
                         ("DELETE", "/v2/auth/a2"): ok({"id": "a2", "stopped_job_ids": ["j7"]})})
    backend = backend_for(platform)
    with pytest.raises(DeleteRefusedError, match=r"DELETE /v2/auth/a1: 409 BADREQ-001 in use by job j1"):
        backend.delete_authorization("a1")
    assert backend.delete_authorization("a2") == ["j7"]
    assert backend.requests_by_auth == {"a1": 1, "a2": 1}


def test_a_delete_whose_answer_was_lost_and_is_gone_on_retry_succeeded() -> None:
    platform = Platform({("DELETE", "/v2/auth/a1"): [drop_connection, fail(404, "AUTH-NOTFOUND-006", "gone")],
                         ("DELETE", "/v2/job/j1"): [drop_connection, fail(404, "JOB-NOTFOUND-004", "gone")],
                         ("DELETE", "/v2/job/j2"): fail(404, "JOB-NOTFOUND-004", "no job with id 'j2'")})
    backend = backend_for(platform)
    assert backend.delete_authorization("a1") == []
    backend.delete_job("j1")
    with pytest.raises(PermanentBackendError, match="DELETE /v2/job/j2: 404 JOB-NOTFOUND-004"):
        backend.delete_job("j2")  # never seen: as the local backend, an unknown job is an error


def test_ids_seen_in_reads_build_typed_paths_and_keep_their_marker() -> None:
    routes = lists([auth("a1", description=with_marker("old", "authctl-m1"))],
                   [job("j1", description=with_marker("", "authctl-j1"))])
    routes[("PUT", "/v2/auth/fb-system-user/a1")] = ok(auth("a1", label="New", description=with_marker("d", "authctl-m1")))
    routes[("PUT", "/v2/job/facebook-audience-populate/j1")] = ok(job("j1", auth_ids=("a2",)))
    routes[("GET", "/v2/job/facebook-audience-populate/j1")] = fail(404, "JOB-NOTFOUND-004", "gone")
    platform = Platform(routes)
    backend = backend_for(platform)
    backend.snapshot()
    live = backend.update_authorization("a1", label="New", description="d")
    assert (live.label, live.description) == ("New", "d")
    assert platform.body() == {"label": "New", "description": "d\n\nmanaged by authctl (marker authctl-m1)"}
    request = JobRequest(name="audiences", workflow="facebook-audience-populate", auth_ids=("a2",),
                         config={"audiences": ["vip"]})
    assert backend.update_job("j1", request).auth_ids == ("a2",)
    assert platform.body() == {"name": "audiences", "config": {"audiences": ["vip"]}, "auth_ids": ["a2"],
                               "description": "managed by authctl (marker authctl-j1)"}
    assert backend.get_job("j1") is None  # a 404 by id
    assert backend.requests_by_auth["a2"] == 1


def test_an_unknown_id_costs_one_list_call() -> None:
    platform = Platform({("GET", "/v2/job"): ok([job("j5", status="deleted")]), ("GET", "/v2/auth"): ok([])})
    backend = backend_for(platform)
    found = backend.get_job("j5")
    assert found is not None and found.status is JobStatus.DELETED
    assert platform.sent[0].url.params["show_deleted"] == "true"
    assert backend.get_job("j-none") is None
    with pytest.raises(PermanentBackendError, match="no authorization with id 'a-none'"):
        backend.update_authorization("a-none", label="x", description="")
    assert platform.count("GET", "/v2/job") == 2 and platform.count("GET", "/v2/auth") == 1


def test_references_ask_for_the_authorization_and_count_active_work() -> None:
    routes = lists(jobs=[job("j1"), job("j2", status="killed"), job("j3", auth_ids=("a9",))])
    routes[("GET", "/v2/_authctl/experience")] = ok([{"id": "e1", "name": "x", "auth_ids": ["a1"]},
                                                     {"id": "e2", "name": "y", "auth_ids": ["a2"]}])
    platform = Platform(routes)
    refs = backend_for(platform).references("a1")
    assert [(r.kind, r.id, r.active) for r in refs] == [("job", "j1", True), ("job", "j2", False),
                                                         ("experience", "e1", True)]
    assert platform.sent[0].url.params["auth_ids"] == "a1"


def test_a_platform_without_the_served_extensions_says_so(caplog: pytest.LogCaptureFixture) -> None:
    platform = Platform({("GET", "/v2/auth"): ok([]), ("GET", "/v2/job"): ok([])})
    backend = backend_for(platform)
    with caplog.at_level(logging.WARNING, logger="reconciler.backends.lytics"):
        assert backend.snapshot().experiences == {}
        assert backend.snapshot().experiences == {}
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "has no experience endpoint (authctl's served platform has)" in warnings[0]
    assert platform.count("GET", "/v2/_authctl/experience") == 1  # asked once
    with pytest.raises(PermanentBackendError, match=r"^this platform has no health endpoint \(authctl's served "
                                                    r"platform has\): PUT /v2/_authctl/auth/a1/health: 404"):
        backend.record_health("a1", HealthResult(Health.HEALTHY))
    assert backend.request_counts("a1") is None
    with pytest.raises(PermanentBackendError, match="cannot take OAuth tokens .*connect it in the Lytics UI"):
        backend.reauthorize("a1", Reauthorization({"access_token": SecretValue(CANARY)}))


def test_served_extensions_record_health_and_read_counts() -> None:
    platform = Platform({("PUT", "/v2/_authctl/auth/a1/health"): ok(auth(status="unhealthy",
                                                                         health_reason="revoked")),
                         ("GET", "/v2/_authctl/auth/a1/requests"): ok({"hour": 1, "day": 2, "week": 3, "month": 4}),
                         ("GET", "/v2/_authctl/auth/a2/requests"): fail(404, "AUTH-NOTFOUND-006", "no a2")})
    backend = backend_for(platform)
    live = backend.record_health("a1", HealthResult(Health.UNHEALTHY, "revoked", scopes=("a",)))
    assert (live.health, live.health_reason) == (Health.UNHEALTHY, "revoked")
    assert platform.body() == {"status": "unhealthy", "reason": "revoked", "scopes": ["a"]}
    counts = backend.request_counts("a1")
    assert counts is not None and (counts.hour, counts.month) == (1, 4)
    with pytest.raises(PermanentBackendError, match="AUTH-NOTFOUND-006"):
        backend.request_counts("a2")  # an unknown id is not a missing endpoint


def test_an_oauth_connection_on_a_platform_without_the_token_hand_off_says_how_to_connect_it() -> None:
    """A real Lytics makes OAuth connections in its UI: login's create (and the check before it) say so."""
    platform = Platform({})  # a real Lytics: no /v2/_authctl/oauth/... endpoint
    request = AuthorizationRequest(provider="facebook", method="user_oauth", type=None, label="FB (Jane)",
                                   credentials={"access_token": SecretValue(CANARY)}, marker="authctl-o")
    backend = backend_for(platform)
    with pytest.raises(PermanentBackendError) as caught:
        backend.create_authorization(request)
    assert caught.value.message.startswith(
        f"the platform at {URL} cannot take OAuth tokens (facebook user_oauth): the Lytics API has no way to create "
        "or renew an OAuth connection")
    assert "connect it in the Lytics UI, then `authctl import NAME ID`" in caught.value.message
    assert platform.sent[0].url.path == "/v2/_authctl/oauth/facebook/user_oauth" and CANARY not in str(caught.value)
    with pytest.raises(PermanentBackendError, match="cannot take OAuth tokens"):
        backend.check_oauth_handoff("facebook", "user_oauth")
    assert platform.sent[-1].method == "GET"


def test_the_served_token_hand_off_creates_and_reauthorizes() -> None:
    created = auth("o1", type="authctl-facebook-user_oauth", label="FB (Jane)",
                   description=with_marker("", "authctl-o"), scopes=["ads_management"])
    platform = Platform({("POST", "/v2/_authctl/oauth/facebook/user_oauth"): ok(created, 201),
                         ("GET", "/v2/_authctl/oauth/facebook/user_oauth"): ok(
                             {"provider": "facebook", "method": "user_oauth", "type": "authctl-facebook-user_oauth",
                              "kind": "oauth2", "scopes": ["ads_management"]}),
                         ("PUT", "/v2/_authctl/auth/o1/tokens"): ok(created)})
    backend = backend_for(platform)
    backend.check_oauth_handoff("facebook", "user_oauth")
    expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    request = AuthorizationRequest(provider="facebook", method="user_oauth", type=None, label="FB (Jane)",
                                   credentials={"access_token": SecretValue(CANARY)}, marker="authctl-o",
                                   scopes=("ads_management",), token_expires_at=expires)
    live = backend.create_authorization(request)
    assert live.id == "o1" and live.scopes == ("ads_management",)
    assert platform.body() == {"label": "FB (Jane)", "description": with_marker("", "authctl-o"), "config": {},
                               "credentials": {"access_token": CANARY}, "scopes": ["ads_management"],
                               "token_expires_at": "2030-01-02T03:04:05Z"}
    again = backend.reauthorize("o1", Reauthorization({"access_token": SecretValue(CANARY + "-2")},
                                                      ("ads_management",), expires))
    assert again.id == "o1" and platform.sent[-1].url.path == "/v2/_authctl/auth/o1/tokens"
    assert platform.body()["credentials"] == {"access_token": CANARY + "-2"}


def test_the_account_id_travels_on_every_call() -> None:
    platform = Platform({("GET", "/v2/auth"): ok([])})
    http = HttpClient(URL + "/v2/", SecretValue(TOKEN), account_id="acct-1", transport=httpx2.MockTransport(platform))
    LyticsBackend(http, CATALOG).find_authorization_by_marker("authctl-x")
    assert str(platform.sent[0].url) == f"{URL}/v2/auth?account_id=acct-1"


# -- settings --------------------------------------------------------------------------------------------
def _workspace(tmp_path: Path, backend: str, files: dict[str, str] | None = None) -> Path:
    (tmp_path / "authctl.yaml").write_text(f"backend: {backend}\n", encoding="utf-8")
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(("backend", "expected"), [
    (f"{{kind: lytics, url: '{URL}', token: '{CANARY}'}}",
     "authctl.yaml:1: backend.token: must be a reference, {env: VARIABLE} or {file: PATH}, never the token itself"),
    (f"{{kind: lytics, url: '{URL}', token: {{env: '{CANARY}'}}}}",
     "authctl.yaml:1: backend.token.env: must be the name of an environment variable"),
    ("{kind: lytics, url: 'http://platform.example.com'}",
     "authctl.yaml:1: backend.url: plain http is allowed only to this machine (127.0.0.1, localhost or ::1)"),
    (f"{{kind: lytics, url: 'https://{CANARY}:x@api.lytics.io'}}",
     "authctl.yaml:1: backend.url: must not hold a user name or password"),
    ("{kind: lytics}", "authctl.yaml:1: backend.url: required with kind: lytics"),
    ("{kind: lytics, url: 'https://api.lytics.io', timeout_seconds: 0}",
     "authctl.yaml:1: backend.timeout_seconds: must be more than 0"),
])
def test_backend_settings_are_checked_without_echoing_values(tmp_path: Path, backend: str, expected: str) -> None:
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(_workspace(tmp_path, backend))
    assert caught.value.message.startswith(expected), caught.value.message
    assert CANARY not in caught.value.message


def _sent_token(tmp_path: Path, backend: str, files: dict[str, str] | None = None) -> str:
    platform = Platform({("GET", "/v2/auth"): ok([])})
    opened = open_lytics_backend(load_workspace(_workspace(tmp_path, backend, files)), CATALOG,
                                 transport=httpx2.MockTransport(platform))
    opened.find_authorization_by_marker("authctl-x")
    opened.close()
    return platform.sent[0].headers["Authorization"]


def test_the_token_comes_from_a_file_or_a_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _sent_token(tmp_path, f"{{kind: lytics, url: '{URL}', token: {{file: lytics.token}}}}",
                       {"lytics.token": "tok-from-file\n"}) == "tok-from-file"
    monkeypatch.setenv("MY_LYTICS", "tok-from-env")
    assert _sent_token(tmp_path, f"{{kind: lytics, url: '{URL}', token: {{env: MY_LYTICS}}}}") == "tok-from-env"
    assert _sent_token(tmp_path, f"{{kind: lytics, url: '{URL}', token_env: MY_LYTICS}}") == "tok-from-env"
    monkeypatch.setenv("LYTICS_API_TOKEN", "tok-default")
    assert _sent_token(tmp_path, f"{{kind: lytics, url: '{URL}'}}") == "tok-default"


def test_a_missing_token_names_the_setting_and_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LYTICS_API_TOKEN", raising=False)
    with pytest.raises(SecretError, match=r"^authctl.yaml: backend.token \(default \{env: LYTICS_API_TOKEN\}\): "
                                          r"environment variable LYTICS_API_TOKEN is not set; it must hold the "
                                          r"Lytics API token$"):
        _sent_token(tmp_path, f"{{kind: lytics, url: '{URL}'}}")
    with pytest.raises(SecretError, match=r"^authctl.yaml: backend.token_env: environment variable NOPE is not set"):
        _sent_token(tmp_path, f"{{kind: lytics, url: '{URL}', token_env: NOPE}}")
    with pytest.raises(SecretError, match=r"^authctl.yaml: backend.token: secret file nope.token not found"):
        _sent_token(tmp_path, f"{{kind: lytics, url: '{URL}', token: {{file: nope.token}}}}")
    monkeypatch.setenv("LYTICS_API_TOKEN", f"{CANARY}\r\nX-Injected: 1")
    with pytest.raises(SecretError) as caught:
        _sent_token(tmp_path, f"{{kind: lytics, url: '{URL}'}}")
    assert "characters an HTTP header cannot carry" in caught.value.message and CANARY not in caught.value.message
