"""`authctl login NAME` and `authctl reauth NAME`: an OAuth connection made, or renewed in place, by a person.

Plans name these commands in their ``reauthorize`` actions (apply leaves those to a
person). Both read the manifests, the state and one snapshot first, and refuse before
anyone is sent to a browser when the command does not fit what the plan says:

- ``login``: the plan's action for NAME is a ``reauthorize`` with ``authctl login``:
  NAME is not connected yet (or is in state but gone from the platform), or its provider,
  method or config changed, which an OAuth connection cannot change in place. In that
  last case login connects a new one (with a temporary label while the old one holds the
  label) and state records the old one as deposed, exactly as apply's replace does: the
  next ``authctl apply`` moves its jobs onto the new connection, deletes the old one, then
  gives the new one its label. A NAME that is connected and needs nothing of that is
  refused: renew its tokens with ``authctl reauth NAME``.
- ``reauth``: NAME is managed and live; the same browser step, then the backend's
  re-authorize in place (same id: its jobs keep running; health back to healthy). State
  is not changed: it already maps NAME to that id.

The created authorization carries a creation marker journaled before the call, and is
recorded through the state store's locked, journaled ``adopt``; a login killed between
the two is settled by the next apply's recovery (by marker). Tokens go only to the
platform: never printed, logged, nor written to state or plans. The URL is printed on
stderr; the one-line result (id, label, scopes, expiry) on stdout.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli import output
from reconciler.cli.common import workspace_options
from reconciler.errors import NotFoundError, OAuthError, StateError, UsageError
from reconciler.render.escape import terminal_text
from reconciler.vocabulary import ObjectKind
from reconciler.workspace import Workspace

if TYPE_CHECKING:
    from reconciler.catalog import MethodSpec
    from reconciler.live import LiveAuthorization, Snapshot
    from reconciler.manifest.model import DesiredAuthorization
    from reconciler.oauth.flow import FlowMode
    from reconciler.oauth.tokens import TokenSet
    from reconciler.plan import Action
    from reconciler.session import Session

AUTH = ObjectKind.AUTHORIZATION
ADOPT_LOCK_WAIT = 60.0  # seconds login waits for a running apply's lock before recording what it created
_IN_PLACE_FIELDS = ("label", "description")


def flow_options(func: Any) -> Any:
    """``--timeout``, ``--no-browser`` and ``--manual`` (login and reauth)."""
    func = click.option("--manual", is_flag=True,
                        help="Print the URL and read the address the browser ends on from stdin (a browser on "
                             "another machine; its page fails to load: copy the address bar).")(func)
    func = click.option("--no-browser", is_flag=True,
                        help="Print the URL instead of opening a browser, and wait for the redirect.")(func)
    func = click.option("--timeout", type=click.FloatRange(min=1), default=300.0, show_default=True,
                        metavar="SECONDS", help="How long to wait for the authorization.")(func)
    return func


@dataclass(frozen=True)
class _Target:
    """What one login or reauth acts on, decided from the manifests, state and one snapshot."""

    desired: DesiredAuthorization
    method: MethodSpec
    live: LiveAuthorization | None  # reauth: the connection; login: the one it replaces, if live
    deposes: str | None = None  # login: the live id state maps NAME to now (replaced, or gone)


class _TerminalPrompt:
    """The flow's terminal: the URL on stderr (unwrapped, so it can be copied), the pasted address from stdin."""

    def __init__(self, provider: str, timeout: float) -> None:
        self.provider = provider
        self.timeout = timeout

    def show_authorization_url(self, url: str, mode: FlowMode) -> None:
        from reconciler.oauth.flow import FlowMode

        lead = {FlowMode.BROWSER: f"Opening a browser to authorize authctl at {self.provider}; if none opens, "
                                  "open this URL:",
                FlowMode.NO_BROWSER: f"Open this URL in a browser to authorize authctl at {self.provider}:",
                FlowMode.MANUAL: f"Open this URL in a browser (on any machine) to authorize authctl at "
                                 f"{self.provider}:"}[mode]
        tail = ("Then paste the address the browser ends on (its page fails to load; copy the address bar) and "
                "press Enter:" if mode is FlowMode.MANUAL
                else f"Waiting for the redirect to this machine (up to {self.timeout:g} s)...")
        sys.stderr.write(f"{lead}\n{terminal_text(url)}\n{tail}\n")
        sys.stderr.flush()

    def read_redirect(self) -> str:
        return sys.stdin.readline()


