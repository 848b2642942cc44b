"""`authctl platform ...`: act on the platform as a person in its UI would, through the configured backend.

These change the platform behind the manifests' back (start a job on an authorization,
import an experience, mark a credential unhealthy) so that demos and tests can show
what the reconciler does about the real world. They go through the workspace's backend
(``PlatformConsole`` for what only a person does), so the same commands drive the
embedded platform and a platform served over HTTP (`authctl platform serve`, the
``lytics`` backend). They name objects as every other command does (views.py): an
authorization by manifest name, id or label, a job by manifest name, id or (unique) name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from reconciler.backends import Backend, JobRequest, PlatformConsole, open_backend
from reconciler.cli import output
from reconciler.cli.common import managed_objects, output_options, workspace_catalog, workspace_options
from reconciler.errors import UsageError
from reconciler.live import HealthResult, Snapshot
from reconciler.render.escape import terminal_text
from reconciler.render.status import platform_auths_table, platform_jobs_table
from reconciler.state.records import ManagedIndex
from reconciler.views import require_authorization, require_job
from reconciler.vocabulary import Access, Health, JobStatus
from reconciler.workspace import Workspace

STATUS_CHOICES = ("running", *(s.value for s in JobStatus))
HEALTH_CHOICES = tuple(h.value for h in Health)


@contextmanager
def _backend(workspace: Workspace) -> Iterator[Backend]:
    backend = open_backend(workspace, workspace_catalog(workspace), Access.WRITE)
    try:
        yield backend
    finally:
        backend.close()


def _console(backend: Backend) -> PlatformConsole:
    if not isinstance(backend, PlatformConsole):  # every backend authctl ships is one; a plug-in may not be
        raise UsageError(f"the {backend.name} backend cannot act as a person in the platform's UI")
    return backend


def _names(backend: Backend, workspace: Workspace) -> tuple[Snapshot, ManagedIndex]:
    """What a name typed on the command line is looked up in: the platform's objects and this workspace's state."""
    return backend.snapshot(), managed_objects(workspace)


def _auth_ids(backend: Backend, workspace: Workspace, refs: tuple[str, ...]) -> list[str]:
    snapshot, managed = _names(backend, workspace)
    return [require_authorization(snapshot, managed, ref).id for ref in refs]


def _say(*lines: str) -> None:
    """Print lines that quote platform text: escaped for the terminal, never read as markup or emoji codes."""
    from rich.console import Group
    from rich.text import Text

    if lines:
        output.print_lines(output.stdout(), Group(*(Text(terminal_text(line)) for line in lines)))


def _config(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--config KEY=VALUE`` pairs; VALUE is read as YAML, so ``7``, ``true`` and ``[a, b]`` keep their types."""
    import yaml

    config: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--config takes KEY=VALUE, not {pair!r}")
        try:
            config[key.strip()] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            raise UsageError(f"--config {key.strip()}: the value is not YAML (quote text that has : or #)") from None
    return config


@click.group()
def platform() -> None:
    """Act on the platform directly, outside the manifests (and serve the embedded one over HTTP)."""


@platform.group()
def auths() -> None:
    """Authorizations on the platform."""


WIDE_HELP = "Every value whole (lines may be wider than the terminal)."


@auths.command("list")
@workspace_options
@output_options("text", "json")
@click.option("--wide", is_flag=True, help=WIDE_HELP)
def auths_list(workspace: Workspace, fmt: str, wide: bool) -> None:
    """List authorizations with their ids."""
    with _backend(workspace) as backend:
        records = sorted(backend.snapshot().authorizations.values(), key=lambda r: (r.label.casefold(), r.id))
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
    with _backend(workspace) as backend:
        [auth_id] = _auth_ids(backend, workspace, (auth,))
        record = backend.record_health(auth_id, HealthResult(Health(status), reason, datetime.now(UTC)))
    _say(f"{record.label}: {record.health}" + (f" ({reason})" if reason else ""))


