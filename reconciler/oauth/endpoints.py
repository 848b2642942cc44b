"""Where a provider's OAuth and API requests go: the catalog's endpoints, overridden per workspace.

The catalog holds the real public endpoints (``providers/*.yaml``: ``oauth`` and
``health_check``). ``provider_overrides.PROVIDER`` in ``authctl.yaml`` replaces them for a
self-hosted gateway or a test server on 127.0.0.1: ``authorization_url``, ``token_url``,
``revocation_url``, ``request_token_url`` one for one, and ``api_base_url`` the scheme, host
and port of every API call (health checks) while keeping its path and query. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from reconciler.catalog import HealthCheckSpec, MethodSpec, OAuthSpec
from reconciler.errors import OAuthError
from reconciler.workspace import ProviderOverride, Settings


@dataclass(frozen=True)
class OAuthEndpoints:
    """The effective OAuth endpoints and scopes of one method."""

    provider: str
    authorization_url: str
    token_url: str
    revocation_url: str | None
    request_token_url: str | None  # OAuth 1.0a only
    scopes: tuple[str, ...]
    scope_separator: str
    pkce: bool
    extra_params: dict[str, str]
    refresh_token_rotates: bool
    overridden: bool  # True when any URL came from provider_overrides


def _override(settings: Settings, provider: str) -> ProviderOverride:
    return settings.provider_overrides.get(provider) or ProviderOverride()


def oauth_endpoints(settings: Settings, provider: str, method: MethodSpec) -> OAuthEndpoints:
    """The endpoints ``authctl login`` / ``reauth`` / ``refresh`` use for ``method`` (an OAuth method)."""
    spec: OAuthSpec | None = method.oauth
    if spec is None:
        raise OAuthError(f"{provider}/{method.name} is not an OAuth method ({method.kind.value}): it has no OAuth "
                          "endpoints; its credentials come from the manifest")
    o = _override(settings, provider)
    return OAuthEndpoints(
        provider=provider,
        authorization_url=o.authorization_url or spec.authorize_url,
        token_url=o.token_url or spec.token_url,
        revocation_url=o.revocation_url or spec.revoke_url,
        request_token_url=o.request_token_url or spec.request_token_url,
        scopes=tuple(spec.scopes), scope_separator=spec.scope_separator, pkce=spec.pkce,
        extra_params=dict(spec.extra_params), refresh_token_rotates=spec.refresh_token_rotates,
        overridden=any(v is not None for v in (o.authorization_url, o.token_url, o.revocation_url,
                                               o.request_token_url)),
    )


def api_url(settings: Settings, provider: str, url: str) -> str:
    """``url`` (a catalog API URL) with its scheme, host and port replaced by ``api_base_url`` when overridden.

    A base URL with a path prefixes it: ``http://127.0.0.1:9000/fb`` + ``https://graph.facebook.com/me``
    gives ``http://127.0.0.1:9000/fb/me``.
    """
    base = _override(settings, provider).api_base_url
    if base is None:
        return url
    target, root = urlsplit(url), urlsplit(base)
    path = root.path.rstrip("/") + (target.path if target.path.startswith("/") else f"/{target.path}")
    return urlunsplit((root.scheme, root.netloc, path, target.query, ""))


def health_check_url(settings: Settings, provider: str, check: HealthCheckSpec) -> str:
    """The URL of a method's health check request, after ``api_base_url``."""
    return api_url(settings, provider, check.url)