def _flow_mode(no_browser: bool, manual: bool) -> FlowMode:
    from reconciler.oauth.flow import FlowMode

    if manual:
        return FlowMode.MANUAL
    return FlowMode.NO_BROWSER if no_browser else FlowMode.BROWSER


def _bare_name(name: str) -> str:
    kind, _, bare = name.rpartition("/")
    if kind and ObjectKind.of_address_prefix(kind) != AUTH:
        raise UsageError(f"{name!r}: login and reauth act on authorizations (Authorization/NAME or NAME)")
    return bare


def _desired(session: Session, name: str, command: str) -> DesiredAuthorization:
    desired = session.loaded.desired
    found = desired.authorizations.get(name)
    if found is not None:
        return found
    if name in desired.jobs:
        raise UsageError(f"{name} is a job; `authctl {command}` connects an authorization (the job's "
                         f"authorizations are: {', '.join(desired.jobs[name].authorizations) or 'none'})")
    raise NotFoundError(f"no manifest declares an authorization named {name!r}; declare it (kind: Authorization, "
                        "with an OAuth method) first")


def _oauth_method(session: Session, d: DesiredAuthorization, command: str) -> MethodSpec:
    method = session.catalog.method(d.provider, d.method)
    if method is None:  # the manifests were validated against this catalog: cannot happen
        raise NotFoundError(f"{d.provider}/{d.method} is not in the provider catalog")
    if not method.is_oauth:
        how = ("`authctl apply` creates it" if command == "login"
               else "to change them, change the secret and run `authctl apply`")
        raise OAuthError(f"{d.name} uses method {d.method} (kind {method.kind.value}): its credentials come from "
                         f"the manifest; {command} is for OAuth methods ({how})")
    return method


def _action(session: Session, snapshot: Snapshot, d: DesiredAuthorization) -> Action | None:
    """The plan's action for ``d``; None when the plan has nothing to do for it (a no-op)."""
    plan = session.plan(snapshot)
    return next((a for a in plan.actions if a.address == d.address), None)


def _managed_id(session: Session, d: DesiredAuthorization) -> str | None:
    current = (session.state.managed() if session.state is not None else {}).get((AUTH, d.name))
    return current.live_id if current is not None else None


def _must_replace(action: Action | None) -> tuple[str, ...]:
    """The fields an OAuth connection cannot change in place that the plan changes (its replace reasons)."""
    return () if action is None else tuple(c.path for c in action.changes if c.path not in _IN_PLACE_FIELDS)


def _login_target(session: Session, snapshot: Snapshot, d: DesiredAuthorization, method: MethodSpec) -> _Target:
    from reconciler.plan import ActionKind

    action = _action(session, snapshot, d)
    managed_id = _managed_id(session, d)
    if action is not None and action.kind is ActionKind.REAUTHORIZE and action.live_id is None:
        holders = [b for b in action.blocked_by if b.kind == "authorization"]
        if holders:
            held = holders[0]
            raise OAuthError(f"the label {d.label!r} is held by the unmanaged authorization {held.id} "
                             f"({held.name}); labels are unique, so nothing was started",
                             hint=f"if it is this connection: `authctl import {d.name} {held.id}`, then `authctl "
                                  f"reauth {d.name}` if it needs new tokens; otherwise give {d.name} another label")
        return _Target(d, method, None, managed_id)  # new, or in state but gone from the platform
    live_id = action.live_id if action is not None and action.live_id else managed_id
    live = snapshot.authorizations.get(live_id or "")
    if action is not None and action.kind is ActionKind.REAUTHORIZE and live is not None and _must_replace(action):
        return _Target(d, method, live, live.id)
    raise OAuthError(f"{d.name} is already connected (id {live_id}); login connects a new OAuth connection",
                     hint=f"to renew its tokens in place (same id, its jobs keep running): `authctl reauth {d.name}`")


def _reauth_target(session: Session, snapshot: Snapshot, d: DesiredAuthorization, method: MethodSpec) -> _Target:
    action = _action(session, snapshot, d)
    live_id = action.live_id if action is not None and action.live_id else _managed_id(session, d)
    live = snapshot.authorizations.get(live_id or "")
    if live is None:
        raise OAuthError(f"{d.name} is not connected on the platform (any more): nothing to re-authorize",
                         hint=f"connect it with `authctl login {d.name}`")
    changed = _must_replace(action)
    if changed:
        raise OAuthError(f"the manifest changes {', '.join(changed)} of {d.name}, which an OAuth connection cannot "
                         "change in place: reauth would keep the old ones",
                         hint=f"connect a new one with `authctl login {d.name}` (the next apply moves its jobs)")
    return _Target(d, method, live)


