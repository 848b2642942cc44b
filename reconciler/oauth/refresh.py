"""The refresh_token grant (RFC 6749 section 6) on authlib: new tokens, or why there are none.

authlib sends the grant (client authentication from the ``oauth_clients`` app) and calls
its ``update_token`` hook with the new token; the hook turns it into a :class:`TokenSet`
that keeps the old refresh token when the provider did not rotate it, and the grant's
scopes when the answer does not restate them. Storing it is the caller's job, in one
transaction (the platform's ``reauthorize``): the new refresh token is written before the
old one is forgotten, which matters for providers that rotate (Pinterest), where the old
one stops working the moment the new one is issued.

A refusal is told apart from an outage: ``invalid_grant`` means the refresh token is
revoked or expired (the authorization needs a person: ``authctl reauth``); the OAuth
app refused (``invalid_client``) is a settings problem; a connection error, timeout or
5xx is the provider being unreachable. Messages never quote the provider's text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import httpx2

from reconciler.oauth.classify import UNREACHABLE
from reconciler.oauth.clients import OAuthApp
from reconciler.oauth.endpoints import OAuthEndpoints
from reconciler.oauth.session_client import AuthlibOAuthError, oauth2_client
from reconciler.oauth.tokens import TokenSet, from_oauth2_response

REFRESH_REFUSED = "refresh token revoked or expired"
REFRESH_MARGIN_SECONDS = 300  # an access token expiring within this is refreshed before a check
_ERROR_WORD = re.compile(r"^[a-z_]{1,40}$")


@dataclass(frozen=True)
class Refreshed:
    """The outcome of one refresh: ``tokens`` on success, else ``reason`` (``refused``: the grant is gone)."""

    tokens: TokenSet | None
    reason: str = ""
    refused: bool = False  # invalid_grant: the refresh token is revoked or expired
    requests: int = 1

    @property
    def ok(self) -> bool:
        return self.tokens is not None

    def rotated(self, previous: TokenSet) -> bool:
        return self.tokens is not None and self.tokens.refresh_token != previous.refresh_token


def needs_refresh(tokens: TokenSet, now: datetime, margin: float = REFRESH_MARGIN_SECONDS) -> bool:
    """An access token that has expired, or expires within ``margin`` seconds."""
    return tokens.expires_within(margin, now)


def transport_failure(exc: httpx2.HTTPError) -> str:
    """``provider unreachable (why)``: never the URL, which may carry a token."""
    if isinstance(exc, httpx2.TimeoutException):
        return f"{UNREACHABLE} (timed out)"
    if isinstance(exc, httpx2.ConnectError):
        return f"{UNREACHABLE} (cannot connect)"
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"{UNREACHABLE} (HTTP {exc.response.status_code})"
    return f"{UNREACHABLE} ({type(exc).__name__})"


def _oauth_refusal(exc: AuthlibOAuthError) -> Refreshed:
    error = exc.error if isinstance(exc.error, str) and _ERROR_WORD.match(exc.error) else "an error"
    if error == "invalid_grant":
        return Refreshed(None, REFRESH_REFUSED, refused=True)
    if error in ("invalid_client", "unauthorized_client"):
        return Refreshed(None, f"the provider refused the OAuth app ({error}): check oauth_clients in authctl.yaml")
    return Refreshed(None, f"the provider refused the refresh ({error})")


def refresh_grant(client: httpx2.Client, endpoints: OAuthEndpoints, app: OAuthApp, tokens: TokenSet) -> Refreshed:
    """Exchange ``tokens.refresh_token`` at the token endpoint; never raises for the provider's answers."""
    if not tokens.refresh_token:
        return Refreshed(None, "no refresh token", requests=0)
    captured: list[TokenSet] = []

    def update_token(token: dict[str, object], refresh_token: str | None = None, **_: object) -> None:
        captured.append(from_oauth2_response(token, requested=tokens.scopes, separator=endpoints.scope_separator,
                                             previous_refresh_token=refresh_token))

    oauth = oauth2_client(client, app, token={"refresh_token": tokens.refresh_token}, update_token=update_token)
    try:
        oauth.refresh_token(endpoints.token_url, refresh_token=tokens.refresh_token)
    except AuthlibOAuthError as exc:
        return _oauth_refusal(exc)
    except httpx2.HTTPError as exc:
        return Refreshed(None, transport_failure(exc))
    except ValueError:  # an answer that is not a JSON object (a gateway's error page)
        return Refreshed(None, "the token endpoint's answer is not a token response")
    except Exception as exc:  # noqa: BLE001 - e.g. OAuthError from a response without an access_token
        return Refreshed(None, f"the token endpoint's answer is not usable ({type(exc).__name__})")
    if not captured:
        return Refreshed(None, "the token endpoint's answer is not a token response")
    return Refreshed(captured[-1])


__all__ = ["REFRESH_MARGIN_SECONDS", "REFRESH_REFUSED", "Refreshed", "needs_refresh", "refresh_grant",
           "transport_failure"]
