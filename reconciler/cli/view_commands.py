"""Read-only views of live state: `authctl status` and `authctl show`."""

from __future__ import annotations

import click

from reconciler.backends import open_backend
from reconciler.vocabulary import Access, ObjectKind
from reconciler.cli import output
from reconciler.cli.common import format_option, managed_objects, workspace_catalog, workspace_options
from reconciler.errors import NotFoundError
from reconciler.views import (
    AUTH_SORT_KEYS,
    JOB_SORT_KEYS,
    authorization_row,
    authorization_rows,
    job_rows,
    managed_names,
    resolve_authorization,
)
from reconciler.render.status import show_view, status_table
from reconciler.workspace import Workspace


@click.command()
@workspace_options
@format_option("table", "json", default="table")
@click.option("--sort", type=click.Choice(AUTH_SORT_KEYS), default="label", show_default=True)
@click.option("--reverse", is_flag=True, help="Reverse the sort order.")
def status(workspace: Workspace, fmt: str, sort: str, reverse: bool) -> None:
    """List every authorization on the platform with health, owner and job counts."""
    backend = open_backend(workspace, workspace_catalog(workspace), Access.READ)
    try:
        snapshot = backend.snapshot()
    finally:
        backend.close()
    rows = authorization_rows(snapshot, managed_objects(workspace), sort=sort, reverse=reverse)
    if fmt == "json":
        output.print_json([r.to_json() for r in rows])
    else:
        output.stdout().print(status_table(rows))


@click.command()
@click.argument("name_or_id")
@workspace_options
@format_option("text", "json")
@click.option("--sort-jobs", type=click.Choice(JOB_SORT_KEYS), default="name", show_default=True)
def show(name_or_id: str, workspace: Workspace, fmt: str, sort_jobs: str) -> None:
    """Show one authorization (manifest name, id or label): summary, jobs and request counts."""
    managed = managed_objects(workspace)
    backend = open_backend(workspace, workspace_catalog(workspace), Access.READ)
    try:
        snapshot = backend.snapshot()
        auth = resolve_authorization(snapshot, managed, name_or_id)
        if auth is None:
            raise NotFoundError(f"no authorization with manifest name, id or label {name_or_id!r} "
                                "(see `authctl status`)")
        usage = backend.request_counts(auth.id)
    finally:
        backend.close()
    row = authorization_row(auth, snapshot, managed_names(managed, ObjectKind.AUTHORIZATION))
    jobs = job_rows([j for j in snapshot.jobs.values() if auth.id in j.auth_ids], managed, sort=sort_jobs)
    if fmt == "json":
        data = row.to_json()
        data["jobs"] = [j.to_json() for j in jobs]
        data["requests"] = usage.__dict__ if usage else None
        output.print_json(data)
    else:
        output.stdout().print(show_view(row, jobs, usage))


COMMANDS = [status, show]
