"""A grant's tokens as the platform stores them: credentials, never printable.

An OAuth 2 grant becomes the credentials ``access_token`` and (when given)
``refresh_token`` and ``token_type``; its expiry and granted scopes travel beside them as
plain facts (``token_expires_at``, ``scopes``), which the platform records on the
authorization for plans and health. OAuth 1.0a grants are ``oauth_token`` and
``oauth_token_secret``. ``TokenSet`` never shows a token in its repr.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ACCESS_TOKEN = "access_token"
REFRESH_TOKEN = "refresh_token"
TOKEN_TYPE = "token_type"
OAUTH1_TOKEN = "oauth_token"
OAUTH1_TOKEN_SECRET = "oauth_token_secret"


@dataclass(frozen=True)
class TokenSet:
    """The tokens of one grant, its expiry and the scopes the provider granted."""

    credentials: dict[str, str] = field(repr=False)
    expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()

    @property
    def access_token(self) -> str | None:
        return self.credentials.get(ACCESS_TOKEN) or self.credentials.get(OAUTH1_TOKEN)

    @property
    def refresh_token(self) -> str | None:
        return self.credentials.get(REFRESH_TOKEN)

    def expires_within(self, seconds: float, now: datetime | None = None) -> bool:
        """True when the access token expires within ``seconds`` (False when it never expires)."""
        if self.expires_at is None:
            return False
        current = now or datetime.now(UTC)
        return (self.expires_at - current).total_seconds() <= seconds


def parse_scopes(value: Any, separator: str = " ") -> tuple[str, ...]:
    """Scopes from a token response: a string (space, or the provider's separator) or a list.

    A list's items are split too: a provider whose separator is a comma (Pinterest, TikTok)
    may echo the requested string back as one item (``["ads:read,ads:write"]``), and counting
    that as one unknown scope would call a complete grant unhealthy.
    """
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[str] = [value]
    elif isinstance(value, (list, tuple)):
        items = [str(p) for p in value if p]
    else:
        return ()
    parts = (part for item in items for part in (item.replace(separator, " ") if separator != " " else item).split())
    return tuple(dict.fromkeys(parts))


def from_oauth2_response(token: Mapping[str, Any], *, requested: tuple[str, ...] = (), separator: str = " ",
                         previous_refresh_token: str | None = None, now: float | None = None) -> TokenSet:
    """A TokenSet from an OAuth 2 token response (authlib's ``OAuth2Token`` is a dict).

    Without ``scope`` in the response the grant is what was requested (RFC 6749 section
    5.1). A refresh response without a new refresh token keeps the old one (no rotation).
    """
    access = token.get(ACCESS_TOKEN)
    if not access:
        from reconciler.errors import OAuthError

        raise OAuthError("the token endpoint answered without an access_token")
    credentials = {ACCESS_TOKEN: str(access)}
    refresh = token.get(REFRESH_TOKEN) or previous_refresh_token
    if refresh:
        credentials[REFRESH_TOKEN] = str(refresh)
    if token.get(TOKEN_TYPE):
        credentials[TOKEN_TYPE] = str(token[TOKEN_TYPE])
    expires_at: datetime | None = None
    if token.get("expires_at") is not None:
        expires_at = datetime.fromtimestamp(float(token["expires_at"]), UTC)
    elif token.get("expires_in") is not None:
        expires_at = datetime.fromtimestamp((now if now is not None else time.time()) + float(token["expires_in"]), UTC)
    scopes = parse_scopes(token.get("scope"), separator) if "scope" in token else requested
    return TokenSet(credentials, expires_at, scopes)


def missing_scopes(required: tuple[str, ...] | list[str], granted: tuple[str, ...]) -> tuple[str, ...]:
    """Required scopes the grant lacks, in the catalog's order."""
    have = set(granted)
    return tuple(s for s in required if s not in have)
