"""authlib grant, PKCE and revocation subclasses wired to the in-memory :class:`Store`.

authlib does the protocol work (parameter checks, client authentication, PKCE comparison,
error responses); these classes only say where things are stored, plus three tightenings a
modern provider applies and authlib leaves optional:

- PKCE is required of every client (authlib's ``required=True`` only binds public clients) and
  only S256 is accepted (RFC 9700 §2.1.1);
- codes and refresh tokens are claimed atomically, so a race cannot spend one twice;
- a replayed code revokes the tokens it issued (RFC 6749 §4.1.2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, grants
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge

from oauth_provider.store import AuthorizationCode, Store, Token, User, normalize_scope

if TYPE_CHECKING:
    from oauth_provider.server import ProviderServer


def _store(server: ProviderServer) -> Store:
    return server.store


class S256CodeChallenge(CodeChallenge):
    """PKCE for everyone, S256 only: a missing or plain challenge is refused at /authorize."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE (S256) is required.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        return super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    """Codes live in the store; the consent page's narrower choice of scopes is applied here."""

    def __init__(self, request, server):
        super().__init__(request, server)
        self.TOKEN_ENDPOINT_AUTH_METHODS = server.client_auth_methods

    def save_authorization_code(self, code: str, request) -> None:
        user: User = request.user
        scope = request.scope if user.granted_scope is None else normalize_scope(user.granted_scope)
        data = request.payload.data
        _store(self.server).save_code(code, request.client.get_client_id(), request.payload.redirect_uri,
                                      scope, user, data["code_challenge"], data["code_challenge_method"])

    def query_authorization_code(self, code: str, client) -> AuthorizationCode | None:
        return _store(self.server).find_code(code, client.get_client_id())

    def create_token_response(self):
        # Runs after every check (PKCE included); claiming here makes "single use" hold under races.
        if not _store(self.server).claim_code(self.request.authorization_code):
            raise InvalidGrantError("Invalid 'code' in request.")
        return super().create_token_response()

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        pass  # already claimed; kept (marked used) so a replay can be recognised

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User:
        return authorization_code.user


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """Rotation: every refresh issues a new refresh token and retires the one presented."""

    INCLUDE_NEW_REFRESH_TOKEN = True

    def __init__(self, request, server):
        super().__init__(request, server)
        self.TOKEN_ENDPOINT_AUTH_METHODS = server.client_auth_methods

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        return _store(self.server).find_refresh(refresh_token)

    def create_token_response(self):
        if not _store(self.server).claim_refresh(self.request.refresh_token):
            raise InvalidGrantError()
        return super().create_token_response()

    def authenticate_user(self, refresh_token: Token) -> User:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: Token) -> None:
        pass  # retired by claim_refresh before the new token was issued


class Revocation(RevocationEndpoint):
    """RFC 7009. The hint is only a hint: both kinds are looked up; unknown tokens answer 200."""

    def __init__(self, server=None):
        super().__init__(server)
        self.CLIENT_AUTH_METHODS = server.client_auth_methods

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        return _store(self.server).find_any(token_string)

    def revoke_token(self, token: Token, request) -> None:
        _store(self.server).revoke(request.form["token"])
