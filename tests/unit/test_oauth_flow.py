"""reconciler/oauth/flow.py driven directly against real authorization servers on 127.0.0.1.

OAuth 2: the test provider (authlib's Flask server, a subprocess: oauth_support). The flow
is taken step by step where the CLI cannot reach: a tampered PKCE verifier is refused by
the token endpoint (invalid_grant) and the error names the endpoint, never a token; a
redirect with another state is refused before any token request; a login's state and
verifier are single use; plain http to another host is refused.

OAuth 1.0a (X): authlib's own flask_oauth1 AuthorizationServer, served in a thread with
werkzeug (request token -> authorize -> access token with the verifier); the flow's callback
carries authctl's state, and a redirect naming another request token is refused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from authlib.common.security import generate_token
from authlib.integrations.flask_oauth1 import AuthorizationServer
from authlib.integrations.flask_oauth1.cache import register_nonce_hooks, register_temporary_credential_hooks
from authlib.oauth1 import ClientMixin, TemporaryCredential
from authlib.oauth1.errors import OAuth1Error
from flask import Flask, Response
from werkzeug.serving import make_server

from oauth_support import CANARY_SECRET, consent, follow, start_provider
from reconciler.catalog import MethodKind
from reconciler.errors import OAuthError
from reconciler.manifest.secrets import SecretValue
from reconciler.oauth.clients import OAuthApp
from reconciler.oauth.endpoints import OAuthEndpoints
from reconciler.oauth.flow import FlowMode, FlowOptions, OAuth1Login, OAuth2Login, new_login, run_login
from reconciler.oauth.loopback import query_params


def endpoints(base: str, *, provider: str = "pinterest", scopes: tuple[str, ...] = ("ads:read", "ads:write"),
              separator: str = ",", request_token_url: str | None = None) -> OAuthEndpoints:
    return OAuthEndpoints(provider=provider, authorization_url=f"{base}/oauth/authorize",
                          token_url=f"{base}/oauth/token", revocation_url=f"{base}/oauth/revoke",
                          request_token_url=request_token_url, scopes=scopes, scope_separator=separator, pkce=True,
                          extra_params={}, refresh_token_rotates=True, overridden=True)


class Browser:
    """A prompt that plays the person: consents in a thread as soon as the URL is shown."""

    def __init__(self, *, approve: bool = True) -> None:
        self.approve = approve
        self.urls: list[str] = []
        self.answers: list[int] = []
        self.thread: threading.Thread | None = None

    def show_authorization_url(self, url: str, mode: FlowMode) -> None:
        self.urls.append(url)

        def act() -> None:
            self.answers.append(follow(consent(url, approve=self.approve)).status_code)

        self.thread = threading.Thread(target=act)
        self.thread.start()

    def read_redirect(self) -> str:
        raise AssertionError("not --manual")


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    with start_provider(tmp_path_factory.mktemp("provider")) as running:
        yield running


APP = OAuthApp("pinterest", "authctl-test", SecretValue(CANARY_SECRET))
OPTIONS = FlowOptions(FlowMode.NO_BROWSER, timeout=20)


def started(provider) -> tuple[OAuth2Login, dict[str, str]]:  # type: ignore[no-untyped-def]
    """A login taken up to the redirect: the person consented; returns the login and the redirect's query."""
    login = OAuth2Login(APP, endpoints(provider.url), OPTIONS)
    redirect = login.open_redirect()
    login.close()  # the listener is not needed: the test reads the redirect itself
    url = login.authorization_url(redirect)
    assert "code_challenge_method=S256" in url and f"state={login.state}" in url and "ads%3Aread%2Cads%3Awrite" in url
    assert urlsplit(redirect).hostname == "127.0.0.1"
    return login, query_params(urlsplit(consent(url)).query)


def test_the_whole_flow_returns_the_grant(provider) -> None:  # type: ignore[no-untyped-def]
    browser = Browser()
    tokens = run_login(new_login(MethodKind.OAUTH2, APP, endpoints(provider.url), OPTIONS), browser)
    assert browser.thread is not None
    browser.thread.join(10)
    assert browser.answers == [200]
    assert tokens.scopes == ("ads:read", "ads:write") and tokens.expires_at is not None
    assert set(tokens.credentials) == {"access_token", "refresh_token", "token_type"}
    assert tokens.access_token not in repr(tokens)


def test_a_tampered_pkce_verifier_is_refused_by_the_token_endpoint(provider) -> None:  # type: ignore[no-untyped-def]
    before = provider.stats()["token"]
    login, params = started(provider)
    login.code_verifier = generate_token(48)  # not the one the challenge was made from
    with pytest.raises(OAuthError) as refused:
        login.complete(params)
    message = refused.value.message
    assert f"the token endpoint {provider.url}/oauth/token refused the authorization code (invalid_grant" in message
    assert message.endswith("nothing was stored")
    assert params["code"] not in message and CANARY_SECRET not in message
    assert provider.stats()["token"] == before + 1
    with pytest.raises(OAuthError, match="already used"):  # state and verifier are single use
        login.complete(params)


def test_a_redirect_with_another_state_is_refused_before_any_token_request(provider) -> None:  # type: ignore[no-untyped-def]
    before = provider.stats()["token"]
    login, params = started(provider)
    with pytest.raises(OAuthError, match="another state than this login's; nothing was stored"):
        login.complete({**params, "state": "forged"})
    with pytest.raises(OAuthError, match="another state"):
        login.complete({k: v for k, v in params.items() if k != "state"})
    assert provider.stats()["token"] == before
    assert login.complete(params).access_token  # the real redirect still works, once
    with pytest.raises(OAuthError, match="already used"):
        login.complete(params)


