"""`authctl platform ...`: act on the embedded platform as a person in its UI would.

These change the platform behind the manifests' back (start a job on an authorization,
import an experience, mark a credential unhealthy) so that demos and tests can show
what the reconciler does about the real world.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from reconciler.backends import current_user
from reconciler.backends.local import open_local_platform
from reconciler.cli import output
from reconciler.cli.common import format_option, workspace_catalog, workspace_options
from reconciler.platform import Platform
from reconciler.render.escape import terminal_text
from reconciler.vocabulary import Access, Health, JobStatus
from reconciler.workspace import Workspace

STATUS_CHOICES = ("running", *(s.value for s in JobStatus))
HEALTH_CHOICES = tuple(h.value for h in Health)


@contextmanager
def _platform(workspace: Workspace) -> Iterator[Platform]:
    platform = open_local_platform(workspace, workspace_catalog(workspace), Access.WRITE)
    try:
        yield platform
    finally:
        platform.close()


def _say(*lines: str) -> None:
    """Print lines that quote platform text: escaped for the terminal, never read as markup or emoji codes."""
    from rich.console import Group
    from rich.text import Text

    if lines:
        output.print_lines(output.stdout(), Group(*(Text(terminal_text(line)) for line in lines)))


@click.group()
def platform() -> None:
    """Act on the embedded platform directly, outside the manifests."""


@platform.group()
def auths() -> None:
    """Authorizations on the embedded platform."""


@auths.command("list")
@workspace_options
@format_option("table", "json", default="table")
def auths_list(workspace: Workspace, fmt: str) -> None:
    """List authorizations with their ids."""
    with _platform(workspace) as p:
        records = sorted(p.list_authorizations(), key=lambda r: r.label.casefold())
    if fmt == "json":
        output.print_json([{"id": r.id, "label": r.label, "provider": r.provider, "method": r.method,
                            "health": r.health} for r in records])
        return
    _say(*(f"{r.id}  {r.label}  ({r.provider}/{r.method}, {r.health})" for r in records))


@auths.command("set-health")
@click.argument("auth")
@click.argument("status", type=click.Choice(HEALTH_CHOICES))
@click.option("--reason", default="", help="Why, e.g. 'token revoked'.")
@workspace_options
def auths_set_health(auth: str, status: str, reason: str, workspace: Workspace) -> None:
    """Set the health of AUTH (id or label), as a provider check would."""
    with _platform(workspace) as p:
        record = p.set_health(p.find_authorization(auth).id, Health(status), reason)
    _say(f"{record.label}: {record.health}" + (f" ({reason})" if reason else ""))


@platform.group()
def jobs() -> None:
    """Jobs on the embedded platform."""


@jobs.command("create")
@click.option("--name", required=True)
@click.option("--workflow", required=True)
@click.option("--auth", "auth_refs", multiple=True, required=True, help="Authorization id or label (repeatable).")
@click.option("--status", type=click.Choice(STATUS_CHOICES), default="running", show_default=True)
@workspace_options
def jobs_create(name: str, workflow: str, auth_refs: tuple[str, ...], status: str, workspace: Workspace) -> None:
    """Start a job bound to authorizations, as someone in the UI would. Prints its id."""
    with _platform(workspace) as p:
        ids = [p.find_authorization(ref).id for ref in auth_refs]
        job = p.create_job(name=name, workflow=workflow, auth_ids=ids, status=JobStatus.parse(status),
                           owner=current_user())
    click.echo(terminal_text(job.id))


@jobs.command("set-status")
@click.argument("job_id")
@click.argument("status", type=click.Choice(STATUS_CHOICES))
@workspace_options
def jobs_set_status(job_id: str, status: str, workspace: Workspace) -> None:
    """Change a job's status (running, paused, sleeping, completed, ...)."""
    with _platform(workspace) as p:
        job = p.set_job_status(job_id, JobStatus.parse(status))
    _say(f"{job.name} ({job.id}): {job.status.display}")


@jobs.command("list")
@workspace_options
@format_option("table", "json", default="table")
def jobs_list(workspace: Workspace, fmt: str) -> None:
    """List jobs with their status and authorization ids."""
    with _platform(workspace) as p:
        records = sorted(p.snapshot().jobs, key=lambda j: (j.name, j.id))
    if fmt == "json":
        output.print_json([{"id": j.id, "name": j.name, "workflow": j.workflow, "status": j.status.display,
                            "auth_ids": list(j.auth_ids)} for j in records])
        return
    _say(*(f"{j.id}  {j.name}  {j.workflow}  {j.status.display}  auths={','.join(j.auth_ids)}" for j in records))


@platform.group()
def experiences() -> None:
    """Imported experiences on the embedded platform."""


@experiences.command("create")
@click.option("--name", required=True)
@click.option("--auth", "auth_refs", multiple=True, required=True, help="Authorization id or label (repeatable).")
@workspace_options
def experiences_create(name: str, auth_refs: tuple[str, ...], workspace: Workspace) -> None:
    """Import an experience that uses authorizations. Prints its id."""
    with _platform(workspace) as p:
        ids = [p.find_authorization(ref).id for ref in auth_refs]
        exp = p.create_experience(name=name, auth_ids=ids)
    click.echo(terminal_text(exp.id))


COMMANDS = [platform]