def _temporary_label(label: str, holder: str, snapshot: Snapshot) -> str:
    """While the replaced connection still holds the label (labels are unique); apply renames it after."""
    taken = {a.label.casefold() for a in snapshot.authorizations.values()}
    candidate, n = f"{label} (replacing {holder[:8]})", 2
    while candidate.casefold() in taken:
        candidate, n = f"{label} (replacing {holder[:8]}, {n})", n + 1
    return candidate


def _authorize(workspace: Workspace, target: _Target, backend: Any, timeout: float, no_browser: bool,
               manual: bool) -> TokenSet:
    """The browser step (after asking the backend whether it takes the tokens at all)."""
    from reconciler.backends.base import OAuthHandoff
    from reconciler.oauth.clients import oauth_app
    from reconciler.oauth.endpoints import oauth_endpoints
    from reconciler.oauth.flow import FlowOptions, new_login, run_login
    from reconciler.oauth.tokens import missing_scopes

    d, method = target.desired, target.method
    endpoints = oauth_endpoints(workspace.settings, d.provider, method)
    app = oauth_app(workspace, d.provider)
    if isinstance(backend, OAuthHandoff):
        backend.check_oauth_handoff(d.provider, d.method)
    login = new_login(method.kind, app, endpoints, FlowOptions(_flow_mode(no_browser, manual), timeout))
    tokens = run_login(login, _TerminalPrompt(d.provider, timeout))
    missing = missing_scopes(endpoints.scopes, tokens.scopes)
    if missing:
        output.stderr().print(output.message_text(
            f"WARNING: {d.provider} granted {d.name} without the scope(s) {', '.join(missing)} that {d.provider} "
            f"{d.method} needs; the connection is stored, but its jobs will fail and `authctl health` reports it "
            f"unhealthy. Run `authctl reauth {d.name}` and grant every scope.", style="bold yellow"))
    return tokens


def _grant_words(tokens: TokenSet) -> str:
    scopes = ", ".join(tokens.scopes) if tokens.scopes else "none reported"
    expiry = (f"token expires {tokens.expires_at:%Y-%m-%d %H:%M} UTC" if tokens.expires_at is not None
              else "token does not expire")
    return f"scopes: {scopes}; {expiry}"


def _secrets(tokens: TokenSet) -> dict[str, Any]:
    from reconciler.manifest.secrets import SecretValue

    return {k: SecretValue(v) for k, v in tokens.credentials.items()}


def _record_login(session: Session, target: _Target, label: str, tokens: TokenSet) -> LiveAuthorization:
    """Create the connection (marker journaled first) and adopt it into state, under the lock."""
    from reconciler.apply.operations import new_marker
    from reconciler.backends import AuthorizationRequest, current_user
    from reconciler.clock import utc_now
    from reconciler.errors import BackendError, TemporaryBackendError
    from reconciler.state.records import ManagedObject
    from reconciler.state.store import StateStore
    from reconciler.vocabulary import JournalOp, JournalPhase

    d, state = target.desired, session.state
    assert isinstance(state, StateStore)
    replaces = target.live.id if target.live is not None else None
    operation = JournalOp.REPLACE_CREATE if replaces else JournalOp.CREATE
    fingerprints = session.fingerprints[d.name].recorded()
    applied = {"provider": d.provider, "method": d.method, "label": label, "description": d.description,
               "config": d.config, "credentials": {}}
    marker = new_marker()
    operation_id = str(uuid.uuid4())
    state.record(operation_id, d.address, operation, JournalPhase.INTENT,
                 {"name": d.name, "label": label, "provider": d.provider, "method": d.method,
                  "fingerprints": fingerprints, "applied": applied, "replaces": target.deposes, "marker": marker,
                  "by": "login"})
    request = AuthorizationRequest(provider=d.provider, method=d.method, type=target.method.lytics_type, label=label,
                                   description=d.description, config=dict(d.config), credentials=_secrets(tokens),
                                   marker=marker, scopes=tokens.scopes, token_expires_at=tokens.expires_at)
    try:
        live = session.backend.create_authorization(request)
    except BackendError as exc:
        if not isinstance(exc, TemporaryBackendError):  # refused: nothing was created
            state.record(operation_id, d.address, operation, JournalPhase.FAILED,
                         {"message": exc.message, "step": "login", "settled": True})
        else:  # the intent stays open: recovery looks for the marker
            exc.hint = exc.hint or ("the connection may have been made after all: the next `authctl apply` records "
                                    "it if so (by its creation marker); then run `authctl plan` before logging in "
                                    "again")
        raise
    obj = ManagedObject(AUTH, d.name, live.id, fingerprints, utc_now(), applied)
    try:
        state.adopt(obj, holder=current_user(), lock_timeout=ADOPT_LOCK_WAIT, deposes=target.deposes)
    except StateError as exc:
        raise StateError(f"{d.address} was connected as {live.id}, but recording it in state failed: {exc.message}",
                         hint="the next `authctl apply` records it (its creation marker proves authctl made it); "
                              f"or run `authctl import {d.name} {live.id}`") from None
    return live