@platform.group()
def jobs() -> None:
    """Jobs on the platform."""


@jobs.command("create")
@click.option("--name", required=True)
@click.option("--workflow", required=True)
@click.option("--auth", "auth_refs", multiple=True, required=True,
              help="Authorization manifest name, id or label (repeatable).")
@click.option("--status", type=click.Choice(STATUS_CHOICES), default="running", show_default=True)
@click.option("--config", "config_pairs", multiple=True, metavar="KEY=VALUE",
              help="A config field (repeatable); VALUE is YAML, e.g. segment_ids=[vip, churn].")
@workspace_options
def jobs_create(name: str, workflow: str, auth_refs: tuple[str, ...], status: str, config_pairs: tuple[str, ...],
                workspace: Workspace) -> None:
    """Start a job bound to authorizations, as someone in the UI would. Prints its id."""
    wanted = JobStatus.parse(status)
    config = _config(config_pairs)
    with _backend(workspace) as backend:
        ids = _auth_ids(backend, workspace, auth_refs)
        job = backend.create_job(JobRequest(name=name, workflow=workflow, auth_ids=tuple(ids), config=config))
        if job.status != wanted:
            job = _console(backend).set_job_status(job.id, wanted)
    click.echo(terminal_text(job.id))


@jobs.command("set-status")
@click.argument("job_ref", metavar="JOB")
@click.argument("status", type=click.Choice(STATUS_CHOICES))
@workspace_options
def jobs_set_status(job_ref: str, status: str, workspace: Workspace) -> None:
    """Change the status of JOB (manifest name, id, or name when unique): running, paused, completed, ..."""
    with _backend(workspace) as backend:
        snapshot, managed = _names(backend, workspace)
        job = _console(backend).set_job_status(require_job(snapshot, managed, job_ref).id, JobStatus.parse(status))
    _say(f"{job.name} ({job.id}): {job.status.display}")


@jobs.command("list")
@workspace_options
@output_options("text", "json")
@click.option("--wide", is_flag=True, help=WIDE_HELP)
def jobs_list(workspace: Workspace, fmt: str, wide: bool) -> None:
    """List jobs with their status and authorization ids."""
    with _backend(workspace) as backend:
        records = sorted(backend.snapshot().jobs.values(), key=lambda j: (j.name, j.id))
    if fmt == "json":
        output.print_json({"format_version": output.JSON_FORMAT_VERSION, "jobs": [
            {"id": j.id, "name": j.name, "workflow": j.workflow, "status": j.status.display,
             "auth_ids": list(j.auth_ids)} for j in records]})
        return
    output.stdout().print(platform_jobs_table(records, wide=wide), soft_wrap=wide)


@platform.group()
def experiences() -> None:
    """Imported experiences on the platform."""


@experiences.command("create")
@click.option("--name", required=True)
@click.option("--auth", "auth_refs", multiple=True, required=True,
              help="Authorization manifest name, id or label (repeatable).")
@workspace_options
def experiences_create(name: str, auth_refs: tuple[str, ...], workspace: Workspace) -> None:
    """Import an experience that uses authorizations. Prints its id."""
    with _backend(workspace) as backend:
        ids = _auth_ids(backend, workspace, auth_refs)
        exp = _console(backend).create_experience(name, ids)
    click.echo(terminal_text(exp.id))


@platform.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on; 0 picks a free one (the printed URL says which).")
@click.option("--token", default=None,
              help="The API token clients must send. Prefer --token-env: a command line is visible to others.")
@click.option("--token-env", default="LYTICS_API_TOKEN", show_default=True, metavar="NAME",
              help="Environment variable holding the API token (when --token is not given).")
@click.option("--path", "db_path", default=None, metavar="DB",
              help="Platform database to serve (file path or SQLAlchemy URL); default: the workspace's backend.path.")
@click.option("--cascade", is_flag=True,
              help="Deletes stop the jobs that use an authorization, as Lytics does (default: refuse them).")
