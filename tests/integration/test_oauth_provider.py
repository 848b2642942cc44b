"""The test OAuth provider is a real, strict OAuth 2 server: driven here by authlib's own client.

Each test runs against the server as a subprocess (``start_provider``), exactly as authctl's
tests will; the user's browser is played by ``consent``/``follow``.
"""

from __future__ import annotations

import http.server
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
import yaml
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client

from oauth_support import (SECRET_ENV, TESTS_DIR, AuthorizationRefused, ProviderProcess, consent, follow,
                           overrides_yaml, start_provider)

SCOPE = "ads:read ads:write"
REDIRECT = "http://127.0.0.1:53682/callback"  # nothing listens: tests read the code from the Location


@pytest.fixture(scope="module")
def provider() -> Iterator[ProviderProcess]:
    """One server for the module (starting one takes ~0.5 s); tests use fresh grants, never shared tokens."""
    with start_provider() as running:
        yield running


def oauth_client(provider: ProviderProcess, *, scope: str = SCOPE, redirect_uri: str = REDIRECT,
                 **kwargs: object) -> OAuth2Client:
    return OAuth2Client(provider.client_id, provider.client_secret, scope=scope, redirect_uri=redirect_uri,
                        code_challenge_method="S256", timeout=10, **kwargs)


def query(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def authorize(provider: ProviderProcess, client: OAuth2Client, **consent_kwargs: object) -> tuple[str, str, str]:
    """Authorize → consent; returns (code, verifier, location)."""
    verifier = secrets.token_urlsafe(48)
    url, state = client.create_authorization_url(f"{provider.url}/oauth/authorize", code_verifier=verifier)
    location = consent(url, **consent_kwargs)
    params = query(location)
    assert params.get("state") == state, location
    assert "code" in params, location
    return params["code"], verifier, location


def login(provider: ProviderProcess, **kwargs: object) -> tuple[OAuth2Client, dict]:
    client = oauth_client(provider, **kwargs)
    code, verifier, _ = authorize(provider, client)
    token = client.fetch_token(f"{provider.url}/oauth/token", code=code, code_verifier=verifier)
    return client, dict(token)


def me(provider: ProviderProcess, access_token: str, path: str = "/v1/me") -> httpx2.Response:
    return httpx2.get(f"{provider.url}{path}", headers={"Authorization": f"Bearer {access_token}"}, timeout=10)


def refresh(provider: ProviderProcess, refresh_token: str) -> httpx2.Response:
    return httpx2.post(f"{provider.url}/oauth/token", timeout=10, auth=(provider.client_id, provider.client_secret),
                       data={"grant_type": "refresh_token", "refresh_token": refresh_token})


class _Callback(http.server.BaseHTTPRequestHandler):
    """The CLI's loopback listener: records the redirect's query and tells the browser it is done."""

    received: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        type(self).received.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"done, you can close this tab")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_happy_path_code_pkce_token_and_me(provider: ProviderProcess) -> None:
    listener = http.server.HTTPServer(("127.0.0.1", 0), _Callback)
    threading.Thread(target=listener.handle_request, daemon=True).start()
    try:
        client = oauth_client(provider, redirect_uri=f"http://127.0.0.1:{listener.server_port}/callback")
        verifier = secrets.token_urlsafe(48)
        url, state = client.create_authorization_url(f"{provider.url}/oauth/authorize", code_verifier=verifier)
        page = httpx2.get(url, timeout=10)
        assert page.status_code == 200 and "ads:write" in page.text  # the consent page lists the scopes
        location = consent(url)
        assert follow(location).text == "done, you can close this tab"
    finally:
        listener.server_close()
    callback = f"http://127.0.0.1:{listener.server_port}{_Callback.received[-1]}"
    token = client.fetch_token(f"{provider.url}/oauth/token", authorization_response=callback,
                               code_verifier=verifier, state=state)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600 and token["scope"] == SCOPE
    assert token["refresh_token"] and token["access_token"]

    answer = client.get(f"{provider.url}/v1/me")  # authlib signs with the Bearer header
    assert answer.status_code == 200
    assert answer.json()["scopes"] == ["ads:read", "ads:write"] and answer.json()["me"]["id"]
    access = token["access_token"]
    tiktok = httpx2.get(f"{provider.url}/api/open_api/v1.3/user/info/", headers={"Access-Token": access})
    assert tiktok.status_code == 200 and tiktok.json()["scopes"] == ["ads:read", "ads:write"]
    facebook = httpx2.get(f"{provider.url}/me", params={"access_token": access})
    assert facebook.status_code == 200 and facebook.json()["id"]
    debug = httpx2.get(f"{provider.url}/debug_token", params={"input_token": access, "access_token": access})
    data = debug.json()["data"]
    assert data["is_valid"] is True and data["scopes"] == ["ads:read", "ads:write"]
    assert data["expires_at"] > time.time() + 3000
    assert me(provider, access, "/v5/user_account").json()["account_type"] == "BUSINESS"


