"""The browser step of ``authctl login`` / ``reauth``: authlib's clients, a loopback redirect, a TokenSet.

OAuth 2 (:class:`OAuth2Login`): the authorization-code flow with PKCE S256 (RFC 7636,
RFC 9700) through ``authlib.integrations.httpx_client.OAuth2Client``. Each login makes a
random ``state`` (``secrets.token_urlsafe(32)``) and code verifier
(``authlib.common.security.generate_token(48)``), used once: the loopback listener accepts
one callback carrying that ``state``, and the code is exchanged once with that verifier.
Scopes come from the catalog, joined with the method's separator, plus its extra
authorization parameters (``access_type=offline``...).

OAuth 1.0a (:class:`OAuth1Login`, X): ``OAuth1Client`` fetches a request token with the
loopback callback, the person authorizes, and the verifier buys the access token
(``oauth_token`` / ``oauth_token_secret``). OAuth 1.0a has no ``state``: the callback URI
carries authctl's own (RFC 5849 section 2.2 keeps a callback's query), and the returned
``oauth_token`` must be the request token.

How the person reaches the provider (:class:`FlowMode`): ``browser`` opens it
(``webbrowser``) and prints the URL too; ``no-browser`` prints it and waits on the
loopback; ``manual`` prints it and reads the final redirect address pasted on stdin (a
browser on another machine: its page fails to load, the address bar holds the answer),
checked exactly like a callback.

Every failure is an :class:`OAuthError` that says nothing was stored and never holds a
token: denied consent, a mismatched ``state``, a refused code (``invalid_grant``, e.g. a
wrong PKCE verifier), an unreachable endpoint. Plain http is refused except to this
machine (authlib's own rule, without ``AUTHLIB_INSECURE_TRANSPORT``).
"""

from __future__ import annotations

import secrets
import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx2
from authlib.common.security import generate_token, is_secure_transport
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.httpx_client import OAuth1Client, OAuth2Client

from reconciler.catalog import MethodKind
from reconciler.errors import OAuthError
from reconciler.oauth.clients import OAuthApp
from reconciler.oauth.endpoints import OAuthEndpoints
from reconciler.oauth.loopback import (
    CALLBACK_PATH,
    DEFAULT_TIMEOUT,
    HOST,
    LoopbackListener,
    free_loopback_port,
    query_params,
    state_matches,
)
from reconciler.oauth.tokens import OAUTH1_TOKEN, OAUTH1_TOKEN_SECRET, TokenSet, from_oauth2_response

NOTHING_STORED = "nothing was stored"
HTTP_TIMEOUT = 30.0  # seconds for one call to a token endpoint
_DESCRIPTION_LIMIT = 200  # of an error description a server sent (shown, escaped, in one line)


class FlowMode(StrEnum):
    """How the person reaches the authorization page and how its answer comes back."""

    BROWSER = "browser"
    NO_BROWSER = "no-browser"
    MANUAL = "manual"


@dataclass(frozen=True)
class FlowOptions:
    mode: FlowMode = FlowMode.BROWSER
    timeout: float = DEFAULT_TIMEOUT  # seconds to wait for the person
    http_timeout: float = HTTP_TIMEOUT


class FlowPrompt(Protocol):
    """What the flow needs from the terminal (the CLI gives it; tests script it)."""

    def show_authorization_url(self, url: str, mode: FlowMode) -> None:
        """Tell the person where to go (stderr: the URL is for a person, never a token)."""
        ...

    def read_redirect(self) -> str:
        """``--manual``: the address the browser was redirected to, as pasted (one line)."""
        ...


def _described(error: str | None, description: str | None) -> str:
    text = error or "error"
    if description:
        short = " ".join(str(description).split())[:_DESCRIPTION_LIMIT]
        text += f": {short}"
    return text