@click.option("--account-id", default="acct-local", show_default=True, help="account_id in every answer.")
@click.option("--max-body-bytes", type=click.IntRange(min=1), default=1024 * 1024, show_default=True,
              help="Larger request bodies are refused (413).")
@click.option("--latency-ms", type=click.IntRange(min=0), default=0, help="Fault: delay every /v2 request.")
@click.option("--error-rate", type=click.FloatRange(0, 1), default=0.0,
              help="Fault: share of /v2 requests answered 500 or 503 before anything is done.")
@click.option("--rate-limit", type=click.FloatRange(min=0, min_open=True), default=None, metavar="RPS",
              help="Fault: answer 429 (Retry-After: 1) above this many requests per second.")
@click.option("--drop-create-rate", type=click.FloatRange(0, 1), default=0.0,
              help="Fault: share of creates done and then answered by a dropped connection.")
@click.option("--seed", type=int, default=None, help="Seed of the fault choices, to replay a run.")
@click.option("--access-log", is_flag=True, help="Log one line per request on stderr (never bodies).")
@click.option("--health-interval", default=None, metavar="INTERVAL",
              help="Check every authorization's credentials at the provider at start and then every INTERVAL "
                   "(e.g. 24h; s, m, h or d), recording the results as `authctl health` does.")
@workspace_options
def serve(host: str, port: int, token: str | None, token_env: str, db_path: str | None, cascade: bool,
          account_id: str, max_body_bytes: int, latency_ms: int, error_rate: float, rate_limit: float | None,
          drop_create_rate: float, seed: int | None, access_log: bool, health_interval: str | None,
          workspace: Workspace) -> None:
    """Serve the embedded platform over HTTP in the shape of the Lytics v2 API (until SIGTERM or Ctrl-C).

    Prints one line, `authctl platform serve: listening on http://HOST:PORT`, once clients can
    connect. /openapi.json describes every endpoint; /v2/_authctl/ holds what the real API lacks.
    """
    from reconciler.served import FaultSettings, ServeSettings, create_app
    from reconciler.served.server import bind, serve as run_server
    from reconciler.served.source import open_served_platform

    interval = _interval(health_interval)
    secret = token if token is not None else os.environ.get(token_env)
    if not secret:
        raise UsageError(f"no API token: set the environment variable {token_env} (or name another with "
                         "--token-env), or pass --token; clients send it in the Authorization header")
    if db_path is not None and "://" not in db_path:
        db_path = str(Path(db_path).expanduser().resolve())  # relative to where the command runs
    settings = ServeSettings(token=secret, account_id=account_id, mode="cascade" if cascade else "guarded",
                             max_body_bytes=max_body_bytes,
                             faults=FaultSettings(latency_ms=latency_ms, error_rate=error_rate, rate_limit=rate_limit,
                                                  drop_create_rate=drop_create_rate, seed=seed))
    catalog = workspace_catalog(workspace)
    served = open_served_platform(workspace, catalog, path=db_path, mode=settings.mode)
    try:
        try:
            sock = bind(host, port)
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        with sock:
            app = create_app(served, catalog, settings, workspace=workspace)
            schedule = _health_schedule(app.served, interval) if interval is not None else None
            try:
                run_server(app, sock, access_log=access_log)
            finally:
                if schedule is not None:
                    schedule.stop()
                if app.served is not None and app.served.worker is not None:
                    app.served.worker.close()
    finally:
        served.close()


def _interval(text: str | None) -> float | None:
    if text is None:
        return None
    from reconciler.served.health_schedule import parse_interval

    try:
        return parse_interval(text)
    except ValueError as exc:
        raise UsageError(f"--health-interval: {exc}") from None


def _health_schedule(served: Any, interval: float) -> Any:
    """The scheduled checks of ``authctl platform serve --health-interval`` (started; the caller stops them)."""
    from reconciler.served.health_schedule import HealthSchedule

    return HealthSchedule(served.worker.get(), served.gateway, interval).start()


COMMANDS = [platform]
