"""`authctl plan`: what would change, for people (text), pull requests (markdown) and machines (json)."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli import output
from reconciler.cli.common import all_warnings_option, format_option, workspace_options
from reconciler.errors import ExitCode
from reconciler.session import open_session
from reconciler.vocabulary import Access
from reconciler.workspace import MAX_EXPIRY_WARNING_DAYS, Workspace


@click.command()
@all_warnings_option
@workspace_options
@format_option("text", "markdown", "json")
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Save the plan (no secret values) for `authctl apply FILE`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when there are no changes, 2 when there are.")
@click.option("--expiry-warning-days", type=click.IntRange(min=0, max=MAX_EXPIRY_WARNING_DAYS), default=None,
              help="Warn about tokens expiring within this many days (default: policy, 14).")
def plan(workspace: Workspace, fmt: str, out: Path | None, detailed_exitcode: bool,
         expiry_warning_days: int | None, all_warnings: bool) -> int:
    """Show what apply would change, and what it must not (BLOCKED deletes).

    Needs no secrets: credentials that are not available are shown as not compared.
    Exit codes: 0 ok; 1 error; 2 changes (with --detailed-exitcode); 3 blocked actions.
    """
    if expiry_warning_days is not None:
        workspace.settings.policy.expiry_warning_days = expiry_warning_days
    session = open_session(workspace, Access.READ)
    try:
        result = session.plan()
    finally:
        session.close()
    output.print_diagnostics(output.stderr(), session.loaded.warnings, all_warnings=all_warnings)
    # Each renderer is imported only when chosen: rich alone costs a CI run ~50 ms at start.
    if fmt == "json":
        from reconciler.render.plan_json import render_json

        click.echo(render_json(result), nl=False)
    elif fmt == "markdown":
        from reconciler.render.plan_markdown import render_markdown

        click.echo(render_markdown(result, all_warnings=all_warnings), nl=False)
    else:
        from reconciler.render.plan_text import render_text

        output.print_lines(output.stdout(), render_text(result, all_warnings=all_warnings))
    if out is not None:
        from reconciler.plan_file import write_plan_file

        write_plan_file(out, result)
        if fmt == "text":
            output.stdout().print(f"\nSaved the plan to {out}; apply it with `authctl apply {out}`.", markup=False)
    if result.has_blocked:
        return ExitCode.BLOCKED
    if detailed_exitcode and result.has_changes:
        return ExitCode.CHANGES
    return ExitCode.OK


COMMANDS = [plan]
