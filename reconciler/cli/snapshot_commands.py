"""`authctl snapshot`, and the `--snapshot FILE` / `--max-snapshot-age` options of `authctl plan`.

A pull request from a fork runs without secrets: its CI can reach neither the platform
nor the state store. A trusted scheduled job runs `authctl snapshot -o live.json` (with
the platform's credentials; the file holds no secret value) and publishes the file; the
fork's CI runs `authctl plan --snapshot live.json`, which opens nothing but files and
says in its summary how old the snapshot is. reconciler/snapshot_file.py describes the file.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli import output
from reconciler.cli.common import output_options, workspace_options
from reconciler.errors import UsageError
from reconciler.workspace import Workspace

if TYPE_CHECKING:
    from reconciler.session import Session

DEFAULT_MAX_SNAPSHOT_AGE = "7d"  # (snapshot_file.DEFAULT_MAX_AGE: not imported here, `--help` stays cheap)
SNAPSHOT_HELP = ("Plan offline against a snapshot file from `authctl snapshot` instead of the platform and the "
                 "state store (a pull request from a fork has no credentials); secrets are not compared.")
MAX_SNAPSHOT_AGE_HELP = (f"With --snapshot: refuse a snapshot older than this (e.g. 30m, 24h, 7d; "
                         f"default {DEFAULT_MAX_SNAPSHOT_AGE}).")


@click.command()
@output_options("json")  # one form: the snapshot document
@workspace_options
def snapshot(workspace: Workspace, fmt: str) -> None:
    """Save live state and what plans read from the state store, for `authctl plan --snapshot FILE`.

    Run it in a trusted job with the platform's credentials, e.g. on a schedule, and
    publish the file to pull requests from forks, which have no credentials. It holds
    no secret value, no credential fingerprint and not the state's key, so a plan
    against it compares no secrets. Compact JSON, written atomically with -o FILE, else to stdout.
    """
    from reconciler.snapshot_capture import take_snapshot
    from reconciler.snapshot_file import snapshot_json

    saved = take_snapshot(workspace)
    sys.stdout.write(snapshot_json(saved))
    live, who = saved.live, saved.identity
    place = f"workspace {who.name!r}" if who.name else "this workspace"
    env = f", environment {who.environment!r}" if who.environment else ""
    counts = ", ".join(_counted(n, noun) for n, noun in (
        (len(live.authorizations), "authorization"), (len(live.jobs), "job"), (len(live.experiences), "experience"),
        (len(saved.managed), "managed object")))
    output.stderr().print(output.message_text(
        f"Snapshot of {saved.source} for {place}{env}: {counts} (taken {saved.taken_at:%Y-%m-%d %H:%M:%S} UTC; "
        "no secret values)."))


def _counted(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def open_plan_snapshot_session(workspace: Workspace, file: Path | None, max_age: str | None,
                               refresh_only: bool = False) -> Session | None:
    """`plan --snapshot FILE [--max-snapshot-age D]`: the offline session, or None when no snapshot was asked for."""
    if file is None:
        if max_age is not None:
            raise UsageError("--max-snapshot-age applies to a plan against a snapshot: add --snapshot FILE")
        return None
    if refresh_only:
        raise UsageError("--refresh-only compares the state store with the live platform; it cannot run against "
                         "a snapshot", hint="run it where the platform is reachable, or drop --refresh-only")
    from reconciler.durations import parse_duration
    from reconciler.session import open_snapshot_session

    text = max_age if max_age is not None else DEFAULT_MAX_SNAPSHOT_AGE
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--max-snapshot-age: {exc}") from None
    return open_snapshot_session(workspace, file, now=datetime.now(UTC), max_age_seconds=seconds,
                                 max_age_text=text)


COMMANDS = [snapshot]
