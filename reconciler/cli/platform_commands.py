"""`authctl platform ...`: act on the embedded platform as a person in its UI would.

These change the platform behind the manifests' back (start a job on an authorization,
import an experience, mark a credential unhealthy) so that demos and tests can show
what the reconciler does about the real world. They name objects as every other command
does (views.py): an authorization by manifest name, id or label, a job by manifest name,
id or (unique) name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from reconciler.backends import current_user
from reconciler.backends.local import LocalBackend, open_local_platform
from reconciler.cli import output
from reconciler.cli.common import managed_objects, output_options, workspace_catalog, workspace_options
from reconciler.live import Snapshot
from reconciler.platform import Platform
from reconciler.render.escape import terminal_text
from reconciler.render.status import platform_auths_table, platform_jobs_table
from reconciler.state.records import ManagedIndex
from reconciler.views import require_authorization, require_job
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


def _names(p: Platform, workspace: Workspace) -> tuple[Snapshot, ManagedIndex]:
    """What a name typed on the command line is looked up in: the platform's objects and this workspace's state."""
    return LocalBackend(p).snapshot(), managed_objects(workspace)


def _auth_ids(p: Platform, workspace: Workspace, refs: tuple[str, ...]) -> list[str]:
    snapshot, managed = _names(p, workspace)
    return [require_authorization(snapshot, managed, ref).id for ref in refs]


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


WIDE_HELP = "Every value whole (lines may be wider than the terminal)."


@auths.command("list")
@workspace_options
@output_options("text", "json")
@click.option("--wide", is_flag=True, help=WIDE_HELP)
def auths_list(workspace: Workspace, fmt: str, wide: bool) -> None:
    """List authorizations with their ids."""
    with _platform(workspace) as p:
        records = sorted(p.list_authorizations(), key=lambda r: r.label.casefold())
    if fmt == "json":
        output.print_json({"format_version": output.JSON_FORMAT_VERSION, "authorizations": [
            {"id": r.id, "label": r.label, "provider": r.provider, "method": r.method, "health": r.health}
            for r in records]})
        return
    output.stdout().print(platform_auths_table(records, wide=wide), soft_wrap=wide)


@auths.command("set-health")
@click.argument("auth")
@click.argument("status", type=click.Choice(HEALTH_CHOICES))
@click.option("--reason", default="", help="Why, e.g. 'token revoked'.")
@workspace_options
def auths_set_health(auth: str, status: str, reason: str, workspace: Workspace) -> None:
    """Set the health of AUTH (manifest name, id or label), as a provider check would."""
    with _platform(workspace) as p:
        [auth_id] = _auth_ids(p, workspace, (auth,))
        record = p.set_health(auth_id, Health(status), reason)
    _say(f"{record.label}: {record.health}" + (f" ({reason})" if reason else ""))


@platform.group()
def jobs() -> None:
    """Jobs on the embedded platform."""


@jobs.command("create")
@click.option("--name", required=True)
@click.option("--workflow", required=True)
@click.option("--auth", "auth_refs", multiple=True, required=True,
              help="Authorization manifest name, id or label (repeatable).")
@click.option("--status", type=click.Choice(STATUS_CHOICES), default="running", show_default=True)
@workspace_options
def jobs_create(name: str, workflow: str, auth_refs: tuple[str, ...], status: str, workspace: Workspace) -> None:
    """Start a job bound to authorizations, as someone in the UI would. Prints its id."""
    with _platform(workspace) as p:
        ids = _auth_ids(p, workspace, auth_refs)
        job = p.create_job(name=name, workflow=workflow, auth_ids=ids, status=JobStatus.parse(status),
                           owner=current_user())
    click.echo(terminal_text(job.id))


@jobs.command("set-status")
@click.argument("job_ref", metavar="JOB")
@click.argument("status", type=click.Choice(STATUS_CHOICES))
@workspace_options
def jobs_set_status(job_ref: str, status: str, workspace: Workspace) -> None:
    """Change the status of JOB (manifest name, id, or name when unique): running, paused, completed, ..."""
    with _platform(workspace) as p:
        snapshot, managed = _names(p, workspace)
        job = p.set_job_status(require_job(snapshot, managed, job_ref).id, JobStatus.parse(status))
    _say(f"{job.name} ({job.id}): {job.status.display}")


@jobs.command("list")
@workspace_options
@output_options("text", "json")
@click.option("--wide", is_flag=True, help=WIDE_HELP)
def jobs_list(workspace: Workspace, fmt: str, wide: bool) -> None:
    """List jobs with their status and authorization ids."""
    with _platform(workspace) as p:
        records = sorted(p.snapshot().jobs, key=lambda j: (j.name, j.id))
    if fmt == "json":
        output.print_json({"format_version": output.JSON_FORMAT_VERSION, "jobs": [
            {"id": j.id, "name": j.name, "workflow": j.workflow, "status": j.status.display,
             "auth_ids": list(j.auth_ids)} for j in records]})
        return
    output.stdout().print(platform_jobs_table(records, wide=wide), soft_wrap=wide)


@platform.group()
def experiences() -> None:
    """Imported experiences on the embedded platform."""


@experiences.command("create")
@click.option("--name", required=True)
@click.option("--auth", "auth_refs", multiple=True, required=True,
              help="Authorization manifest name, id or label (repeatable).")
@workspace_options
def experiences_create(name: str, auth_refs: tuple[str, ...], workspace: Workspace) -> None:
    """Import an experience that uses authorizations. Prints its id."""
    with _platform(workspace) as p:
        ids = _auth_ids(p, workspace, auth_refs)
        exp = p.create_experience(name=name, auth_ids=ids)
    click.echo(terminal_text(exp.id))


COMMANDS = [platform]