def test_confidential_client_may_use_client_secret_post(provider: ProviderProcess) -> None:
    _, token = login(provider, token_endpoint_auth_method="client_secret_post")
    assert me(provider, token["access_token"]).status_code == 200


def test_wrong_code_verifier_is_refused(provider: ProviderProcess) -> None:
    client = oauth_client(provider)
    code, _, _ = authorize(provider, client)
    with pytest.raises(OAuthError) as refused:
        client.fetch_token(f"{provider.url}/oauth/token", code=code, code_verifier=secrets.token_urlsafe(48))
    assert refused.value.error == "invalid_grant"


def test_token_request_without_verifier_is_refused(provider: ProviderProcess) -> None:
    client = oauth_client(provider)
    code, _, _ = authorize(provider, client)
    with pytest.raises(OAuthError) as refused:
        client.fetch_token(f"{provider.url}/oauth/token", code=code)
    assert refused.value.error == "invalid_request"


@pytest.mark.parametrize("pkce", [{}, {"code_challenge_method": "S256"},
                                  {"code_challenge": "x" * 43, "code_challenge_method": "plain"},
                                  {"code_challenge": "x" * 43}])
def test_authorize_without_s256_challenge_is_refused(provider: ProviderProcess, pkce: dict) -> None:
    client = oauth_client(provider)
    url, state = client.create_authorization_url(f"{provider.url}/oauth/authorize", **pkce)
    params = query(consent(url))  # a valid redirect URI: the error goes back to the client
    assert params["error"] == "invalid_request" and params["state"] == state and "code" not in params


@pytest.mark.parametrize("redirect_uri", [
    "http://evil.example:53682/callback", "http://127.0.0.1:53682/other", "https://127.0.0.1:53682/callback",
    "http://localhost:53682/callback", "http://127.0.0.1:53682/callback?x=1", "http://127.0.0.1/callback",
    "http://user@127.0.0.1:53682/callback", "http://127.0.0.1:53682/callback/",
])
def test_foreign_redirect_uri_is_refused_not_redirected(provider: ProviderProcess, redirect_uri: str) -> None:
    client = oauth_client(provider, redirect_uri=redirect_uri)
    url, _ = client.create_authorization_url(f"{provider.url}/oauth/authorize",
                                             code_verifier=secrets.token_urlsafe(48))
    answer = httpx2.get(url, timeout=10)
    assert answer.status_code == 400 and "location" not in answer.headers
    assert "text/html" in answer.headers["content-type"] and "invalid_request" in answer.text
    with pytest.raises(AuthorizationRefused):
        consent(url)


def test_unknown_client_is_refused_not_redirected(provider: ProviderProcess) -> None:
    client = OAuth2Client("someone-else", "x", scope=SCOPE, redirect_uri=REDIRECT, code_challenge_method="S256")
    url, _ = client.create_authorization_url(f"{provider.url}/oauth/authorize", code_verifier="v" * 43)
    with pytest.raises(AuthorizationRefused) as refused:
        consent(url)
    assert refused.value.status_code == 400 and "invalid_client" in refused.value.text


def test_consent_denied_redirects_access_denied(provider: ProviderProcess) -> None:
    client = oauth_client(provider)
    url, state = client.create_authorization_url(f"{provider.url}/oauth/authorize",
                                                 code_verifier=secrets.token_urlsafe(48))
    params = query(consent(url, approve=False))
    assert params["error"] == "access_denied" and params["state"] == state and "code" not in params


