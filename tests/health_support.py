"""Helpers for the health, refresh and revocation tests: real grants from the test OAuth provider.

Importable as ``health_support`` (pytest puts ``tests/`` on ``sys.path``)::

    with start_provider(tmp_path) as provider:
        tokens = grant(provider)                        # authorization code + PKCE, scripted consent
        auth_id = add_pinterest_auth(root, tokens)      # straight into the workspace's platform
        run_cli("import", "pin", auth_id, cwd=root)     # managed by manifest name from now on

``grant`` is what ``authctl login`` does, without the CLI: authlib's OAuth2Client with PKCE
S256 against ``/oauth/authorize`` (consent played by ``oauth_support.consent``) and
``/oauth/token``. ``add_pinterest_auth`` opens the platform the way the tests' world readers
do (``backend_modes.open_platform_of``: the served database inside a ``use_backend("http")``
block) and stores the tokens, expiry and scopes as login would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client

from apply_support import settings
from backend_modes import open_platform_of
from oauth_support import ProviderProcess, consent, overrides_yaml

PINTEREST_SCOPES = "ads:read ads:write"
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never connected to: consent returns the redirect


def workspace_settings(name: str, provider_url: str, mode: str = "guarded") -> str:
    """``authctl.yaml``: the embedded platform, plus pinterest sent to the test provider."""
    return settings(name, mode) + overrides_yaml("pinterest", provider_url)


def grant(provider: ProviderProcess, scope: str = PINTEREST_SCOPES) -> dict[str, Any]:
    """A fresh token response (access_token, refresh_token, expires_at, scope) from the test provider."""
    with OAuth2Client(provider.client_id, provider.client_secret, scope=scope, redirect_uri=REDIRECT_URI,
                      code_challenge_method="S256", timeout=10) as client:
        verifier = generate_token(48)
        url, _ = client.create_authorization_url(f"{provider.url}/oauth/authorize", code_verifier=verifier)
        location = consent(url)
        token = client.fetch_token(f"{provider.url}/oauth/token", authorization_response=location,
                                   code_verifier=verifier)
    return dict(token)


def pinterest_manifest(name: str = "pin", label: str = "Pinterest Ads") -> str:
    return (f"apiVersion: authctl/v1\nkind: Authorization\nmetadata:\n  name: {name}\nspec:\n"
            f"  provider: pinterest\n  method: oauth\n  label: \"{label}\"\n")


def add_pinterest_auth(root: Path, token: dict[str, Any], *, label: str = "Pinterest Ads",
                       expires_at: datetime | None = None, scopes: tuple[str, ...] | None = None) -> str:
    """Store a grant on the workspace's platform as ``authctl login`` would; returns the new id."""
    credentials = {"access_token": token["access_token"], "refresh_token": token["refresh_token"],
                   "token_type": token.get("token_type", "Bearer")}
    expiry = expires_at or datetime.fromtimestamp(float(token["expires_at"]), UTC)
    granted = scopes if scopes is not None else tuple(str(token.get("scope", PINTEREST_SCOPES)).split())
    platform = open_platform_of(root)
    try:
        record = platform.create_authorization(provider="pinterest", method="oauth", label=label,
                                               type="authctl-pinterest-oauth", credentials=credentials,
                                               token_expires_at=expiry, scopes=granted)
    finally:
        platform.close()
    return record.id


def stored_credentials(root: Path, auth_id: str) -> dict[str, str]:
    platform = open_platform_of(root)
    try:
        return dict(platform.stored_secrets(auth_id)["credentials"])
    finally:
        platform.close()


def expire_recorded_token(root: Path, auth_id: str) -> None:
    """Make the platform believe the access token expired a minute ago (as time passing would)."""
    platform = open_platform_of(root)
    try:
        platform.record_health(auth_id, status="healthy", token_expires_at=datetime.now(UTC) - timedelta(minutes=1),
                               requests=0)
    finally:
        platform.close()


__all__ = ["PINTEREST_SCOPES", "add_pinterest_auth", "expire_recorded_token", "grant", "pinterest_manifest",
           "stored_credentials", "workspace_settings"]
