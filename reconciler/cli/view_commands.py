"""Read-only views of live state: `authctl status` and `authctl show`.

JSON output follows one rule on every command: a single object carries
``format_version`` at its top (``show``), a list is wrapped in an object with
``format_version`` and a plural key (``status``: ``authorizations``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from reconciler.backends import open_backend
from reconciler.cli import output
from reconciler.cli.common import managed_objects, output_options, workspace_catalog, workspace_options
from reconciler.errors import NotFoundError
from reconciler.live import Snapshot
from reconciler.render.show import config_view, job_view
from reconciler.render.status import show_view, status_table
from reconciler.state.records import ManagedIndex
from reconciler.views import (
    AUTH_NAMED_BY,
    AUTH_SORT_KEYS,
    JOB_NAMED_BY,
    JOB_SORT_KEYS,
    applied_config,
    authorization_row,
    authorization_rows,
    job_detail,
    job_rows,
    managed_names,
    requests_json,
    resolve_object,
)
from reconciler.vocabulary import Access, ObjectKind
from reconciler.workspace import Workspace

WIDE_HELP = "Every column and every value whole, full timestamps (lines may be wider than the terminal)."


@click.command()
@workspace_options
@output_options("text", "json")
@click.option("--sort", type=click.Choice(AUTH_SORT_KEYS), default="label", show_default=True)
@click.option("--reverse", is_flag=True, help="Reverse the sort order.")
@click.option("--wide", is_flag=True, help=WIDE_HELP)
def status(workspace: Workspace, fmt: str, sort: str, reverse: bool, wide: bool) -> None:
    """List every authorization on the platform with health, owner and job counts."""
    backend = open_backend(workspace, workspace_catalog(workspace), Access.READ)
    try:
        snapshot = backend.snapshot()
    finally:
        backend.close()
    rows = authorization_rows(snapshot, managed_objects(workspace), sort=sort, reverse=reverse)
    if fmt == "json":
        output.print_json({"format_version": output.JSON_FORMAT_VERSION, "authorizations": [r.to_json() for r in rows]})
    else:
        output.stdout().print(status_table(rows, wide=wide, now=datetime.now(UTC)), soft_wrap=wide)


@click.command()
@click.argument("name_or_id")
@workspace_options
@output_options("text", "json")
@click.option("--sort-jobs", type=click.Choice(JOB_SORT_KEYS), default="name", show_default=True,
              help="Order of an authorization's jobs.")
@click.option("--wide", is_flag=True, help=WIDE_HELP)
def show(name_or_id: str, workspace: Workspace, fmt: str, sort_jobs: str, wide: bool) -> None:
    """Show one authorization or job, by manifest name, id, label (authorization) or name (job).

    An authorization: summary, applied config, jobs and request counts. A job: summary,
    config and the authorizations it uses. Say Authorization/NAME or Job/NAME when a
    name fits both.
    """
    managed = managed_objects(workspace)
    backend = open_backend(workspace, workspace_catalog(workspace), Access.READ)
    try:
        snapshot = backend.snapshot()
        found = resolve_object(snapshot, managed, name_or_id)
        if found is None:
            raise NotFoundError(f"no authorization with {AUTH_NAMED_BY} {name_or_id!r}, and no job with "
                                f"{JOB_NAMED_BY} {name_or_id!r} (see `authctl status` and `authctl platform jobs list`)")
        usage = backend.request_counts(found.id) if found.kind is ObjectKind.AUTHORIZATION else None
    finally:
        backend.close()
    if found.kind is ObjectKind.JOB:
        _show_job(snapshot, managed, found.id, fmt, wide)
    else:
        _show_authorization(snapshot, managed, found.id, usage, fmt, sort_jobs, wide)


def _show_authorization(snapshot: Snapshot, managed: ManagedIndex, auth_id: str, usage: Any, fmt: str,
                        sort_jobs: str, wide: bool) -> None:
    auth = snapshot.authorizations[auth_id]
    row = authorization_row(auth, snapshot, managed_names(managed, ObjectKind.AUTHORIZATION))
    jobs = job_rows([j for j in snapshot.jobs.values() if auth.id in j.auth_ids], managed, sort=sort_jobs)
    config, credentials = applied_config(managed, auth.id)
    if fmt == "json":
        secrets = None if config is None else {name: "(sensitive)" for name in credentials}
        output.print_json({"format_version": output.JSON_FORMAT_VERSION, "kind": "authorization", **row.to_json(),
                           "config": config, "credentials": secrets, "jobs": [j.to_json() for j in jobs],
                           "requests": requests_json(usage, datetime.now(UTC)) if usage else None})
        return
    from rich.console import Group
    from rich.text import Text

    view = show_view(row, jobs, usage, wide=wide, now=datetime.now(UTC))
    output.stdout().print(Group(view, Text(""), config_view(config, credentials, applied=True, wide=wide)),
                          soft_wrap=wide)


def _show_job(snapshot: Snapshot, managed: ManagedIndex, job_id: str, fmt: str, wide: bool) -> None:
    detail = job_detail(snapshot.jobs[job_id], snapshot, managed)
    if fmt == "json":
        output.print_json({"format_version": output.JSON_FORMAT_VERSION, "kind": "job", **detail.to_json()})
        return
    output.stdout().print(job_view(detail, wide=wide), soft_wrap=wide)


COMMANDS = [status, show]
