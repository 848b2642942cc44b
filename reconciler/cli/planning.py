"""`authctl plan`: what would change, for people (text), pull requests (markdown) and machines (json)."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli import output
from reconciler.cli.common import format_option, workspace_options
from reconciler.planfile import write_plan_file
from reconciler.planning import open_session, plan_with
from reconciler.render.plan_json import render_json
from reconciler.render.plan_markdown import render_markdown
from reconciler.render.plan_text import render_text
from reconciler.workspace import Workspace

EXIT_CHANGES = 2
EXIT_BLOCKED = 3


@click.command()
@workspace_options
@format_option("text", "markdown", "json")
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Save the plan (no secret values) for `authctl apply FILE`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when there are no changes, 2 when there are.")
@click.option("--expiry-warning-days", type=click.IntRange(min=0), default=None,
              help="Warn about tokens expiring within this many days (default: policy, 14).")
def plan(workspace: Workspace, fmt: str, out: Path | None, detailed_exitcode: bool,
         expiry_warning_days: int | None) -> int:
    """Show what apply would change, and what it must not (BLOCKED deletes).

    Needs no secrets: credentials that are not available are shown as not compared.
    Exit codes: 0 ok; 1 error; 2 changes (with --detailed-exitcode); 3 blocked actions.
    """
    if expiry_warning_days is not None:
        workspace.settings.policy.expiry_warning_days = expiry_warning_days
    session = open_session(workspace)
    try:
        result = plan_with(session)
    finally:
        session.close()
    for warning in session.loaded.warnings:
        output.stderr().print(warning.format(), style="yellow", markup=False)
    if fmt == "json":
        click.echo(render_json(result), nl=False)
    elif fmt == "markdown":
        click.echo(render_markdown(result), nl=False)
    else:
        output.print_lines(output.stdout(), render_text(result))
    if out is not None:
        write_plan_file(out, result)
        if fmt == "text":
            output.stdout().print(f"\nSaved the plan to {out}; apply it with `authctl apply {out}`.", markup=False)
    if result.has_blocked:
        return EXIT_BLOCKED
    if detailed_exitcode and result.has_changes:
        return EXIT_CHANGES
    return 0


COMMANDS = [plan]