def test_denied_consent_is_said_plainly(provider) -> None:  # type: ignore[no-untyped-def]
    browser = Browser(approve=False)
    with pytest.raises(OAuthError, match=r"consent denied at pinterest \(access_denied\).*nothing was stored"):
        run_login(new_login(MethodKind.OAUTH2, APP, endpoints(provider.url), OPTIONS), browser)


def test_plain_http_to_another_host_is_refused() -> None:
    login = OAuth2Login(APP, endpoints("http://oauth.example"), OPTIONS)
    with pytest.raises(OAuthError, match="is not https"):
        login.authorization_url("http://127.0.0.1:1/callback")
    login.close()


def test_an_unreachable_token_endpoint_is_one_clear_error() -> None:
    login = OAuth2Login(APP, endpoints("http://127.0.0.1:9"), OPTIONS)
    login.authorization_url("http://127.0.0.1:1/callback")
    with pytest.raises(OAuthError, match=r"could not be reached \(ConnectError\); nothing was stored"):
        login.complete({"state": login.state, "code": "abc"})


# -- OAuth 1.0a against authlib's flask_oauth1 server ------------------------------------------------------------------
X_CLIENT, X_SECRET = "x-client", "x-canary-secret-31f"


class _Cache:
    """The cache authlib's flask_oauth1 helpers expect (get/set/delete/has)."""

    def __init__(self) -> None:
        self.data: dict[str, object] = {}

    def get(self, key: str) -> object:
        return self.data.get(key)

    def set(self, key: str, value: object, timeout: int | None = None) -> None:
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def has(self, key: str) -> bool:
        return key in self.data


class _Client(ClientMixin):
    def get_default_redirect_uri(self) -> str:
        return "oob"

    def get_client_secret(self) -> str:
        return X_SECRET

    def get_rsa_public_key(self) -> None:
        return None


class _User:
    def get_user_id(self) -> int:
        return 1


def x_server_app(issued: list[dict[str, str]], decisions: dict[str, bool]) -> Flask:
    app = Flask("x_oauth1")
    cache = _Cache()
    server = AuthorizationServer(app, query_client=lambda client_id: _Client() if client_id == X_CLIENT else None)
    register_nonce_hooks(server, cache)
    register_temporary_credential_hooks(server, cache)

    def create_token_credential(token: dict[str, str], temporary: object) -> TemporaryCredential:
        issued.append(dict(token))
        return TemporaryCredential(token)

    server.register_hook("create_token_credential", create_token_credential)

    @app.post("/oauth/request_token")
    def initiate() -> Response:
        return server.create_temporary_credentials_response()

    @app.get("/oauth/authorize")
    def authorize() -> Response:
        try:
            server.check_authorization_request()
        except OAuth1Error as error:
            return Response(error.error, status=400)
        return server.create_authorization_response(grant_user=_User() if decisions.get("approve", True) else None)

    @app.post("/oauth/access_token")
    def token() -> Response:
        return server.create_token_response()

    return app


@pytest.fixture(scope="module")
def x_server() -> Iterator[tuple[str, list[dict[str, str]], dict[str, bool]]]:
    issued: list[dict[str, str]] = []
    decisions: dict[str, bool] = {}
    server = make_server("127.0.0.1", 0, x_server_app(issued, decisions), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", issued, decisions
    finally:
        server.shutdown()
        server.server_close()


X_APP = OAuthApp("x", X_CLIENT, SecretValue(X_SECRET))


def x_endpoints(base: str) -> OAuthEndpoints:
    found = endpoints(base, provider="x", scopes=(), separator=" ",
                      request_token_url=f"{base}/oauth/request_token")
    return OAuthEndpoints(**{**found.__dict__, "token_url": f"{base}/oauth/access_token", "pkce": False})


def test_oauth1_flow_returns_the_access_token_and_its_secret(x_server) -> None:  # type: ignore[no-untyped-def]
    base, issued, decisions = x_server
    decisions["approve"] = True
    browser = Browser()
    login = new_login(MethodKind.OAUTH1, X_APP, x_endpoints(base), OPTIONS)
    assert isinstance(login, OAuth1Login)
    tokens = run_login(login, browser)
    assert browser.thread is not None
    browser.thread.join(10)
    assert browser.answers == [200]
    assert tokens.credentials == {"oauth_token": issued[-1]["oauth_token"],
                                  "oauth_token_secret": issued[-1]["oauth_token_secret"]}
    assert tokens.expires_at is None and tokens.scopes == ()
    assert "oauth_token=" in browser.urls[0] and X_SECRET not in browser.urls[0]


def test_oauth1_denied_consent_is_said_plainly(x_server) -> None:  # type: ignore[no-untyped-def]
    base, _, decisions = x_server
    decisions["approve"] = False
    try:
        with pytest.raises(OAuthError, match="consent denied at x"):
            run_login(new_login(MethodKind.OAUTH1, X_APP, x_endpoints(base), OPTIONS), Browser())
    finally:
        decisions["approve"] = True


def test_oauth1_redirect_naming_another_request_token_is_refused(x_server) -> None:  # type: ignore[no-untyped-def]
    base, _, _ = x_server
    login = OAuth1Login(X_APP, x_endpoints(base), OPTIONS)
    redirect = login.open_redirect()
    login.close()  # the test reads the redirect itself
    url = login.authorization_url(redirect)
    params = query_params(urlsplit(consent(url)).query)
    assert params["state"] == login.state  # the callback URI's own query came back
    with pytest.raises(OAuthError, match="names another request token"):
        login.complete({**params, "oauth_token": "someone-elses"})
    assert login.complete(params).credentials["oauth_token"]
    login.close()