def _open(workspace: Workspace) -> Session:
    from reconciler.session import open_session
    from reconciler.vocabulary import Access

    return open_session(workspace, Access.WRITE)


@click.command("login")
@click.argument("name")
@flow_options
@workspace_options
def login(name: str, timeout: float, no_browser: bool, manual: bool, workspace: Workspace) -> None:
    """Connect the OAuth authorization NAME: log in at the provider, store the tokens on the platform.

    For an Authorization manifest whose method is OAuth (the plan says `authctl login NAME`).
    Opens a browser (--no-browser prints the URL; --manual reads the final address from
    stdin), waits on http://127.0.0.1:PORT/callback, and records the new authorization in
    state. Needs `oauth_clients.PROVIDER` in authctl.yaml.
    """
    name = _bare_name(name)
    session = _open(workspace)
    try:
        d = _desired(session, name, "login")
        method = _oauth_method(session, d, "login")
        snapshot = session.backend.snapshot()
        target = _login_target(session, snapshot, d, method)
        label = d.label if target.live is None else _temporary_label(d.label, target.live.id, snapshot)
        tokens = _authorize(workspace, target, session.backend, timeout, no_browser, manual)
        live = _record_login(session, target, label, tokens)
    finally:
        session.close()
    out = output.stdout()
    out.print(terminal_text(f"Logged in: {d.address} is {live.id} ({live.label}); {_grant_words(tokens)}."),
              markup=False, highlight=False, soft_wrap=True)
    if target.live is not None:
        out.print(terminal_text(
            f"It replaces {target.live.id} (now deposed): run `authctl plan`, then `authctl apply` moves its jobs "
            f"onto {live.id}, deletes {target.live.id} and gives {live.id} the label {d.label!r}."),
            markup=False, highlight=False, soft_wrap=True)


@click.command("reauth")
@click.argument("name")
@flow_options
@workspace_options
def reauth(name: str, timeout: float, no_browser: bool, manual: bool, workspace: Workspace) -> None:
    """Re-authorize the OAuth authorization NAME in place: new tokens, same id, its jobs keep running.

    For a managed, live OAuth connection that broke (revoked, expired, a password change,
    a missing scope: the plan says `authctl reauth NAME`). Same options as login.
    """
    from reconciler.backends import Reauthorization
    from reconciler.cli.common import managed_objects

    name = _bare_name(name)
    if (AUTH, name) not in managed_objects(workspace):
        raise NotFoundError(f"{name} is not managed by this workspace: nothing to re-authorize",
                            hint=f"connect it with `authctl login {name}`, or adopt a live one with "
                                 f"`authctl import {name} ID`")
    session = _open(workspace)
    try:
        d = _desired(session, name, "reauth")
        method = _oauth_method(session, d, "reauth")
        snapshot = session.backend.snapshot()
        target = _reauth_target(session, snapshot, d, method)
        assert target.live is not None
        tokens = _authorize(workspace, target, session.backend, timeout, no_browser, manual)
        live = session.backend.reauthorize(target.live.id, Reauthorization(_secrets(tokens), tokens.scopes,
                                                                           tokens.expires_at))
    finally:
        session.close()
    output.stdout().print(terminal_text(
        f"Re-authorized {d.address}: same id {live.id} ({live.label}), health {live.health.value}; "
        f"{_grant_words(tokens)}."), markup=False, highlight=False, soft_wrap=True)


COMMANDS = [login, reauth]
