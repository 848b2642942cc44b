"""In-memory storage: the client, authorization codes, tokens and request counts, behind one lock.

The models implement authlib's mixins (``ClientMixin``, ``AuthorizationCodeMixin``, ``TokenMixin``)
so authlib's grants and endpoints can use them directly. Every read-modify-write of shared state
goes through :class:`Store` methods that hold ``Store.lock``: the runner serves requests on
threads, and single use of codes and refresh tokens must hold under concurrent requests.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin

from oauth_provider.config import ProviderConfig

TokenState = Literal["valid", "expired", "revoked", "unknown"]

LOOPBACK_HOST = "127.0.0.1"
CALLBACK_PATH = "/callback"


def normalize_scope(scope: str | None) -> str:
    """Space-separated scopes, duplicates dropped, order kept (what is echoed back to the client).

    Commas separate scopes too, as Pinterest and TikTok send them (``ads:read,ads:write``).
    """
    return " ".join(dict.fromkeys((scope or "").replace(",", " ").split()))


def is_loopback_redirect(uri: str) -> bool:
    """RFC 8252 §7.3: ``http://127.0.0.1:{any port}/callback``; scheme, host and path exact, nothing else."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return False
    return (parts.scheme == "http" and parts.netloc == f"{LOOPBACK_HOST}:{port}" and port is not None
            and 0 < port < 65536 and parts.path == CALLBACK_PATH and not parts.query and not parts.fragment
            and "#" not in uri and "?" not in uri)


@dataclass(frozen=True)
class User:
    """The one resource owner; ``granted_scope`` carries the consent page's choice to the code."""

    id: str
    name: str
    granted_scope: str | None = None  # None: everything requested


