"""Provider checks without a provider: how answers classify, how check requests are built, how refresh and
revocation failures read. ``httpx2.MockTransport`` is the one seam (the client's own logic under test);
the real provider runs in tests/integration/test_health_worker.py and tests/e2e/test_health_cli.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx2
import pytest

from reconciler.catalog import load_catalog
from reconciler.manifest.secrets import SecretValue
from reconciler.oauth.check_request import CheckTarget, Unchecked, build_check_request
from reconciler.oauth.classify import classify
from reconciler.oauth.clients import OAuthApp
from reconciler.oauth.endpoints import oauth_endpoints
from reconciler.oauth.health import run_check
from reconciler.oauth.refresh import REFRESH_REFUSED, refresh_grant
from reconciler.oauth.revoke import revoke_grant
from reconciler.oauth.tokens import TokenSet
from reconciler.served.health_schedule import parse_interval
from reconciler.vocabulary import Health
from reconciler.workspace import ProviderOverride, Settings

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
CANARY = "canary-token-7d41b0"
SECRET = "canary-secret-90aa1c"
CATALOG = load_catalog()
SETTINGS = Settings(name="unit", provider_overrides={"pinterest": ProviderOverride(
    api_base_url="http://127.0.0.1:9", token_url="http://127.0.0.1:9/oauth/token",
    revocation_url="http://127.0.0.1:9/oauth/revoke")})
APP = OAuthApp("pinterest", "client-1", SecretValue(SECRET))
PIN_SCOPES = ("ads:read", "ads:write")


def verdict(status: int, body: object = None, *, headers: dict[str, str] | None = None,
            required: tuple[str, ...] = PIN_SCOPES, recorded: tuple[str, ...] = PIN_SCOPES,
            expires_at: datetime | None = None):  # type: ignore[no-untyped-def]
    content = json.dumps(body).encode() if body is not None else b""
    return classify(status, headers or {}, content, required_scopes=required, recorded_scopes=recorded,
                    expires_at=expires_at, now=NOW, scope_separator=",")


# -- classification ------------------------------------------------------------------------------------
def test_a_2xx_is_healthy_and_reports_the_scopes_it_names() -> None:
    v = verdict(200, {"id": "1", "scopes": ["ads:read", "ads:write", "extra"]})
    assert (v.status, v.reason, v.granted) == (Health.HEALTHY, "", ("ads:read", "ads:write", "extra"))


def test_a_grant_echoed_as_one_comma_separated_item_is_complete() -> None:
    v = verdict(200, {"id": "1", "scopes": ["ads:read,ads:write"]})
    assert (v.status, v.scopes_missing) == (Health.HEALTHY, ())


@pytest.mark.parametrize("body", [{"scopes": ["ads:read"]}, {"data": {"is_valid": True, "scopes": ["ads:read"]}},
                                  {"scope": "ads:read"}])
def test_a_required_scope_missing_from_the_answer_is_unhealthy_and_named(body: dict) -> None:
    v = verdict(200, body)
    assert (v.status, v.reason, v.scopes_missing) == (Health.UNHEALTHY, "missing scope ads:write", ("ads:write",))


def test_without_scopes_in_the_answer_the_recorded_grant_decides() -> None:
    assert verdict(200, {"id": "1"}, recorded=("ads:read",)).scopes_missing == ("ads:write",)
    assert verdict(200, {"id": "1"}, recorded=()).status is Health.HEALTHY  # nothing known: no scope verdict


def test_facebook_debug_token_is_valid_false_is_unhealthy() -> None:
    v = verdict(200, {"data": {"is_valid": False, "error": {"code": 190, "message": "Error validating: revoked"}}},
                required=(), recorded=())
    assert (v.status, v.reason) == (Health.UNHEALTHY, "revoked")
    expired = verdict(200, {"data": {"is_valid": False, "error": {"code": 190, "error_subcode": 463}}})
    assert expired.reason == "expired"


@pytest.mark.parametrize(("description", "expires_at", "reason"), [
    ("expired", None, "expired"),
    ("revoked", None, "revoked"),
    ("unknown", None, "invalid credentials"),
    ("The access token provided is expired, revoked, malformed, or invalid", None, "revoked"),
    ("unknown", NOW - timedelta(minutes=1), "expired"),  # the recorded expiry passed: the clock decides
])
def test_a_401_invalid_token_says_expired_revoked_or_invalid(description: str, expires_at: datetime | None,
                                                             reason: str) -> None:
    challenge = f'Bearer error="invalid_token", error_description="{description}"'
    v = verdict(401, {"error": "invalid_token", "error_description": description},
                headers={"www-authenticate": challenge}, expires_at=expires_at)
    assert (v.status, v.reason) == (Health.UNHEALTHY, reason)


def test_insufficient_scope_names_the_scope() -> None:
    v = verdict(403, None, headers={"www-authenticate": 'Bearer error="insufficient_scope", scope="ads:write"'})
    assert (v.status, v.reason, v.scopes_missing) == (Health.UNHEALTHY, "missing scope ads:write", ("ads:write",))


def test_google_tokeninfo_400_invalid_token_and_graph_code_190_are_unhealthy() -> None:
    assert verdict(400, {"error": "invalid_token", "error_description": "Invalid Value"}).status is Health.UNHEALTHY
    graph = verdict(400, {"error": {"type": "OAuthException", "code": 190, "error_subcode": 460}})
    assert (graph.status, graph.reason) == (Health.UNHEALTHY, "revoked")


def test_tiktok_200_with_an_auth_error_code_is_unhealthy() -> None:
    assert verdict(200, {"code": 40105, "message": "access token is expired"}, required=()).reason == "expired"
    assert verdict(200, {"code": 40002, "message": "bad param"}, required=()).status is Health.HEALTHY


@pytest.mark.parametrize(("status", "reason"), [(503, "provider unreachable (HTTP 503)"),
                                                (500, "provider unreachable (HTTP 500)")])
def test_a_5xx_is_unknown_provider_unreachable(status: int, reason: str) -> None:
    assert (verdict(status).status, verdict(status).reason) == (Health.UNKNOWN, reason)


def test_429_and_other_4xx_say_nothing_about_the_credential() -> None:
    assert verdict(429).status is Health.UNKNOWN and "rate-limited" in verdict(429).reason
    assert verdict(404, {"message": "no such account"}).reason == "the provider answered the check with HTTP 404"


def test_a_reason_never_quotes_the_provider_text() -> None:
    v = verdict(401, {"error": "invalid_token", "error_description": f"token {CANARY} is not valid"})
    assert CANARY not in v.reason and v.reason == "invalid credentials"


# -- check requests ------------------------------------------------------------------------------------
def target(provider: str, method: str, credentials: dict[str, str], config: dict | None = None) -> CheckTarget:
    spec = CATALOG.method(provider, method)
    assert spec is not None
    return CheckTarget("a1", provider, spec, config or {}, credentials)


def build(t: CheckTarget, app: OAuthApp | None = None) -> httpx2.Request | Unchecked:
    with httpx2.Client() as client:
        return build_check_request(t, SETTINGS, client, app)


def test_bearer_checks_go_to_the_overridden_api_base_with_the_token_in_the_header() -> None:
    request = build(target("pinterest", "oauth", {"access_token": CANARY}))
    assert isinstance(request, httpx2.Request)
    assert str(request.url) == "http://127.0.0.1:9/v5/user_account"
    assert request.headers["Authorization"] == f"Bearer {CANARY}"


def test_placeholders_take_config_fields_and_a_missing_one_is_unchecked() -> None:
    request = build(target("pinterest", "capi_token", {"token": CANARY}, {"account_id": "549755885175"}))
    assert isinstance(request, httpx2.Request) and request.method == "POST"
    assert request.url.path == "/v5/ad_accounts/549755885175/events"
    missing = build(target("pinterest", "capi_token", {"token": CANARY}))
    assert isinstance(missing, Unchecked) and "account_id" in missing.reason


def test_query_checks_send_the_token_as_the_provider_wants_it() -> None:
    request = build(target("facebook", "system_user", {"access_token": CANARY}, {"ads_account_id": "act_12345"}))
    assert isinstance(request, httpx2.Request)
    assert request.url.params["input_token"] == CANARY and request.url.params["access_token"] == CANARY


def test_header_checks_use_the_named_header() -> None:
    spec = CATALOG.method("tiktok", next(iter(CATALOG.providers["tiktok"].methods)))
    assert spec is not None and spec.health_check is not None
    credentials = {name: CANARY for name in spec.secret_fields} or {"access_token": CANARY}
    request = build(CheckTarget("a1", "tiktok", spec, {}, credentials))
    assert isinstance(request, httpx2.Request)
    assert request.headers[spec.health_check.header or "Authorization"] == CANARY


def test_service_account_and_missing_checks_are_unchecked_with_a_reason() -> None:
    unchecked = build(target("google_cloud", "gcs_service_account", {"cert_json": CANARY}))
    assert isinstance(unchecked, Unchecked) and "service-account" in unchecked.reason
    spec = CATALOG.method("pinterest", "oauth")
    assert spec is not None
    bare = CheckTarget("a1", "pinterest", type(spec)(name="x", title="x", kind=spec.kind), {}, {"access_token": "t"})
    result = build(bare)
    assert isinstance(result, Unchecked) and "no health check" in result.reason


def test_oauth1_checks_are_signed_with_the_app_and_the_user_token() -> None:
    t = target("x", "oauth1", {"oauth_token": "tok", "oauth_token_secret": CANARY})
    assert isinstance(build(t), Unchecked)  # no consumer secret: cannot sign
    request = build(t, OAuthApp("x", "consumer", SecretValue(SECRET)))
    assert isinstance(request, httpx2.Request)
    header = request.headers["Authorization"]
    assert header.startswith("OAuth ") and 'oauth_consumer_key="consumer"' in header
    assert CANARY not in header and SECRET not in header  # secrets sign; they are not sent


# -- a whole check, refresh and revocation through MockTransport ---------------------------------------
def client_answering(handler) -> httpx2.Client:  # type: ignore[no-untyped-def]
    return httpx2.Client(transport=httpx2.MockTransport(handler))


def test_a_connection_error_or_timeout_is_unknown_never_an_exception() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    def slow(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("timed out", request=request)

    t = target("pinterest", "oauth", {"access_token": CANARY})
    for handler, reason in ((refuse, "provider unreachable (cannot connect)"),
                            (slow, "provider unreachable (timed out)")):
        with client_answering(handler) as client:
            result = run_check(client, t, SETTINGS, None, NOW)
        assert (result.status, result.verdict.reason, result.requests) == (Health.UNKNOWN, reason, 1)


def test_refresh_maps_invalid_grant_to_revoked_and_keeps_an_unrotated_refresh_token() -> None:
    endpoints = oauth_endpoints(SETTINGS, "pinterest", CATALOG.method("pinterest", "oauth"))  # type: ignore[arg-type]
    tokens = TokenSet({"access_token": "old", "refresh_token": "r1"}, NOW, PIN_SCOPES)

    def refused(request: httpx2.Request) -> httpx2.Response:
        assert request.headers["Authorization"].startswith("Basic ")  # the app authenticates
        return httpx2.Response(400, json={"error": "invalid_grant", "error_description": CANARY})

    with client_answering(refused) as client:
        outcome = refresh_grant(client, endpoints, APP, tokens)
    assert (outcome.ok, outcome.refused, outcome.reason) == (False, True, REFRESH_REFUSED)

    def fresh(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"access_token": "new", "token_type": "Bearer", "expires_in": 60})

    with client_answering(fresh) as client:
        outcome = refresh_grant(client, endpoints, APP, tokens)
    assert outcome.tokens is not None
    assert (outcome.tokens.access_token, outcome.tokens.refresh_token, outcome.tokens.scopes) == ("new", "r1",
                                                                                                   PIN_SCOPES)
    assert not outcome.rotated(tokens)


def test_refresh_failures_never_show_the_provider_text() -> None:
    endpoints = oauth_endpoints(SETTINGS, "pinterest", CATALOG.method("pinterest", "oauth"))  # type: ignore[arg-type]
    tokens = TokenSet({"access_token": "old", "refresh_token": "r1"})
    answers = [httpx2.Response(502, text=CANARY), httpx2.Response(400, json={"error": CANARY}),
               httpx2.Response(401, json={"error": "invalid_client", "error_description": CANARY})]
    for answer in answers:
        with client_answering(lambda request, a=answer: a) as client:
            outcome = refresh_grant(client, endpoints, APP, tokens)
        assert not outcome.ok and CANARY not in outcome.reason and not outcome.refused


def test_revocation_sends_both_tokens_and_a_failure_is_a_warning() -> None:
    endpoints = oauth_endpoints(SETTINGS, "pinterest", CATALOG.method("pinterest", "oauth"))  # type: ignore[arg-type]
    seen: list[str] = []

    def ok(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.content.decode())
        return httpx2.Response(200)

    with client_answering(ok) as client:
        done = revoke_grant(client, endpoints, APP, {"access_token": "a", "refresh_token": "r"})
    assert (done.revoked, done.requests, done.warning) == (2, 2, None)
    assert "token_type_hint=refresh_token" in seen[0] and "token_type_hint=access_token" in seen[1]
    with client_answering(lambda request: httpx2.Response(503)) as client:
        failed = revoke_grant(client, endpoints, APP, {"access_token": "a", "refresh_token": CANARY})
    assert failed.warning is not None and "HTTP 503" in failed.warning and CANARY not in failed.warning


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("30s", 30), ("15m", 900), ("24h", 86400), ("7d", 604800),
                                               ("1.5h", 5400)])
def test_health_intervals(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "0s", "5w", "-1h"])
def test_bad_health_intervals_say_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError):
        parse_interval(text)


def test_no_repr_shows_a_token_or_the_client_secret() -> None:
    from reconciler.oauth.refresh import Refreshed
    from reconciler.oauth.session_client import oauth2_client
    from reconciler.oauth.worker import _Grant

    t = target("pinterest", "oauth", {"access_token": CANARY, "refresh_token": CANARY})
    tokens = TokenSet({"access_token": CANARY, "refresh_token": CANARY})
    with httpx2.Client() as client:
        shown = [repr(t), repr(tokens), repr(Refreshed(tokens)), repr(APP), repr(oauth2_client(client, APP)),
                 repr(_Grant(object(), t.method, {"x": CANARY}, {"access_token": CANARY}))]  # type: ignore[arg-type]
    assert not any(CANARY in text or SECRET in text for text in shown), shown
