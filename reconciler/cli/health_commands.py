"""`authctl health` and `authctl refresh`: provider checks and token refreshes, run where the credentials are.

Both go through the backend's ``CredentialWorker`` (the embedded platform in process, the
served platform server-side; a real Lytics reports its own recorded health), which records
every result on the platform, so `status`, `show` and `plan` show it afterwards.

Which authorizations: the ones this workspace manages (state, by manifest name) by
default; ``NAME...`` (manifest name, id or label, as every command takes them); ``--all``
for every authorization on the platform (an unattended daily check). JSON follows the
project's rule: ``{"format_version", "authorizations": [...], "summary": {...}}``.

Exit codes: 0; with ``--fail-on unhealthy`` 1 when any is unhealthy (``--fail-on
unknown``: unhealthy or unknown), for a scheduled CI job. `refresh` exits 1 when a
refresh failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click

from reconciler.backends import Backend, CredentialWorker, open_backend
from reconciler.catalog import Catalog, MethodKind
from reconciler.cli import output
from reconciler.cli.common import managed_objects, output_options, workspace_catalog, workspace_options
from reconciler.errors import ExitCode, UsageError
from reconciler.live import LiveAuthorization, Snapshot
from reconciler.render.health import HealthRow, RefreshRow, health_summary, health_table, refresh_table
from reconciler.state.records import ManagedIndex
from reconciler.views import managed_names, require_authorization
from reconciler.vocabulary import Access, Health, ObjectKind
from reconciler.workspace import Workspace

FAIL_ON = {Health.UNHEALTHY.value: {Health.UNHEALTHY}, Health.UNKNOWN.value: {Health.UNHEALTHY, Health.UNKNOWN}}
WIDE_HELP = "Every value whole (lines may be wider than the terminal)."


def _worker(backend: Backend) -> CredentialWorker:
    if not isinstance(backend, CredentialWorker):
        raise UsageError(f"the {backend.name} backend cannot check credentials at their providers")
    return backend


@contextmanager
def _chosen_credentials(workspace: Workspace, names: tuple[str, ...], every: bool
                        ) -> Iterator[tuple[CredentialWorker, list[LiveAuthorization], ManagedIndex, Catalog]]:
    """health's and refresh's start: the backend's credential worker (written to: results are recorded) and
    the authorizations NAMEs or --all choose; the backend is closed when the block ends."""
    catalog = workspace_catalog(workspace)
    managed = managed_objects(workspace)
    backend = open_backend(workspace, catalog, Access.WRITE)
    try:
        worker = _worker(backend)
        yield worker, _chosen(backend.snapshot(), managed, names, every), managed, catalog
    finally:
        backend.close()


def _chosen(snapshot: Snapshot, managed: ManagedIndex, names: tuple[str, ...], every: bool) -> list[LiveAuthorization]:
    """NAMEs as every command resolves them; else all (``--all``) or those this workspace manages, by label."""
    if names and every:
        raise UsageError("name authorizations or use --all, not both")
    if names:
        chosen = [require_authorization(snapshot, managed, ref) for ref in names]
        return list({a.id: a for a in chosen}.values())
    if every:
        auths = list(snapshot.authorizations.values())
    else:
        ids = managed_names(managed, ObjectKind.AUTHORIZATION)
        auths = [a for a in snapshot.authorizations.values() if a.id in ids]
    return sorted(auths, key=lambda a: (a.label.casefold(), a.id))


def _nothing(every: bool) -> str:
    return "No authorizations on the platform." if every else \
        "No authorizations managed by this workspace (name some, or use --all for every one on the platform)."


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--all", "every", is_flag=True, help="Every authorization on the platform, managed or not.")
@click.option("--fail-on", type=click.Choice(tuple(FAIL_ON)), default=None,
              help="Exit 1 when any authorization is unhealthy (unknown: unhealthy or unknown).")
@click.option("--concurrency", type=click.IntRange(1, 100), default=20, show_default=True,
              help="Checks in flight at once.")
@click.option("--wide", is_flag=True, help=WIDE_HELP)
@workspace_options
@output_options("text", "json")
def health(names: tuple[str, ...], every: bool, fail_on: str | None, concurrency: int, wide: bool,
           workspace: Workspace, fmt: str) -> int:
    """Check credentials at their providers: Healthy, Unhealthy (expired, revoked, missing scope...) or Unknown.

    NAME is a manifest name, id or label; by default every authorization this workspace
    manages. Expiring OAuth tokens are refreshed first. Results are recorded on the platform
    (`status`, `show` and `plan` show them). Exit 0, or 1 with --fail-on when it applies.
    """
    with _chosen_credentials(workspace, names, every) as (worker, chosen, managed, _catalog):
        reports = {r.auth_id: r for r in worker.check_health([a.id for a in chosen], concurrency)} if chosen else {}
    names_by_id = managed_names(managed, ObjectKind.AUTHORIZATION)
    rows = [HealthRow(a.id, names_by_id.get(a.id), a.label, a.provider, a.method, r.status, r.reason, r.checked_at,
                      r.scopes_missing, r.refreshed)
            for a in chosen if (r := reports.get(a.id)) is not None]
    if fmt == "json":
        output.print_json({"format_version": output.JSON_FORMAT_VERSION,
                           "authorizations": [row.to_json() for row in rows], "summary": health_summary(rows)})
    elif not chosen:
        output.print_lines(output.stdout(), _nothing(every))
    else:
        output.stdout().print(health_table(rows, wide=wide, now=datetime.now(UTC)), soft_wrap=wide)
    failing = FAIL_ON.get(fail_on or "", set())
    return ExitCode.ERROR if any(row.health in failing for row in rows) else ExitCode.OK


def _oauth2(catalog: Catalog, auth: LiveAuthorization) -> bool:
    spec = catalog.method(auth.provider, auth.method)
    return spec is not None and spec.kind is MethodKind.OAUTH2


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--all", "every", is_flag=True, help="Every OAuth 2 authorization on the platform, managed or not.")
@click.option("--if-expiring", is_flag=True,
              help="Only tokens that expire within five minutes (default: refresh every one named).")
@click.option("--wide", is_flag=True, help=WIDE_HELP)
@workspace_options
@output_options("text", "json")
def refresh(names: tuple[str, ...], every: bool, if_expiring: bool, wide: bool, workspace: Workspace,
            fmt: str) -> int:
    """Refresh OAuth 2 access tokens now; rotated refresh tokens are stored atomically.

    NAME is a manifest name, id or label; by default every OAuth 2 authorization this
    workspace manages. A refresh token the provider refuses makes the authorization
    unhealthy (`authctl plan` then shows a reauthorize). Exit 1 when a refresh failed.
    """
    with _chosen_credentials(workspace, names, every) as (worker, chosen, managed, catalog):
        if not names:
            chosen = [a for a in chosen if _oauth2(catalog, a)]
        ids = [a.id for a in chosen]
        reports = {r.auth_id: r for r in worker.refresh_tokens(ids, force=not if_expiring)} if ids else {}
    names_by_id = managed_names(managed, ObjectKind.AUTHORIZATION)
    rows = [RefreshRow(a.id, names_by_id.get(a.id), a.label, r.outcome, r.reason, r.token_expires_at, r.rotated)
            for a in chosen if (r := reports.get(a.id)) is not None]
    if fmt == "json":
        summary = {word: sum(1 for r in rows if r.outcome == word)
                   for word in ("refreshed", "not_needed", "skipped", "failed")}
        output.print_json({"format_version": output.JSON_FORMAT_VERSION,
                           "authorizations": [row.to_json() for row in rows], "summary": summary})
    else:
        output.stdout().print(refresh_table(rows, wide=wide), soft_wrap=wide)
    return ExitCode.ERROR if any(row.outcome == "failed" for row in rows) else ExitCode.OK


COMMANDS = [health, refresh]