def _check_transport(url: str, what: str) -> None:
    if not is_secure_transport(url):
        raise OAuthError(f"the {what} {_without_query(url)} is not https; authctl sends OAuth requests over "
                         "plain http only to this machine; " + NOTHING_STORED)


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _redirect_params(pasted: str, redirect_uri: str) -> dict[str, str]:
    """The query of a pasted redirect address, if it is this login's redirect URI (scheme, host, port, path)."""
    text = pasted.strip()
    try:
        got, want = urlsplit(text), urlsplit(redirect_uri)
        same = (got.scheme, got.hostname, got.port, got.path) == (want.scheme, want.hostname, want.port, want.path)
    except ValueError:
        same = False
    if not text or not same:
        raise OAuthError(f"that is not the address this login redirects to ({redirect_uri}?...): paste the "
                         "whole address the browser ended on; " + NOTHING_STORED)
    return query_params(got.query)


class _Login:
    """One login's single-use secrets and how its callback comes back; subclasses speak OAuth 2 or 1.0a."""

    def __init__(self, app: OAuthApp, endpoints: OAuthEndpoints, options: FlowOptions) -> None:
        self.app = app
        self.endpoints = endpoints
        self.options = options
        self.state = secrets.token_urlsafe(32)
        self._listener: LoopbackListener | None = None
        self._used = False

    # -- the redirect ----------------------------------------------------------------------------------
    def open_redirect(self) -> str:
        """Bind the loopback listener (or, for ``--manual``, pick the port) and return the redirect URI."""
        if self.options.mode is FlowMode.MANUAL:
            return f"http://{HOST}:{free_loopback_port()}{CALLBACK_PATH}"
        self._listener = LoopbackListener(self.state)
        return self._listener.redirect_uri

    def await_callback(self, redirect_uri: str, prompt: FlowPrompt) -> dict[str, str]:
        """The callback's parameters, its ``state`` already checked."""
        if self._listener is not None:
            return self._listener.wait(self.options.timeout).params
        params = _redirect_params(_read_with_timeout(prompt.read_redirect, self.options.timeout), redirect_uri)
        if not state_matches(self.state, params.get("state")):
            raise OAuthError("the pasted address carries another state than this login's (an old or foreign "
                             "redirect); " + NOTHING_STORED)
        return params

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()

    def _spend(self) -> None:
        if self._used:
            raise OAuthError("this login's state and verifier were already used; start a new login")
        self._used = True

    def _client_secret(self) -> str | None:
        return self.app.client_secret.reveal() if self.app.client_secret is not None else None