def test_code_is_single_use_and_a_replay_revokes_its_tokens(provider: ProviderProcess) -> None:
    client = oauth_client(provider)
    code, verifier, _ = authorize(provider, client)
    token = client.fetch_token(f"{provider.url}/oauth/token", code=code, code_verifier=verifier)
    with pytest.raises(OAuthError) as refused:
        client.fetch_token(f"{provider.url}/oauth/token", code=code, code_verifier=verifier)
    assert refused.value.error == "invalid_grant"
    assert me(provider, token["access_token"]).json()["error_description"] == "revoked"  # RFC 6749 §4.1.2


def test_refresh_rotates_and_the_old_refresh_token_is_refused(provider: ProviderProcess) -> None:
    client, first = login(provider)
    second = client.refresh_token(f"{provider.url}/oauth/token", refresh_token=first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert second["scope"] == SCOPE and second["expires_in"] == 3600
    assert me(provider, second["access_token"]).status_code == 200
    again = refresh(provider, first["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert refresh(provider, second["refresh_token"]).status_code == 200


def test_expired_access_token_is_401_expired_and_refresh_still_works(provider: ProviderProcess) -> None:
    _, token = login(provider)
    assert provider.expire_access_tokens()["expired"] >= 1
    answer = me(provider, token["access_token"])
    assert answer.status_code == 401 and answer.json() == {"error": "invalid_token", "error_description": "expired"}
    assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    debug = httpx2.get(f"{provider.url}/debug_token", params={
        "input_token": token["access_token"], "access_token": f"{provider.client_id}|{provider.client_secret}"})
    assert debug.status_code == 200 and debug.json()["data"]["is_valid"] is False
    renewed = refresh(provider, token["refresh_token"])
    assert renewed.status_code == 200 and me(provider, renewed.json()["access_token"]).status_code == 200


def test_revoked_refresh_token_is_refused_and_me_says_revoked(provider: ProviderProcess) -> None:
    _, token = login(provider)
    assert provider.revoke(refresh_token=token["refresh_token"])["revoked"] == 1
    answer = refresh(provider, token["refresh_token"])
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert me(provider, token["access_token"]).json()["error_description"] == "revoked"


def test_unknown_or_missing_token_is_401(provider: ProviderProcess) -> None:
    assert me(provider, "not-a-token").json()["error_description"] == "unknown"
    assert httpx2.get(f"{provider.url}/v1/me").json()["error_description"] == "missing"


def test_grant_scope_subset_is_what_the_token_carries(provider: ProviderProcess) -> None:
    client = oauth_client(provider)
    code, verifier, _ = authorize(provider, client, grant_scope="ads:read")
    token = client.fetch_token(f"{provider.url}/oauth/token", code=code, code_verifier=verifier)
    assert token["scope"] == "ads:read"
    assert me(provider, token["access_token"]).json()["scopes"] == ["ads:read"]
    renewed = refresh(provider, token["refresh_token"]).json()
    assert renewed["scope"] == "ads:read"


def test_grant_scope_cannot_widen(provider: ProviderProcess) -> None:
    client = oauth_client(provider)
    url, _ = client.create_authorization_url(f"{provider.url}/oauth/authorize",
                                             code_verifier=secrets.token_urlsafe(48))
    with pytest.raises(AuthorizationRefused) as refused:
        consent(url, grant_scope="ads:read admin")
    assert "invalid_scope" in refused.value.text


def test_revocation_endpoint(provider: ProviderProcess) -> None:
    client, token = login(provider)
    answer = client.revoke_token(f"{provider.url}/oauth/revoke", token=token["access_token"],
                                 token_type_hint="access_token")
    assert answer.status_code == 200
    assert me(provider, token["access_token"]).json()["error_description"] == "revoked"
    assert refresh(provider, token["refresh_token"]).status_code == 200  # only the access token went

    client, token = login(provider)
    assert client.revoke_token(f"{provider.url}/oauth/revoke", token=token["refresh_token"]).status_code == 200
    assert refresh(provider, token["refresh_token"]).json()["error"] == "invalid_grant"
    assert me(provider, token["access_token"]).status_code == 401  # the grant's access tokens go too
    assert client.revoke_token(f"{provider.url}/oauth/revoke", token="never-issued").status_code == 200

    wrong = httpx2.post(f"{provider.url}/oauth/revoke", data={"token": token["access_token"]},
                        auth=(provider.client_id, "wrong-secret"), timeout=10)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_client_authentication_is_required(provider: ProviderProcess) -> None:
    client = oauth_client(provider)
    code, verifier, _ = authorize(provider, client)
    answer = httpx2.post(f"{provider.url}/oauth/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
        "redirect_uri": REDIRECT, "client_id": provider.client_id})
    assert answer.status_code in (400, 401) and answer.json()["error"] == "invalid_client"


def test_stats_count_requests_and_live_tokens(provider: ProviderProcess) -> None:
    before = provider.stats()
    _, token = login(provider)
    me(provider, token["access_token"])
    after = provider.stats()
    assert after["token"] == before["token"] + 1 and after["me"] == before["me"] + 1
    assert after["authorize"] == before["authorize"] + 2  # the GET (form) and the POST (consent)
    assert after["total"] == before["total"] + 4 and after["live_tokens"] >= 1


def test_public_client_and_auto_consent() -> None:
    with start_provider(auto_consent=True, public_client=True) as running:
        client = OAuth2Client(running.client_id, scope=SCOPE, redirect_uri=REDIRECT, code_challenge_method="S256",
                              token_endpoint_auth_method="none", timeout=10)
        verifier = secrets.token_urlsafe(48)
        url, _ = client.create_authorization_url(f"{running.url}/oauth/authorize", code_verifier=verifier)
        answer = httpx2.get(url, timeout=10)  # auto-consent: no form, straight back to the client
        assert answer.status_code == 302
        token = client.fetch_token(f"{running.url}/oauth/token", authorization_response=answer.headers["location"],
                                   code_verifier=verifier)
        assert me(running, token["access_token"]).status_code == 200
        running.reset()
        assert running.stats()["live_tokens"] == 0 and me(running, token["access_token"]).status_code == 401


def test_latency_is_honoured() -> None:
    with start_provider(latency_ms=150, access_token_seconds=60) as running:
        started = time.monotonic()
        assert me(running, "x").status_code == 401
        assert time.monotonic() - started >= 0.15


def test_secret_and_tokens_never_reach_the_logs_and_sigterm_exits_0(tmp_path: Path) -> None:
    with start_provider(tmp_path) as running:
        client, token = login(running)
        httpx2.get(f"{running.url}/me", params={"access_token": token["access_token"]})
        renewed = refresh(running, token["refresh_token"]).json()
        client.revoke_token(f"{running.url}/oauth/revoke", token=renewed["refresh_token"])
        httpx2.get(f"{running.url}/oauth/authorize?redirect_uri=http://evil.example/&client_id={running.client_id}")
        assert running.stop() == 0
        logs = running.logs()
    assert logs.strip().startswith("oauth test provider: listening on http://127.0.0.1:")
    for secret in (running.client_secret, token["access_token"], token["refresh_token"], renewed["access_token"]):
        assert secret not in logs


def test_runner_refuses_a_non_loopback_host_and_a_missing_secret() -> None:
    env = {**os.environ, "PYTHONPATH": str(TESTS_DIR), SECRET_ENV: "s"}
    command = [sys.executable, "-m", "oauth_provider"]
    wide = subprocess.run([*command, "--host", "0.0.0.0"], env=env, capture_output=True, text=True, timeout=30)
    assert wide.returncode == 2 and "--allow-any-host" in wide.stderr
    env.pop(SECRET_ENV)
    unset = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    assert unset.returncode == 2 and SECRET_ENV in unset.stderr


def test_overrides_yaml_is_authctl_settings() -> None:
    from reconciler.workspace import Settings

    text = overrides_yaml(["pinterest", "snapchat"], "http://127.0.0.1:5000/")
    document = yaml.safe_load(text)
    assert document["provider_overrides"]["pinterest"]["token_url"] == "http://127.0.0.1:5000/oauth/token"
    assert document["oauth_clients"]["snapchat"] == {"client_id": "authctl-test",
                                                     "client_secret": {"env": SECRET_ENV}}
    Settings.model_validate(document)
