"""Token revocation (RFC 7009) on authlib, for an OAuth authorization that is being deleted.

The refresh token goes first (revoking it ends the whole grant at most providers), then
the access token. RFC 7009 answers 200 even for a token it no longer knows, so anything
else is a failure. A failure is returned as a warning, never raised: the delete goes on
(a token that cannot be revoked is not a reason to keep an authorization), and the
warning tells the person to revoke the grant at the provider by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx2

from reconciler.oauth.clients import OAuthApp
from reconciler.oauth.endpoints import OAuthEndpoints
from reconciler.oauth.refresh import transport_failure
from reconciler.oauth.session_client import AuthlibOAuthError, oauth2_client
from reconciler.oauth.tokens import ACCESS_TOKEN, REFRESH_TOKEN


@dataclass(frozen=True)
class Revoked:
    """What revocation did: tokens revoked, requests made, and a warning when it could not do it all."""

    revoked: int = 0
    requests: int = 0
    warning: str | None = None


def by_hand(provider: str, why: str) -> str:
    return (f"the {provider} tokens were not revoked ({why}); they stay valid until they expire: revoke the "
            f"grant in {provider}'s settings")


def revoke_grant(client: httpx2.Client, endpoints: OAuthEndpoints, app: OAuthApp,
                 credentials: Mapping[str, str]) -> Revoked:
    """Revoke the refresh token then the access token at ``endpoints.revocation_url``."""
    url = endpoints.revocation_url
    if url is None:
        return Revoked()
    oauth = oauth2_client(client, app, revocation_endpoint=url)
    revoked = requests = 0
    for hint in (REFRESH_TOKEN, ACCESS_TOKEN):
        token = credentials.get(hint)
        if not token:
            continue
        requests += 1
        try:
            answer = oauth.revoke_token(url, token=token, token_type_hint=hint)
        except AuthlibOAuthError:
            return Revoked(revoked, requests, by_hand(endpoints.provider, "the provider refused the revocation"))
        except httpx2.HTTPError as exc:
            return Revoked(revoked, requests, by_hand(endpoints.provider, transport_failure(exc)))
        if answer.status_code != 200:
            return Revoked(revoked, requests, by_hand(endpoints.provider,
                                                      f"the revocation endpoint answered HTTP {answer.status_code}"))
        revoked += 1
    return Revoked(revoked, requests)


__all__ = ["Revoked", "by_hand", "revoke_grant"]
