"""Provider-shaped "who am I" endpoints: what authctl's health checks call with an access token.

The token is accepted the ways real providers take it: ``Authorization: Bearer T`` (most),
``Access-Token: T`` (TikTok) or ``?access_token=T`` (Facebook Graph). Every successful answer
carries ``id`` and the granted ``scopes``, so a client can report a missing permission; a bad
token is a 401 whose ``error_description`` says why (expired, revoked, unknown, missing).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable

from flask import Flask, Response, jsonify, request

from oauth_provider.config import ProviderConfig
from oauth_provider.store import Store, Token

#: Flask endpoint names of this module (the stats count them all as "me").
ENDPOINTS = frozenset({"snapchat_me", "pinterest_user_account", "facebook_me", "facebook_debug_token", "any_api"})


def presented_token() -> str | None:
    """The access token from the header or query forms providers use; None if absent."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return (request.headers.get("Access-Token") or request.args.get("access_token")
            or (request.form.get("access_token") if request.method == "POST" else None))


def invalid_token(reason: str) -> Response:
    """RFC 6750 §3.1: 401 with a ``WWW-Authenticate`` challenge naming the error."""
    response = jsonify(error="invalid_token", error_description=reason)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{reason}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def register(app: Flask, config: ProviderConfig, store: Store) -> None:
    """Add the API routes to ``app``."""

    def protected(view: Callable[[Token], dict]) -> Callable[..., Response]:
        def wrapper(**_: str) -> Response:
            token = presented_token()
            if not token:
                return invalid_token("missing")
            state, record = store.access_state(token)
            if state != "valid" or record is None:
                return invalid_token(state)
            return jsonify(view(record))

        wrapper.__name__ = view.__name__
        return wrapper

    def identity(record: Token) -> dict:
        return {"id": record.user.id, "scopes": record.scope.split()}

    @app.get("/v1/me", endpoint="snapchat_me")
    @protected
    def snapchat_me(record: Token) -> dict:
        me = {"id": record.user.id, "display_name": record.user.name, "organization_id": "org-1"}
        return {"request_status": "SUCCESS", "request_id": uuid.uuid4().hex, **identity(record), "me": me}

    @app.get("/v5/user_account", endpoint="pinterest_user_account")
    @protected
    def pinterest_user_account(record: Token) -> dict:
        return {**identity(record), "username": "test-user", "account_type": "BUSINESS"}

    @app.get("/me", endpoint="facebook_me")
    @protected
    def facebook_me(record: Token) -> dict:
        return {**identity(record), "name": record.user.name}

    @app.route("/api/<path:rest>", methods=["GET", "POST"], endpoint="any_api")
    @protected
    def any_api(record: Token) -> dict:
        return {**identity(record), "path": request.path, "method": request.method}

    def app_token_ok(token: str) -> bool:
        """Facebook's app access token, ``APP_ID|APP_SECRET``, is also accepted by /debug_token."""
        app_id, bar, secret = token.partition("|")
        return bool(bar) and app_id == config.client_id and secrets.compare_digest(
            secret.encode(), config.client_secret.encode())

    @app.get("/debug_token", endpoint="facebook_debug_token")
    def facebook_debug_token() -> Response:
        token = presented_token()
        if not token:
            return invalid_token("missing")
        if not app_token_ok(token):
            state, _ = store.access_state(token)
            if state != "valid":
                return invalid_token(state)
        input_token = request.args.get("input_token")
        if not input_token:
            response = jsonify(error={"message": "(#100) The parameter input_token is required", "code": 100})
            response.status_code = 400
            return response
        state, record = store.access_state(input_token)
        if state != "valid" or record is None:
            data: dict = {"is_valid": False, "app_id": config.client_id,
                          "error": {"code": 190, "message": f"Error validating access token: {state}"}}
            if record is not None:
                data.update(expires_at=int(record.expires_at), user_id=record.user.id)
            return jsonify(data=data)
        return jsonify(data={"app_id": config.client_id, "type": "USER", "application": "authctl test provider",
                             "is_valid": True, "issued_at": int(record.issued_at),
                             "expires_at": int(record.expires_at), "scopes": record.scope.split(),
                             "user_id": record.user.id})
