"""The authlib ``AuthorizationServer`` for one :class:`ProviderConfig`: grants, PKCE, revocation, tokens."""

from __future__ import annotations

from typing import Any

from authlib.common.security import generate_token
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from flask import Flask

from oauth_provider.config import ProviderConfig
from oauth_provider.grants import AuthorizationCodeGrant, RefreshTokenGrant, Revocation, S256CodeChallenge
from oauth_provider.store import Store


class ProviderServer(AuthorizationServer):
    """authlib's Flask server, carrying the store and the client authentication methods allowed."""

    def __init__(self, app: Flask, config: ProviderConfig, store: Store) -> None:
        self.store = store
        self.client_auth_methods = ["client_secret_basic", "client_secret_post"]
        if config.public_client:
            self.client_auth_methods.append("none")
        super().__init__(app, query_client=store.query_client, save_token=self._save)
        # Our own generator: refresh tokens always, and expires_in/scope always present (authlib
        # omits expires_in when it is 0 and scope when it is empty).
        bearer = BearerTokenGenerator(lambda **_: generate_token(42), lambda **_: generate_token(48),
                                      config.access_token_seconds)

        def generate(**kwargs: Any) -> dict:
            token = bearer(**kwargs)
            token["expires_in"] = config.access_token_seconds
            token.setdefault("scope", "")
            return token

        self.register_token_generator("default", generate)
        self.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
        self.register_grant(RefreshTokenGrant)
        self.register_endpoint(Revocation)

    def _save(self, token: dict, request: Any) -> None:
        """authlib's save_token hook: the grant id follows the code, then each rotated refresh token."""
        origin = request.authorization_code or request.refresh_token
        self.store.save_token(token, request.client.get_client_id(), request.user, origin.grant_id)