@dataclass(frozen=True)
class Client(ClientMixin):
    """The configured OAuth app: confidential, optionally also allowed to act as a public client."""

    client_id: str
    client_secret: str
    public: bool = False

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # redirect_uri is mandatory: loopback ports change every run

    def get_allowed_scope(self, scope: str | None) -> str:
        return normalize_scope(scope)  # any scope: the server stands in for many providers

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return is_loopback_redirect(redirect_uri)

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(self.client_secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if method == "none":
            return self.public
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    """A code bound to client, redirect URI and PKCE challenge; ``used`` is kept to detect replays."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: User
    code_challenge: str
    code_challenge_method: str
    expires_at: float
    grant_id: str = field(default_factory=lambda: secrets.token_hex(8))
    used: bool = False

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Token(TokenMixin):
    """One access token and its refresh token; ``grant_id`` links every token of one consent."""

    access_token: str
    refresh_token: str | None
    client_id: str
    user: User
    scope: str
    grant_id: str
    issued_at: float
    expires_at: float
    access_revoked: bool = False
    refresh_revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int(self.expires_at - self.issued_at)

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.access_revoked

    def get_user(self) -> User:
        return self.user

    def access_state(self) -> TokenState:
        """Revoked wins over expired: a revoked token must never look merely stale."""
        if self.access_revoked:
            return "revoked"
        return "expired" if self.is_expired() else "valid"


class Store:
    """All mutable state of one provider process."""

    def __init__(self, config: ProviderConfig) -> None:
        self.lock = threading.RLock()
        self.client = Client(config.client_id, config.client_secret, config.public_client)
        self.user = User(config.user_id, config.user_name)
        self._code_seconds = config.code_seconds
        self._access_seconds = config.access_token_seconds
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.codes: dict[str, AuthorizationCode] = {}
            self.by_access: dict[str, Token] = {}
            self.by_refresh: dict[str, Token] = {}
            self.counts: Counter[str] = Counter()
            self.paths: Counter[str] = Counter()

    # -- clients and requests -------------------------------------------------------------
    def query_client(self, client_id: str | None) -> Client | None:
        return self.client if client_id == self.client.client_id else None

    def count(self, route: str, path: str | None = None) -> None:
        with self.lock:
            self.counts[route] += 1
            if path is not None:
                self.paths[path] += 1

    # -- authorization codes --------------------------------------------------------------
    def save_code(self, code: str, client_id: str, redirect_uri: str, scope: str, user: User,
                  challenge: str, method: str) -> None:
        record = AuthorizationCode(code, client_id, redirect_uri, scope, user, challenge, method,
                                   time.time() + self._code_seconds)
        with self.lock:
            self.codes[code] = record

    def find_code(self, code: str, client_id: str) -> AuthorizationCode | None:
        """A usable code of this client; a replayed one revokes what it issued (RFC 6749 §4.1.2)."""
        with self.lock:
            record = self.codes.get(code)
            if record is None or record.client_id != client_id or time.time() >= record.expires_at:
                return None
            if record.used:
                self._revoke_grant(record.grant_id)
                return None
            return record

    def claim_code(self, record: AuthorizationCode) -> bool:
        """Atomically mark a code used; False if another request got there first."""
        with self.lock:
            if record.used:
                return False
            record.used = True
            return True

    # -- tokens ---------------------------------------------------------------------------
    def save_token(self, token: dict, client_id: str, user: User, grant_id: str) -> Token:
        now = time.time()
        record = Token(token["access_token"], token.get("refresh_token"), client_id, user,
                       token.get("scope", ""), grant_id, now, now + self._access_seconds)
        with self.lock:
            self.by_access[record.access_token] = record
            if record.refresh_token:
                self.by_refresh[record.refresh_token] = record
        return record

    def find_refresh(self, refresh_token: str) -> Token | None:
        with self.lock:
            record = self.by_refresh.get(refresh_token)
            return None if record is None or record.refresh_revoked else record

    def claim_refresh(self, record: Token) -> bool:
        """Rotation: atomically retire a refresh token as it is used; False if already retired."""
        with self.lock:
            if record.refresh_revoked:
                return False
            record.refresh_revoked = True
            return True

    def find_any(self, token: str) -> Token | None:
        with self.lock:
            return self.by_access.get(token) or self.by_refresh.get(token)

    def access_state(self, access_token: str | None) -> tuple[TokenState, Token | None]:
        with self.lock:
            record = self.by_access.get(access_token or "")
            return ("unknown", None) if record is None else (record.access_state(), record)

    def revoke(self, token: str, *, kind: Literal["access", "refresh", "any"] = "any") -> int:
        """Revoke one token; a refresh token takes its whole grant with it (RFC 7009 §2.1)."""
        with self.lock:
            if kind in ("refresh", "any") and token in self.by_refresh:
                return self._revoke_grant(self.by_refresh[token].grant_id)
            if kind in ("access", "any") and token in self.by_access:
                record = self.by_access[token]
                was = record.access_revoked
                record.access_revoked = True
                return 0 if was else 1
            return 0

    def revoke_all(self) -> int:
        with self.lock:
            return sum(self._revoke_record(record) for record in self.by_access.values())

    def expire_all(self) -> int:
        """Make every current access token expired (not revoked: refreshing still works)."""
        now = time.time()
        with self.lock:
            live = [r for r in self.by_access.values() if r.expires_at > now]
            for record in live:
                record.expires_at = now - 1
            return len(live)

    def _revoke_grant(self, grant_id: str) -> int:
        return sum(self._revoke_record(r) for r in self.by_access.values() if r.grant_id == grant_id)

    @staticmethod
    def _revoke_record(record: Token) -> int:
        changed = not record.access_revoked or (record.refresh_token is not None and not record.refresh_revoked)
        record.access_revoked = True
        record.refresh_revoked = True
        return int(changed)

    # -- stats ----------------------------------------------------------------------------
    def stats(self) -> dict:
        with self.lock:
            counts = {route: self.counts[route] for route in ("authorize", "token", "revoke", "me")}
            counts["total"] = sum(self.counts.values())
            counts["live_tokens"] = sum(r.access_state() == "valid" for r in self.by_access.values())
            counts["live_refresh_tokens"] = sum(not r.refresh_revoked for r in self.by_refresh.values())
            counts["by_path"] = dict(self.paths)
            return counts
