"""The request of a method's health check, built from the catalog and the stored credential.

``health_check`` in ``providers/*.yaml`` names the URL (``{field}`` placeholders take the
method's config fields), the HTTP method and how the credential travels (``auth``):

- ``bearer``: ``Authorization: Bearer TOKEN``; ``header``: the named header holds the token
  (TikTok's ``Access-Token``);
- ``query``: the token as a query parameter, because the provider's check takes it there
  (Google's ``tokeninfo?access_token=``; Facebook's ``debug_token`` also wants it as
  ``input_token``, the token inspected);
- ``oauth1``: signed with the OAuth app's consumer key and the user's token (authlib);
- ``none``: the request as is.

``service_account`` checks (a signed token exchange: AWS SigV4, Google's JWT grant) are not
built here: :class:`Unchecked` says so, and the check reads as Unknown with that reason.
The token is read from the credentials and placed in the request only; nothing here
formats it into a message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx2

from reconciler.catalog import HealthCheckSpec, MethodKind, MethodSpec
from reconciler.oauth.clients import OAuthApp
from reconciler.oauth.endpoints import health_check_url
from reconciler.oauth.tokens import ACCESS_TOKEN, OAUTH1_TOKEN, OAUTH1_TOKEN_SECRET
from reconciler.workspace import Settings

_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+)\}")
# The credential a check sends, in order of preference, when the method has several secret fields.
_TOKEN_FIELDS = (ACCESS_TOKEN, "token", "api_key", "key")


@dataclass(frozen=True)
class CheckTarget:
    """One authorization as its check needs it: the method, its config and its (never shown) credentials."""

    auth_id: str
    provider: str
    method: MethodSpec
    config: Mapping[str, Any] = field(default_factory=dict, repr=False)
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    scopes: tuple[str, ...] = ()  # the grant as recorded on the authorization
    token_expires_at: datetime | None = None

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.method.name}"


@dataclass(frozen=True)
class Unchecked:
    """Why no check request can be made (the check then reads as Unknown with this reason)."""

    reason: str


def check_token(target: CheckTarget) -> str | None:
    """The credential the check sends: the access token, else the method's one secret field."""
    for name in _TOKEN_FIELDS:
        value = target.credentials.get(name)
        if value:
            return value
    secret_names = [name for name in target.method.secret_fields if target.credentials.get(name)]
    if len(secret_names) == 1:
        return target.credentials[secret_names[0]]
    return None


def _filled_url(url: str, config: Mapping[str, Any]) -> str | Unchecked:
    missing = [name for name in _PLACEHOLDER.findall(url) if config.get(name) in (None, "")]
    if missing:
        return Unchecked(f"the check needs the config field {', '.join(missing)}, which the platform does not hold")
    return _PLACEHOLDER.sub(lambda m: quote(str(config[m.group(1)]), safe=""), url)


def build_check_request(target: CheckTarget, settings: Settings, client: httpx2.Client,
                        app: OAuthApp | None) -> httpx2.Request | Unchecked:
    """The check's request for ``target`` (not sent), or why there is none."""
    check: HealthCheckSpec | None = target.method.health_check
    if check is None:
        return Unchecked(f"the catalog defines no health check for {target.label}")
    if check.auth == "service_account":
        return Unchecked(f"{target.label} is checked with a signed service-account token exchange, which authctl "
                         "does not perform yet")
    url = _filled_url(health_check_url(settings, target.provider, check), target.config)
    if isinstance(url, Unchecked):
        return url
    if check.auth == "oauth1" or target.method.kind is MethodKind.OAUTH1:
        return _oauth1_request(target, check, url, client, app)
    headers: dict[str, str] = {"Accept": "application/json"}
    params: dict[str, str] = {}
    if check.auth != "none":
        token = check_token(target)
        if token is None:
            return Unchecked(f"no credential to check: the authorization holds no access token for {target.label}")
        if check.auth == "bearer":
            headers["Authorization"] = f"Bearer {token}"
        elif check.auth == "header":
            headers[check.header or "Authorization"] = token
        elif check.auth == "query":
            params[ACCESS_TOKEN] = token
            if url.split("?", 1)[0].rstrip("/").endswith("/debug_token"):
                params["input_token"] = token
    return client.build_request(check.method, url, headers=headers, params=params or None)


def _oauth1_request(target: CheckTarget, check: HealthCheckSpec, url: str, client: httpx2.Client,
                    app: OAuthApp | None) -> httpx2.Request | Unchecked:
    """An OAuth 1.0a signed request (HMAC-SHA1 in the Authorization header), signed by authlib."""
    token, secret = target.credentials.get(OAUTH1_TOKEN), target.credentials.get(OAUTH1_TOKEN_SECRET)
    if not token or not secret:
        return Unchecked(f"no OAuth 1.0a token to check: the authorization holds no {OAUTH1_TOKEN} and "
                         f"{OAUTH1_TOKEN_SECRET}")
    if app is None or app.client_secret is None:
        return Unchecked(f"the check of {target.label} is signed with the OAuth app's consumer secret: add "
                         f"oauth_clients.{target.provider} to authctl.yaml")
    from authlib.integrations.httpx_client import OAuth1Auth

    auth = OAuth1Auth(app.client_id, app.client_secret.reveal(), token=token, token_secret=secret)
    request = client.build_request(check.method, url, headers={"Accept": "application/json"})
    return next(auth.auth_flow(request))


__all__ = ["CheckTarget", "Unchecked", "build_check_request", "check_token"]
