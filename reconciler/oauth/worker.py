"""The credential worker: health checks, token refreshes and revocations where the credentials live.

Credentials never leave the platform, so this runs beside it: in process for the embedded
platform (``LocalBackend``), inside ``authctl platform serve`` for the served one (its
``/v2/_authctl/health-check`` and ``/refresh`` endpoints, its DELETE, and its scheduled
checks). The platform is reached only through :class:`CredentialStore`, a protocol the
embedded platform's ``Platform`` satisfies as is, so this package imports no platform.

For each authorization (a thread pool of ``concurrency`` workers sharing one pooled
``httpx2.Client``):

1. an OAuth 2 access token that has expired or expires within five minutes is refreshed
   first (when there is a refresh token and an ``oauth_clients`` app); new tokens are stored
   with ``reauthorize`` in one transaction (a rotated refresh token is written before the
   old one is forgotten); ``invalid_grant`` makes the authorization Unhealthy ``refresh
   token revoked or expired``. A refresh token that changed in the store meanwhile means
   another worker refreshed first: its tokens are used, nothing is marked;
2. the catalog's check runs (:mod:`.health`); a refusal of a token that was not refreshed
   yet gets one refresh and one more check (providers that report no expiry);
3. the result is recorded with ``checked_at``, the scopes and expiry the answer reported,
   and the number of provider requests made (refresh and check), counted on the
   authorization in the same transaction.

A worker's own bug in one check is an Unknown result for that authorization, never the
end of the run. Nothing here formats a token or a client secret into a message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

import httpx2

from reconciler.catalog import Catalog, MethodKind, MethodSpec
from reconciler.clock import as_utc_or_none, utc_now
from reconciler.errors import AuthctlError, NotFoundError, PlatformError
from reconciler.live import HealthReport, RefreshReport
from reconciler.oauth.check_request import CheckTarget
from reconciler.oauth.classify import EXPIRED, Verdict, unknown
from reconciler.oauth.clients import OAuthApp, oauth_app
from reconciler.oauth.endpoints import oauth_endpoints
from reconciler.oauth.health import DEFAULT_CONCURRENCY, CheckResult, provider_client, required_scopes, run_check

RECORD_BATCH = 200  # check results recorded per transaction
NOT_ON_PLATFORM = "not on the platform any more"
MAX_CONCURRENCY = 100  # checks in flight at once, at most (the pooled client keeps as many connections)
from reconciler.oauth.refresh import REFRESH_REFUSED, Refreshed, needs_refresh, refresh_grant
from reconciler.oauth.revoke import by_hand, revoke_grant
from reconciler.oauth.tokens import REFRESH_TOKEN, TokenSet, missing_scopes
from reconciler.vocabulary import Health
from reconciler.workspace import Workspace


class StoredAuthorization(Protocol):
    """What the worker reads of an authorization (the platform's ``AuthRecord``)."""

    @property
    def id(self) -> str: ...

    @property
    def provider(self) -> str: ...

    @property
    def method(self) -> str: ...

    @property
    def scopes(self) -> tuple[str, ...]: ...

    @property
    def token_expires_at(self) -> datetime | None: ...


class CredentialStore(Protocol):
    """The platform as the worker uses it; ``Platform`` satisfies it. Unknown ids raise NotFoundError."""

    def get_authorization(self, auth_id: str) -> StoredAuthorization: ...

    def stored_secrets(self, auth_id: str) -> dict[str, Any]: ...

    def record_health(self, auth_id: str, *, status: Health, reason: str = "", checked_at: datetime | None = None,
                      scopes: tuple[str, ...] | None = None, token_expires_at: datetime | None = None,
                      requests: int = 1) -> object: ...

    def reauthorize(self, auth_id: str, *, credentials: Mapping[str, str], token_expires_at: datetime | None = None,
                    scopes: tuple[str, ...] = ()) -> object: ...

    def record_request(self, auth_id: str, count: int = 1, at: datetime | None = None) -> None: ...

    def stored_authorizations(self, auth_ids: Sequence[str]) -> list[tuple[StoredAuthorization, dict[str, Any]]]:
        """Records with their decrypted ``config`` and ``credentials``, in one read; unknown ids left out."""
        ...

    def record_health_many(self, results: Sequence[Mapping[str, Any]]) -> int:
        """Many ``record_health`` keyword sets (plus ``auth_id``) in one transaction; deleted ones skipped."""
        ...


@dataclass(frozen=True)
class _Grant:
    """One authorization loaded for work: its record, method and (never shown) credentials."""

    record: StoredAuthorization
    method: MethodSpec
    config: dict[str, Any] = field(repr=False)
    credentials: dict[str, str] = field(repr=False)

    def tokens(self) -> TokenSet:
        return TokenSet(dict(self.credentials), as_utc_or_none(self.record.token_expires_at), tuple(self.record.scopes))

    def target(self, tokens: TokenSet | None = None) -> CheckTarget:
        t = tokens or self.tokens()
        return CheckTarget(self.record.id, self.record.provider, self.method, self.config, t.credentials, t.scopes,
                           t.expires_at)


# Per authorization id, for every worker of this process (see ProviderWorker._exclusive).
_AUTH_LOCKS: dict[str, threading.Lock] = {}
_AUTH_LOCKS_GUARD = threading.Lock()


class ProviderWorker:
    """Checks, refreshes and revokes the credentials of one platform; thread-safe. See the module docstring."""

    def __init__(self, store: CredentialStore, catalog: Catalog, workspace: Workspace, *,
                 client_factory: Callable[[int], httpx2.Client] = lambda size: provider_client(size)) -> None:
        self.store = store
        self.catalog = catalog
        self.workspace = workspace
        self.settings = workspace.settings
        self._client_factory = client_factory
        self._lock = threading.Lock()
        self._apps: dict[str, OAuthApp | AuthctlError] = {}
        self._http: httpx2.Client | None = None

    def __repr__(self) -> str:
        return f"ProviderWorker({self.workspace.root})"

    def client(self) -> httpx2.Client:
        """The one pooled client every run of this worker shares (kept alive: a served platform runs many)."""
        with self._lock:
            if self._http is None:
                self._http = self._client_factory(MAX_CONCURRENCY)
            return self._http

    def close(self) -> None:
        with self._lock:
            http, self._http = self._http, None
        if http is not None:
            http.close()

    # -- plumbing ------------------------------------------------------------------------------------
    def app(self, provider: str) -> OAuthApp:
        """The provider's OAuth app (read once per worker); OAuthError / SecretError saying what to add."""
        with self._lock:
            found = self._apps.get(provider)
            if found is None:
                try:
                    found = oauth_app(self.workspace, provider)
                except AuthctlError as exc:
                    found = exc
                self._apps[provider] = found
        if isinstance(found, AuthctlError):
            raise found
        return found

    def _app_or_none(self, provider: str) -> OAuthApp | None:
        try:
            return self.app(provider)
        except AuthctlError:
            return None

    @contextmanager
    def _exclusive(self, auth_id: str) -> Iterator[None]:
        """One refresh-and-check per authorization at a time in this process, whichever worker runs it.

        A rotated refresh token works once: two workers refreshing the same grant at once (the
        served platform's schedule and a request, say) would make the loser's refresh fail
        before the winner has stored the new tokens, and mark a good grant unhealthy.
        """
        with _AUTH_LOCKS_GUARD:
            lock = _AUTH_LOCKS.setdefault(auth_id, threading.Lock())
        with lock:
            yield

    def _load(self, auth_id: str) -> _Grant | tuple[str, str]:
        """One authorization read now (refresh, revocation, a lost refresh race); NotFoundError if it is gone."""
        return self._grant(self.store.get_authorization(auth_id), self.store.stored_secrets(auth_id))

    def _grant(self, record: StoredAuthorization, secrets: Mapping[str, Any]) -> _Grant | tuple[str, str]:
        """The grant to work on, or ``(id, why not)`` when its method is not in the catalog."""
        method = self.catalog.method(record.provider, record.method)
        if method is None:
            return record.id, f"{record.provider}/{record.method} is not in the provider catalog"
        credentials = {k: str(v) for k, v in (secrets.get("credentials") or {}).items()}
        return _Grant(record, method, dict(secrets.get("config") or {}), credentials)

    def _map(self, work: Callable[[httpx2.Client, str], Any], auth_ids: Sequence[str], concurrency: int,
             stop: threading.Event | None) -> list[Any]:
        ids = list(dict.fromkeys(auth_ids))
        if not ids:
            return []
        workers = max(1, min(concurrency, len(ids), MAX_CONCURRENCY))

        def one(client: httpx2.Client, auth_id: str) -> Any:
            return None if stop is not None and stop.is_set() else work(client, auth_id)

        client = self.client()
        with ThreadPoolExecutor(workers, "authctl-credentials") as pool:
            results = list(pool.map(lambda auth_id: one(client, auth_id), ids))
        return [r for r in results if r is not None]

    # -- refresh -------------------------------------------------------------------------------------
    def _refresh(self, client: httpx2.Client, grant: _Grant, tokens: TokenSet) -> tuple[Refreshed, TokenSet, int]:
        """Refresh and store; on ``invalid_grant`` use tokens another worker stored meanwhile, if any.

        Returns the outcome, the tokens to use from now on, and how many of its requests the
        store counted already (``reauthorize`` counts the token exchange it records).
        """
        endpoints = oauth_endpoints(self.settings, grant.record.provider, grant.method)
        outcome = refresh_grant(client, endpoints, self.app(grant.record.provider), tokens)
        if outcome.tokens is not None:
            fresh = outcome.tokens
            credentials = {**grant.credentials, **fresh.credentials}
            self.store.reauthorize(grant.record.id, credentials=credentials, token_expires_at=fresh.expires_at,
                                   scopes=fresh.scopes)
            return outcome, replace(fresh, credentials=credentials), 1
        if outcome.refused:
            current = self._load(grant.record.id)
            if isinstance(current, _Grant) and current.credentials.get(REFRESH_TOKEN) != tokens.refresh_token:
                return Refreshed(current.tokens(), requests=outcome.requests), current.tokens(), 0
        return outcome, tokens, 0

    def _can_refresh(self, grant: _Grant, tokens: TokenSet) -> str | None:
        """None when the grant can be refreshed; else why not (one line)."""
        if grant.method.kind is not MethodKind.OAUTH2:
            return "not an OAuth 2 authorization"
        if not tokens.refresh_token:
            return "the provider issued no refresh token"
        try:
            self.app(grant.record.provider)
        except AuthctlError:
            provider = grant.record.provider
            return f"no usable OAuth app for {provider} (oauth_clients.{provider} in authctl.yaml)"
        return None

    # -- health --------------------------------------------------------------------------------------
    def check_health(self, auth_ids: Sequence[str], concurrency: int = DEFAULT_CONCURRENCY,
                     stop: threading.Event | None = None) -> list[HealthReport]:
        """Check each authorization (refreshing expiring tokens first) and record the results; in the given order.

        Ids the platform does not know are left out. The authorizations are read in one go and the results recorded in batches (one
        transaction per :data:`RECORD_BATCH`), so the platform's work stays small beside the
        network's; new tokens are stored at once, each in its own transaction.
        """
        ids = list(dict.fromkeys(auth_ids))
        if not ids:
            return []
        loaded = {record.id: (record, secrets) for record, secrets in self.store.stored_authorizations(ids)}
        workers = max(1, min(concurrency, len(ids), MAX_CONCURRENCY))
        reports: list[HealthReport] = []
        pending: list[dict[str, Any]] = []
        client = self.client()
        with ThreadPoolExecutor(workers, "authctl-checks") as pool:
            futures = [pool.submit(self._check_one, client, auth_id, loaded.get(auth_id), stop) for auth_id in ids]
            for future in futures:
                checked = future.result()
                if checked is None:
                    continue
                report, record = checked
                reports.append(report)
                if record is not None:
                    pending.append(record)
                if len(pending) >= RECORD_BATCH:
                    self.store.record_health_many(pending)
                    pending = []
        if pending:
            self.store.record_health_many(pending)
        return reports

    def _check_one(self, client: httpx2.Client, auth_id: str, loaded: tuple[StoredAuthorization, dict[str, Any]] | None,
                   stop: threading.Event | None) -> _Checked | None:
        if stop is not None and stop.is_set():
            return None
        if loaded is None:  # not on the platform: left out (the protocol's rule)
            return None
        with self._exclusive(auth_id):
            try:
                return self._check(client, self._grant(*loaded))
            except NotFoundError:
                return HealthReport(auth_id, Health.UNKNOWN, NOT_ON_PLATFORM, utc_now()), None
            except PlatformError:
                raise  # the platform cannot be used: the run stops with that error
            except Exception as exc:  # noqa: BLE001 - a bug in one check must not end the run
                return _checked(auth_id, unknown(f"the check failed inside authctl ({type(exc).__name__})"), 0, False)

    def _check(self, client: httpx2.Client, grant: _Grant | tuple[str, str]) -> _Checked:
        if isinstance(grant, tuple):
            return _checked(grant[0], unknown(grant[1]), 0, False)
        auth_id = grant.record.id
        tokens, requests, counted, refreshed, note = grant.tokens(), 0, 0, False, ""
        cannot = self._can_refresh(grant, tokens)
        if cannot is None and needs_refresh(tokens, utc_now()):
            outcome, tokens, stored = self._refresh(client, grant, tokens)
            requests, counted = requests + outcome.requests, counted + stored
            if outcome.refused:
                return _checked(auth_id, Verdict(Health.UNHEALTHY, REFRESH_REFUSED), requests, False)
            refreshed, note = outcome.ok, "" if outcome.ok else outcome.reason
        app = self._app_or_none(grant.record.provider)
        result = run_check(client, grant.target(tokens), self.settings, app)
        requests += result.requests
        if _refused_token(result) and cannot is None and not refreshed and not note:
            outcome, tokens, stored = self._refresh(client, grant, tokens)  # the provider knows better than our clock
            requests, counted = requests + outcome.requests, counted + stored
            if outcome.refused:
                return _checked(auth_id, Verdict(Health.UNHEALTHY, REFRESH_REFUSED), requests, False)
            if outcome.ok:
                refreshed = True
                result = run_check(client, grant.target(tokens), self.settings, app)
                requests += result.requests
        verdict = result.verdict
        if verdict.status is Health.UNHEALTHY and verdict.reason == EXPIRED and (note or cannot):
            verdict = replace(verdict, reason=f"{EXPIRED} (cannot refresh: {note or cannot})")
        return _checked(auth_id, verdict, requests, refreshed, counted)

    # -- refresh on demand (`authctl refresh`) ----------------------------------------------------------
    def refresh_tokens(self, auth_ids: Sequence[str], force: bool = False,
                       concurrency: int = DEFAULT_CONCURRENCY) -> list[RefreshReport]:
        """Refresh each OAuth 2 grant (only those close to expiry unless ``force``); in the given order.

        Ids the platform does not know are left out.
        """
        reports = self._map(lambda client, auth_id: self._refresh_one(client, auth_id, force), auth_ids,
                            concurrency, None)
        return [r for r in reports if not (r.outcome == "skipped" and r.reason == NOT_ON_PLATFORM)]

    def _refresh_one(self, client: httpx2.Client, auth_id: str, force: bool) -> RefreshReport:
        with self._exclusive(auth_id):
            try:
                grant = self._load(auth_id)
            except NotFoundError:
                return RefreshReport(auth_id, "skipped", NOT_ON_PLATFORM)
            if isinstance(grant, tuple):
                return RefreshReport(auth_id, "skipped", grant[1])
            tokens = grant.tokens()
            cannot = self._can_refresh(grant, tokens)
            if cannot is not None:
                return RefreshReport(auth_id, "skipped", cannot, tokens.expires_at)
            if not force and not needs_refresh(tokens, utc_now()):
                return RefreshReport(auth_id, "not_needed", "not close to expiry", tokens.expires_at)
            outcome, fresh, stored = self._refresh(client, grant, tokens)
            if outcome.ok and outcome.requests > stored:  # another worker's tokens: our refused try still counts
                self.store.record_request(auth_id, outcome.requests - stored)
            if outcome.refused:
                self.store.record_health(auth_id, status=Health.UNHEALTHY, reason=REFRESH_REFUSED,
                                         checked_at=utc_now(), requests=outcome.requests)
                return RefreshReport(auth_id, "failed", REFRESH_REFUSED, tokens.expires_at, requests=outcome.requests)
            if not outcome.ok:
                self.store.record_request(auth_id, outcome.requests)
                return RefreshReport(auth_id, "failed", outcome.reason, tokens.expires_at, requests=outcome.requests)
            missing = missing_scopes(required_scopes(grant.method), fresh.scopes) if fresh.scopes else ()
            if missing:  # reauthorize said healthy; the grant still lacks what the catalog requires
                self.store.record_health(auth_id, status=Health.UNHEALTHY, reason=f"missing scope {', '.join(missing)}",
                                         checked_at=utc_now(), requests=0)
            return RefreshReport(auth_id, "refreshed", "", fresh.expires_at, outcome.rotated(tokens),
                                 outcome.requests)

    # -- revocation (before a delete) -----------------------------------------------------------------
    def revoke_tokens(self, auth_id: str) -> str | None:
        """Revoke an OAuth 2 grant's tokens at the provider; a warning when it could not (never raises for it)."""
        try:
            grant = self._load(auth_id)
        except NotFoundError:
            return None
        if isinstance(grant, tuple) or grant.method.kind is not MethodKind.OAUTH2:
            return None
        provider = grant.record.provider
        endpoints = oauth_endpoints(self.settings, provider, grant.method)
        if endpoints.revocation_url is None or not grant.credentials:
            return None
        try:
            app = self.app(provider)
        except AuthctlError:
            return by_hand(provider, f"no usable OAuth app: oauth_clients.{provider} in authctl.yaml")
        try:
            return revoke_grant(self.client(), endpoints, app, grant.credentials).warning
        except Exception as exc:  # noqa: BLE001 - a failure to revoke never keeps the authorization
            return by_hand(provider, f"revocation failed inside authctl ({type(exc).__name__})")


_Checked = tuple[HealthReport, dict[str, Any] | None]  # the report, and what to record (None: nothing)


def _checked(auth_id: str, verdict: Verdict, requests: int, refreshed: bool, counted: int = 0) -> _Checked:
    """The report of one check and the ``record_health`` keywords that record it.

    ``counted``: requests the store counted already (``reauthorize`` counts its token exchange).
    """
    checked = utc_now()
    report = HealthReport(auth_id, verdict.status, verdict.reason, checked, verdict.scopes_missing, refreshed,
                          requests)
    return report, {"auth_id": auth_id, "status": verdict.status, "reason": verdict.reason, "checked_at": checked,
                    "scopes": verdict.granted, "token_expires_at": verdict.expires_at,
                    "requests": requests - counted}


def _refused_token(result: CheckResult) -> bool:
    """The provider refused the token itself (not a missing scope): a refresh may fix it."""
    return result.status is Health.UNHEALTHY and not result.verdict.scopes_missing \
        and not result.verdict.reason.startswith("missing scope")


__all__ = ["MAX_CONCURRENCY", "NOT_ON_PLATFORM", "CredentialStore", "ProviderWorker", "StoredAuthorization"]