def _read_with_timeout(read: Callable[[], str], timeout: float) -> str:
    """``read()`` on a helper thread (stdin cannot be read with a timeout), given up after ``timeout``."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["line"] = read()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc

    reader = threading.Thread(target=run, name="oauth-manual-redirect", daemon=True)
    reader.start()
    reader.join(timeout)
    if "error" in box:
        raise box["error"]
    if "line" not in box:
        raise OAuthError(f"no redirect address was pasted within {timeout:g} s; " + NOTHING_STORED,
                         hint="run the command again (use --timeout SECONDS to wait longer)")
    return str(box["line"])


class OAuth2Login(_Login):
    """The authorization-code flow with PKCE; ``code_verifier`` is this login's (single use)."""

    def __init__(self, app: OAuthApp, endpoints: OAuthEndpoints, options: FlowOptions,
                 transport: httpx2.BaseTransport | None = None) -> None:
        super().__init__(app, endpoints, options)
        self.code_verifier = generate_token(48)
        self._transport = transport
        self._client: OAuth2Client | None = None

    def _oauth_client(self, redirect_uri: str) -> OAuth2Client:
        scope = self.endpoints.scope_separator.join(self.endpoints.scopes) or None
        extra: dict[str, Any] = {"timeout": self.options.http_timeout}
        if self._transport is not None:
            extra["transport"] = self._transport
        return OAuth2Client(client_id=self.app.client_id, client_secret=self._client_secret(), scope=scope,
                            redirect_uri=redirect_uri,
                            code_challenge_method="S256" if self.endpoints.pkce else None, **extra)

    def authorization_url(self, redirect_uri: str) -> str:
        """The URL the person opens: client id, scopes, redirect URI, ``state`` and the S256 challenge."""
        _check_transport(self.endpoints.authorization_url, "authorization endpoint")
        _check_transport(self.endpoints.token_url, "token endpoint")
        self._client = self._oauth_client(redirect_uri)
        url, _ = self._client.create_authorization_url(
            self.endpoints.authorization_url, state=self.state,
            code_verifier=self.code_verifier if self.endpoints.pkce else None, **self.endpoints.extra_params)
        return str(url)

    def complete(self, params: dict[str, str]) -> TokenSet:
        """Exchange the callback's code (its ``state`` re-checked) for tokens, once."""
        if self._client is None:
            raise OAuthError("the login was not started (no authorization URL was made)")
        if not state_matches(self.state, params.get("state")):
            raise OAuthError("the redirect carries another state than this login's; " + NOTHING_STORED)
        provider = self.endpoints.provider
        error = params.get("error")
        if error == "access_denied":
            raise OAuthError(f"consent denied at {provider} (access_denied): no authorization was granted; "
                             + NOTHING_STORED)
        if error:
            raise OAuthError(f"{provider}'s authorization server refused the login "
                             f"({_described(error, params.get('error_description'))}); " + NOTHING_STORED)
        code = params.get("code")
        if not code:
            raise OAuthError(f"the redirect from {provider} carries no authorization code; " + NOTHING_STORED)
        self._spend()
        token_url = self.endpoints.token_url
        where = _without_query(token_url)
        try:
            token = self._client.fetch_token(
                token_url, code=code, code_verifier=self.code_verifier if self.endpoints.pkce else None)
        except AuthlibBaseError as exc:
            raise OAuthError(f"the token endpoint {where} refused the authorization code "
                             f"({_described(exc.error, exc.description)}); " + NOTHING_STORED) from None
        except httpx2.HTTPStatusError as exc:
            raise OAuthError(f"the token endpoint {where} answered HTTP {exc.response.status_code}; "
                             + NOTHING_STORED) from None
        except httpx2.HTTPError as exc:
            raise OAuthError(f"the token endpoint {where} could not be reached ({type(exc).__name__}); "
                             + NOTHING_STORED) from None
        except ValueError:
            raise OAuthError(f"the token endpoint {where} answered something that is not a token response; "
                             + NOTHING_STORED) from None
        finally:
            self._client.close()
        return from_oauth2_response(token, requested=self.endpoints.scopes, separator=self.endpoints.scope_separator)


