"""OAuth connections over the Lytics-shaped API: token hand-off to the served platform, or "use the UI".

A real Lytics makes OAuth connections in its UI, with its own OAuth apps: its v2 API cannot
create one from tokens, nor renew one's tokens (DESIGN section 7). authctl's served
platform can, through its extension endpoints (reconciler/served/oauth_handlers.py):

- :func:`check_handoff`: ``GET /v2/_authctl/oauth/{provider}/{method}``, asked by
  ``authctl login`` / ``reauth`` before anyone is sent to a browser. A real Lytics answers
  404 NOTFOUND (no such endpoint): a PermanentBackendError saying to connect in the Lytics UI;
- :func:`create_oauth_authorization`: ``POST`` to the same path, with the tokens, granted
  scopes, expiry and the creation marker in the description; a lost answer is settled by
  marker, never blindly repeated (lytics_create.MarkedCreates);
- :func:`reauthorize`: ``PUT /v2/_authctl/auth/{id}/tokens``: same id, jobs untouched.

Tokens are revealed only into the request body, and scrubbed from any message the server
sends back.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from reconciler.backends.base import AuthorizationRequest, Reauthorization
from reconciler.backends.http_client import Answer, HttpClient
from reconciler.backends.lytics_create import MarkedCreates
from reconciler.backends.lytics_extensions import endpoint_missing
from reconciler.backends.lytics_mapping import request_body
from reconciler.errors import PermanentBackendError
from reconciler.live import LiveAuthorization
from reconciler.lytics_wire import ErrorCode, OAuthGrantIn, OAuthTokensIn, with_marker

UI_ONLY_CODE = "OAUTH_UI_ONLY"


def oauth_path(provider: str, method: str) -> str:
    return f"/v2/_authctl/oauth/{quote(provider, safe='')}/{quote(method, safe='')}"


def _ui_only(what: str, base_url: str) -> PermanentBackendError:
    return PermanentBackendError(
        f"the platform at {base_url} cannot take OAuth tokens ({what}): the Lytics API has no way to create or "
        "renew an OAuth connection, Lytics makes them in its UI with its own OAuth app; connect it in the Lytics "
        "UI, then `authctl import NAME ID` (a reconnect there keeps the id)", status=404, code=UI_ONLY_CODE)


def _refused(exc: PermanentBackendError, what: str, base_url: str) -> PermanentBackendError:
    if exc.status == 404 and exc.code == ErrorCode.AUTHTYPE_NOTFOUND:
        return PermanentBackendError(f"the platform at {base_url} has no OAuth method {what} ({exc.message})",
                                     status=404, code=exc.code)
    if endpoint_missing(exc):
        return _ui_only(what, base_url)
    return exc


def check_handoff(http: HttpClient, provider: str, method: str) -> None:
    """Raise PermanentBackendError unless the platform takes tokens for ``provider``/``method``."""
    try:
        http.request("GET", oauth_path(provider, method), kind="GET /v2/_authctl/oauth/{provider}/{method}")
    except PermanentBackendError as exc:
        raise _refused(exc, f"{provider} {method}", http.base_url) from None


def create_oauth_authorization(http: HttpClient, creates: MarkedCreates, request: AuthorizationRequest, *,
                               lookup: Callable[[str], LiveAuthorization | None],
                               convert: Callable[[Answer], LiveAuthorization]) -> LiveAuthorization:
    """A new OAuth connection from a login's tokens (the served platform's extension)."""
    secrets = {k: v.reveal() for k, v in request.credentials.items()}
    body = request_body(OAuthGrantIn, label=request.label, description=with_marker(request.description, request.marker),
                        config=dict(request.config), credentials=secrets, scopes=list(request.scopes),
                        token_expires_at=request.token_expires_at)
    redact = tuple(secrets.values())
    del secrets
    try:
        return creates.create(oauth_path(request.provider, request.method),
                              "POST /v2/_authctl/oauth/{provider}/{method}", body, request.marker, lookup,
                              redact=redact, convert=convert)
    except PermanentBackendError as exc:
        raise _refused(exc, f"{request.provider} {request.method}", http.base_url) from None


def reauthorize(http: HttpClient, auth_id: str, reauthorization: Reauthorization, *,
                convert: Callable[[Answer], LiveAuthorization]) -> LiveAuthorization:
    """New tokens for ``auth_id`` in place (same id, health healthy)."""
    secrets = {k: v.reveal() for k, v in reauthorization.credentials.items()}
    body = request_body(OAuthTokensIn, credentials=secrets, scopes=list(reauthorization.scopes),
                        token_expires_at=reauthorization.token_expires_at)
    redact = tuple(secrets.values())
    del secrets
    try:
        answer = http.request("PUT", f"/v2/_authctl/auth/{quote(auth_id, safe='')}/tokens",
                              kind="PUT /v2/_authctl/auth/{id}/tokens", body=body, names=(auth_id,), redact=redact)
    except PermanentBackendError as exc:
        if exc.status == 404 and exc.code == ErrorCode.AUTH_NOTFOUND:
            raise
        raise _refused(exc, f"authorization {auth_id}", http.base_url) from None
    return convert(answer)


__all__ = ["UI_ONLY_CODE", "check_handoff", "create_oauth_authorization", "oauth_path", "reauthorize"]
