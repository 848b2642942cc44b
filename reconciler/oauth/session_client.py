"""authlib's OAuth 2 client on a shared, pooled ``httpx2.Client``.

``authlib.integrations.httpx_client.OAuth2Client`` *is* an ``httpx2.Client``: one per
grant would open a connection pool per authorization. The protocol logic lives in
authlib's base ``OAuth2Client``, which sends through any ``session``; this class gives it
the httpx2 signing classes (client authentication and bearer tokens) and the shared
client, so a thousand refreshes share twenty connections.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
from authlib.integrations.base_client import OAuthError as AuthlibOAuthError
from authlib.integrations.httpx_client import OAuth2Auth, OAuth2ClientAuth
from authlib.oauth2.client import OAuth2Client as _BaseOAuth2Client

from reconciler.oauth.clients import OAuthApp


class SharedSessionOAuth2Client(_BaseOAuth2Client):  # type: ignore[misc]
    """authlib's OAuth 2 protocol client sending through the caller's ``httpx2.Client``."""

    client_auth_class = OAuth2ClientAuth
    token_auth_class = OAuth2Auth
    oauth_error_class = AuthlibOAuthError

    def __repr__(self) -> str:
        return f"SharedSessionOAuth2Client(client_id={self.client_id!r})"

    def __del__(self) -> None:  # authlib's deletes the session: the caller owns it
        pass


def oauth2_client(session: httpx2.Client, app: OAuthApp, *, token: dict[str, Any] | None = None,
                  update_token: Callable[..., None] | None = None, token_endpoint: str | None = None,
                  revocation_endpoint: str | None = None) -> SharedSessionOAuth2Client:
    """An authlib client for ``app`` on ``session``; a public app (no secret) authenticates with its id alone."""
    secret = app.client_secret.reveal() if app.client_secret is not None else None
    return SharedSessionOAuth2Client(session, client_id=app.client_id, client_secret=secret, token=token,
                                     update_token=update_token, token_endpoint=token_endpoint,
                                     revocation_endpoint=revocation_endpoint)


__all__ = ["AuthlibOAuthError", "SharedSessionOAuth2Client", "oauth2_client"]
