"""``create_app``: the Flask app with the OAuth endpoints; API and test-control routes come from sibling modules.

Authorize-endpoint errors are redirected to the client only when authlib has validated the
redirect URI (it sets ``error.redirect_uri`` then); otherwise the browser gets an error page,
so a forged ``redirect_uri`` can never receive anything.
"""

from __future__ import annotations

import logging
import time

from authlib.oauth2 import OAuth2Error
from flask import Flask, Response, request

from oauth_provider import api, controls
from oauth_provider.config import ProviderConfig
from oauth_provider.grants import Revocation
from oauth_provider.pages import consent_page, error_page
from oauth_provider.server import ProviderServer
from oauth_provider.store import Store, User, normalize_scope

# Flask endpoint name -> the stats bucket it counts in (API endpoints all count as "me").
_ROUTES = {"authorize": "authorize", "authorize_post": "authorize", "token": "token", "revoke": "revoke"}


def create_app(config: ProviderConfig) -> Flask:
    """A fresh provider: its own store and authlib server, nothing shared between apps."""
    # Request lines carry authorization codes (the redirect) and Facebook-style access_token queries.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = Flask("oauth_provider")
    store = Store(config)
    server = ProviderServer(app, config, store)
    app.extensions["oauth_provider.store"] = store

    @app.before_request
    def _count_and_delay() -> None:
        if request.path.startswith("/_test/"):
            return  # test controls are neither counted nor slowed down
        endpoint = request.endpoint or ""
        store.count(_ROUTES.get(endpoint, "me" if endpoint in api.ENDPOINTS else "other"), request.path)
        if config.latency_ms:
            time.sleep(config.latency_ms / 1000)

    def refuse(error: OAuth2Error) -> Response:
        if error.redirect_uri:  # validated by authlib against the client: safe to send the error there
            return server.handle_error_response(None, error)
        return error_page(error.error or "invalid_request", error.get_error_description() or "", 400)

    @app.get("/oauth/authorize", endpoint="authorize")
    def authorize_get() -> Response:
        try:
            grant = server.get_consent_grant(end_user=store.user)
        except OAuth2Error as error:
            return refuse(error)
        if config.auto_consent:
            return server.create_authorization_response(grant=grant, grant_user=store.user)
        fields = [(key, value) for key in request.args for value in request.args.getlist(key)]
        scopes = normalize_scope(grant.request.scope).split()
        return consent_page(config.client_id, scopes, fields)

    @app.post("/oauth/authorize", endpoint="authorize_post")
    def authorize_post() -> Response:
        try:
            grant = server.get_consent_grant(end_user=store.user)
        except OAuth2Error as error:
            return refuse(error)
        confirm = request.form.get("confirm")
        if confirm == "no":
            return server.create_authorization_response(grant=grant, grant_user=None)
        if confirm != "yes":
            return error_page("invalid_request", "confirm must be yes or no")
        user = store.user
        if "grant_scope" in request.form:
            chosen = normalize_scope(request.form["grant_scope"])
            requested = set(normalize_scope(grant.request.scope).split())
            if not set(chosen.split()) <= requested:
                return error_page("invalid_scope", "grant_scope may only narrow the requested scopes")
            user = User(user.id, user.name, granted_scope=chosen)
        return server.create_authorization_response(grant=grant, grant_user=user)

    @app.post("/oauth/token", endpoint="token")
    def token() -> Response:
        return server.create_token_response()

    @app.post("/oauth/revoke", endpoint="revoke")
    def revoke() -> Response:
        return server.create_endpoint_response(Revocation.ENDPOINT_NAME)

    api.register(app, config, store)
    controls.register(app, store)
    return app