class OAuth1Login(_Login):
    """OAuth 1.0a: request token (with the loopback callback), authorize, access token with the verifier."""

    def __init__(self, app: OAuthApp, endpoints: OAuthEndpoints, options: FlowOptions,
                 transport: httpx2.BaseTransport | None = None) -> None:
        super().__init__(app, endpoints, options)
        self._transport = transport
        self._client: OAuth1Client | None = None
        self._request_token: str | None = None

    def _call(self, url: str, what: str, func: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        where = _without_query(url)
        try:
            return func()
        except AuthlibBaseError as exc:  # authlib puts the response body in the description: not shown
            raise OAuthError(f"the {what} {where} refused the request ({exc.error}); " + NOTHING_STORED) from None
        except httpx2.HTTPError as exc:
            raise OAuthError(f"the {what} {where} could not be reached ({type(exc).__name__}); "
                             + NOTHING_STORED) from None
        except ValueError:
            raise OAuthError(f"the {what} {where} answered something that is not a token response; "
                             + NOTHING_STORED) from None

    def authorization_url(self, redirect_uri: str) -> str:
        request_token_url = self.endpoints.request_token_url
        if not request_token_url:
            raise OAuthError(f"{self.endpoints.provider} has no request token URL (OAuth 1.0a): add "
                             f"provider_overrides.{self.endpoints.provider}.request_token_url to authctl.yaml")
        for url, what in ((request_token_url, "request token endpoint"),
                          (self.endpoints.authorization_url, "authorization endpoint"),
                          (self.endpoints.token_url, "access token endpoint")):
            _check_transport(url, what)
        callback = f"{redirect_uri}?{urlencode({'state': self.state})}"
        extra: dict[str, Any] = {"timeout": self.options.http_timeout}
        if self._transport is not None:
            extra["transport"] = self._transport
        self._client = OAuth1Client(self.app.client_id, client_secret=self._client_secret(), redirect_uri=callback,
                                    **extra)
        client = self._client
        token = self._call(request_token_url, "request token endpoint",
                           lambda: client.fetch_request_token(request_token_url))
        self._request_token = str(token.get(OAUTH1_TOKEN) or "")
        if not self._request_token:
            raise OAuthError(f"the request token endpoint {_without_query(request_token_url)} answered without an "
                             "oauth_token; " + NOTHING_STORED)
        return str(client.create_authorization_url(self.endpoints.authorization_url, self._request_token))

    def complete(self, params: dict[str, str]) -> TokenSet:
        if self._client is None or self._request_token is None:
            raise OAuthError("the login was not started (no request token)")
        if not state_matches(self.state, params.get("state")):
            raise OAuthError("the redirect carries another state than this login's; " + NOTHING_STORED)
        provider = self.endpoints.provider
        if "denied" in params or params.get("error") == "access_denied":
            raise OAuthError(f"consent denied at {provider}: no authorization was granted; " + NOTHING_STORED)
        if not state_matches(self._request_token, params.get(OAUTH1_TOKEN)):
            raise OAuthError(f"the redirect from {provider} names another request token than this login's; "
                             + NOTHING_STORED)
        verifier = params.get("oauth_verifier")
        if not verifier:
            raise OAuthError(f"the redirect from {provider} carries no oauth_verifier; " + NOTHING_STORED)
        self._spend()
        client = self._client
        token_url = self.endpoints.token_url
        try:
            token = self._call(token_url, "access token endpoint",
                               lambda: client.fetch_access_token(token_url, verifier=verifier))
        finally:
            client.close()
        access, secret = token.get(OAUTH1_TOKEN), token.get(OAUTH1_TOKEN_SECRET)
        if not access or not secret:
            raise OAuthError(f"the access token endpoint {_without_query(token_url)} answered without "
                             "oauth_token and oauth_token_secret; " + NOTHING_STORED)
        return TokenSet({OAUTH1_TOKEN: str(access), OAUTH1_TOKEN_SECRET: str(secret)}, None, ())


Login = OAuth2Login | OAuth1Login


def new_login(kind: MethodKind, app: OAuthApp, endpoints: OAuthEndpoints, options: FlowOptions,
              transport: httpx2.BaseTransport | None = None) -> Login:
    """The login for a method's kind (oauth2 or oauth1)."""
    if kind is MethodKind.OAUTH1:
        return OAuth1Login(app, endpoints, options, transport)
    if kind is MethodKind.OAUTH2:
        return OAuth2Login(app, endpoints, options, transport)
    raise OAuthError(f"method kind {kind.value} is not OAuth: its credentials come from the manifest")


def run_login(login: Login, prompt: FlowPrompt, *,
              open_browser: Callable[[str], bool] = webbrowser.open) -> TokenSet:
    """The whole browser step: redirect, authorization URL, the person, the callback, the tokens."""
    try:
        redirect_uri = login.open_redirect()
        url = login.authorization_url(redirect_uri)
        mode = login.options.mode
        prompt.show_authorization_url(url, mode)
        if mode is FlowMode.BROWSER:
            try:
                open_browser(url)
            except Exception:  # noqa: BLE001 - no browser is not an error: the URL is printed
                pass
        params = login.await_callback(redirect_uri, prompt)
        return login.complete(params)
    finally:
        login.close()


__all__ = ["FlowMode", "FlowOptions", "FlowPrompt", "Login", "NOTHING_STORED", "OAuth1Login", "OAuth2Login",
           "new_login", "run_login"]
