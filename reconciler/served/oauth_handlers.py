"""``/v2/_authctl/oauth/...`` and ``/v2/_authctl/auth/{id}/tokens``: OAuth token hand-off (authctl extension).

Lytics makes OAuth connections in its UI, with its own OAuth apps; its v2 API cannot
create one from tokens. The served platform stands in for the embedded one, where
``authctl login`` brings the tokens of its own OAuth app, so it takes them here:

- ``GET /v2/_authctl/oauth/{provider}/{method}``: whether the platform accepts tokens for
  that OAuth method (``authctl login`` asks before sending anyone to a browser; a real
  Lytics answers 404 NOTFOUND-003, an unknown or non-OAuth method AUTHTYPE-NOTFOUND-007);
- ``POST /v2/_authctl/oauth/{provider}/{method}``: a new connection with its tokens,
  granted scopes and expiry (the description kept verbatim, creation marker included);
- ``PUT /v2/_authctl/auth/{id}/tokens``: new tokens in place (``authctl reauth``): same id,
  so the jobs using it keep working, and health back to healthy.

The tokens are credentials: sealed by the platform, never answered (the answers are
``AuthOut``, which has no field for one), never named in an error message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reconciler.catalog import MethodKind, MethodSpec, ProviderSpec
from reconciler.errors import NotFoundError
from reconciler.lytics_wire import ErrorCode, OAuthGrantIn, OAuthMethodOut, OAuthTokensIn
from reconciler.platform import AuthRecord, Platform
from reconciler.served.auth_handlers import LABEL_MAX, OWNER_MAX
from reconciler.served.context import API_OWNER, Call, Reply, Served
from reconciler.served.envelopes import ApiFailure
from reconciler.served.gateway import AUTH_REFUSALS
from reconciler.served.inputs import check_config, check_length, parse_model
from reconciler.served.mapping import auth_out

# The credentials a grant of each kind consists of: (required, optional).
TOKEN_FIELDS: dict[MethodKind, tuple[frozenset[str], frozenset[str]]] = {
    MethodKind.OAUTH2: (frozenset({"access_token"}), frozenset({"refresh_token", "token_type"})),
    MethodKind.OAUTH1: (frozenset({"oauth_token", "oauth_token_secret"}), frozenset()),
}
TOKEN_MAX = 8192  # characters of one token
SCOPE_MAX = 255  # characters of one scope
SCOPES_MAX = 100  # scopes in one grant
_YEARS = range(1900, 9000)  # a time outside these cannot be converted to UTC and stored everywhere


def _oauth_method(served: Served, provider: str, method: str) -> tuple[ProviderSpec, MethodSpec]:
    spec = served.catalog.providers.get(provider)
    found = spec.methods.get(method) if spec is not None else None
    if spec is None or found is None or not found.is_oauth:
        raise ApiFailure(404, ErrorCode.AUTHTYPE_NOTFOUND, f"no OAuth method {method!r} of provider {provider!r}")
    return spec, found


def _check_credentials(kind: MethodKind, credentials: dict[str, str]) -> None:
    """The grant's token fields, by name and size only: a value is never echoed."""
    required, optional = TOKEN_FIELDS[kind]
    problems = [f"credentials.{name}: not a token field of an {kind.value} grant (expected "
                f"{', '.join(sorted(required | optional))})" for name in sorted(set(credentials) - required - optional)]
    problems += [f"credentials.{name}: required" for name in sorted(required - set(credentials))]
    for name, value in sorted(credentials.items()):
        if name in required and not value.strip():
            problems.append(f"credentials.{name}: must not be blank")
        if len(value) > TOKEN_MAX:
            problems.append(f"credentials.{name}: must be at most {TOKEN_MAX} characters")
    if problems:
        raise ApiFailure(400, ErrorCode.AUTH_BADREQ, "; ".join(problems))


def _check_grant_facts(scopes: list[str], token_expires_at: datetime | None) -> None:
    if len(scopes) > SCOPES_MAX:
        raise ApiFailure(400, ErrorCode.AUTH_BADREQ, f"scopes: at most {SCOPES_MAX}")
    for index, scope in enumerate(scopes):
        if not scope or len(scope) > SCOPE_MAX or any(c.isspace() for c in scope):
            raise ApiFailure(400, ErrorCode.AUTH_BADREQ, f"scopes.{index}: must be 1 to {SCOPE_MAX} characters "
                                                         "without spaces")
    if token_expires_at is not None and token_expires_at.year not in _YEARS:
        raise ApiFailure(400, ErrorCode.AUTH_BADREQ, f"token_expires_at: must be between the years {_YEARS.start} "
                                                     f"and {_YEARS.stop - 1}")


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def oauth_method(served: Served, call: Call) -> Reply:
    provider, method = _oauth_method(served, call.path["provider"], call.path["method"])
    return Reply(OAuthMethodOut(provider=provider.name, method=method.name,
                                type=served.catalog.api_type(provider.name, method), kind=method.kind.value,
                                scopes=list(method.oauth.scopes) if method.oauth else []))


async def create_oauth_auth(served: Served, call: Call) -> Reply:
    provider, method = _oauth_method(served, call.path["provider"], call.path["method"])
    body = parse_model(OAuthGrantIn, call.body or {}, ErrorCode.AUTH_BADREQ)
    if not body.label.strip():
        raise ApiFailure(400, ErrorCode.AUTH_BADREQ, "label: must not be blank")
    check_length(body.label, LABEL_MAX, "label", ErrorCode.AUTH_BADREQ)
    check_length(body.user_id, OWNER_MAX, "user_id", ErrorCode.AUTH_BADREQ)
    check_config(method.config_fields.values(), body.config, ErrorCode.AUTH_BADREQ, unknown_allowed=False)
    _check_credentials(method.kind, body.credentials)
    _check_grant_facts(body.scopes, body.token_expires_at)
    config: dict[str, Any] = dict(body.config)
    slug = served.catalog.api_type(provider.name, method)
    record = await served.gateway.run(lambda p: p.create_authorization(
        provider=provider.name, method=method.name, type=slug, label=body.label, description=body.description,
        config=config, credentials=dict(body.credentials), owner=body.user_id or API_OWNER,
        token_expires_at=_as_utc(body.token_expires_at), scopes=tuple(body.scopes)), AUTH_REFUSALS)
    return Reply(auth_out(record, served.catalog, served.account_id))


async def replace_tokens(served: Served, call: Call) -> Reply:
    auth_id = call.path["id"]
    body = parse_model(OAuthTokensIn, call.body or {}, ErrorCode.AUTH_BADREQ)
    _check_grant_facts(body.scopes, body.token_expires_at)

    def work(p: Platform) -> AuthRecord:
        try:
            current = p.get_authorization(auth_id)
        except NotFoundError:
            raise ApiFailure(404, ErrorCode.AUTH_NOTFOUND, f"no authorization with id {auth_id!r}") from None
        method = served.catalog.method(current.provider, current.method)
        if method is None or not method.is_oauth:
            raise ApiFailure(400, ErrorCode.AUTH_BADREQ, f"authorization {auth_id} ({current.provider} "
                                                         f"{current.method}) is not an OAuth connection: its "
                                                         "credentials are replaced by creating a new one")
        _check_credentials(method.kind, body.credentials)
        return p.reauthorize(auth_id, credentials=dict(body.credentials),
                             token_expires_at=_as_utc(body.token_expires_at), scopes=tuple(body.scopes))

    record = await served.gateway.run(work, AUTH_REFUSALS)
    return Reply(auth_out(record, served.catalog, served.account_id))
