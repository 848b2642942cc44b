"""Test controls under ``/_test/``: what a provider does behind the client's back.

Revoking (a user removes the app, a password change), expiring (time passes) and counting
requests (did the health check call the provider, how often did it refresh). No
authentication: the runner binds loopback only.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

from oauth_provider.store import Store


def register(app: Flask, store: Store) -> None:
    """Add the ``/_test/`` routes to ``app``."""

    @app.post("/_test/revoke")
    def test_revoke() -> Response | tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        if body.get("all") is True:
            return jsonify(revoked=store.revoke_all())
        if body.get("refresh_token"):
            revoked = store.revoke(str(body["refresh_token"]), kind="refresh")
        elif body.get("access_token"):
            revoked = store.revoke(str(body["access_token"]), kind="access")
        else:
            return jsonify(error="give refresh_token, access_token or all: true"), 400
        known = store.find_any(str(body.get("refresh_token") or body.get("access_token"))) is not None
        return jsonify(revoked=revoked), (200 if known else 404)

    @app.post("/_test/expire")
    def test_expire() -> Response:
        return jsonify(expired=store.expire_all())

    @app.get("/_test/stats")
    def test_stats() -> Response:
        return jsonify(store.stats())

    @app.post("/_test/reset")
    def test_reset() -> Response:
        store.reset()
        return jsonify(reset=True)
