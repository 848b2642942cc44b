"""`authctl plan`: what would change, for people (text), pull requests (markdown) and machines (json).

In markdown mode a failure is a markdown block on stdout too (:func:`_markdown_errors`,
and :class:`_PlanCommand` for command-line errors): a CI step that posts stdout as a
pull-request comment then posts the validation errors or the unreachable backend instead
of an empty comment. The error still goes to stderr and the exit code is still 1.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.cli import output
from reconciler.cli.drift_command import REFRESH_ONLY_HELP
from reconciler.cli.drift_command import refresh_only as report_drift
from reconciler.cli.common import all_warnings_option, format_option, workspace_options
from reconciler.cli.snapshot_commands import MAX_SNAPSHOT_AGE_HELP, SNAPSHOT_HELP, open_plan_snapshot_session
from reconciler.errors import AuthctlError, ExitCode, ManifestError
from reconciler.session import open_session
from reconciler.vocabulary import Access
from reconciler.workspace import MAX_EXPIRY_WARNING_DAYS, Workspace

F = TypeVar("F", bound=Callable[..., Any])


def _markdown_error(exc: Exception) -> str:
    """``exc`` as a markdown comment: the message and hint as ``report_error`` gives them, diagnostics in a block."""
    from reconciler.diagnostic_report import report_lines
    from reconciler.render.plan_markdown import render_markdown_error

    details: list[str] = []
    if isinstance(exc, AuthctlError):
        message, hint = exc.message, exc.hint
        if isinstance(exc, ManifestError):
            details = [line.text for line in report_lines(exc.diagnostics, all_warnings=output.STATE.all_warnings)]
    elif isinstance(exc, OSError) and exc.strerror:
        message, hint = f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror.lower()}", ""
    else:  # the traceback is for the log (--debug), never for a comment
        message, hint = f"internal error: {type(exc).__name__}", "run authctl plan --debug for the traceback"
    return render_markdown_error(message, hint=hint, details=details)


def _markdown_errors(func: F) -> F:
    """In markdown mode, write any error as a markdown block on stdout before it is reported (stderr, exit 1).

    Wraps the workspace loading too (it sits above ``workspace_options``), so a broken
    authctl.yaml reaches the comment as well.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, fmt: str, **kwargs: Any) -> Any:
        try:
            return func(*args, fmt=fmt, **kwargs)
        except Exception as exc:
            if fmt == "markdown":
                click.echo(_markdown_error(exc))
            raise

    return wrapper  # type: ignore[return-value]


def _wants_markdown(args: list[str]) -> bool:
    return any(a == "--format=markdown" or (a == "--format" and b == "markdown") for a, b in zip(args, [*args[1:], ""]))


class _PlanCommand(click.Command):
    """`plan`, whose command-line errors are a markdown block on stdout too when markdown was asked for."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        markdown = _wants_markdown(args)  # (before parsing, which consumes ``args``)
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.ClickException as exc:
            if markdown:
                from reconciler.render.plan_markdown import render_markdown_error

                click.echo(render_markdown_error(exc.format_message(), hint="authctl plan --help lists the options"))
            raise


@click.command(cls=_PlanCommand)
@format_option("text", "markdown", "json")
@_markdown_errors
@all_warnings_option
@workspace_options
@click.option("-o", "--output", "--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="Save the plan (no secret values) for `authctl apply FILE`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when there are no changes, 2 when there are.")
@click.option("--expiry-warning-days", type=click.IntRange(min=0, max=MAX_EXPIRY_WARNING_DAYS), default=None,
              help="Warn about tokens expiring within this many days (default: policy, 14).")
@click.option("--show-unmanaged", is_flag=True,
              help="List every unmanaged object (by default only active ones that use what the plan changes; "
                   "the rest are counted).")
@click.option("--refresh-only", is_flag=True, help=REFRESH_ONLY_HELP)
@click.option("--snapshot", "snapshot_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help=SNAPSHOT_HELP)
@click.option("--max-snapshot-age", default=None, metavar="DURATION", help=MAX_SNAPSHOT_AGE_HELP)
def plan(workspace: Workspace, fmt: str, out: Path | None, detailed_exitcode: bool,
         expiry_warning_days: int | None, all_warnings: bool, show_unmanaged: bool, refresh_only: bool,
         snapshot_file: Path | None, max_snapshot_age: str | None) -> int:
    """Show what apply would change, and what it must not (BLOCKED deletes).

    Needs no secrets: credentials that are not available are shown as not compared.
    Exit codes: 0 ok; 1 error; 2 changes (with --detailed-exitcode); 3 blocked actions.
    With --format markdown, errors are also written to stdout as a markdown block.
    With --snapshot FILE (from `authctl snapshot`) it plans offline, for review only.
    """
    offline = open_plan_snapshot_session(workspace, snapshot_file, max_snapshot_age, refresh_only)
    if refresh_only:  # drift: state vs the platform (reconciler/cli/drift_command.py)
        return report_drift(workspace, fmt=fmt, out=out, detailed_exitcode=detailed_exitcode,
                            all_warnings=all_warnings)
    if expiry_warning_days is not None:
        workspace.settings.policy.expiry_warning_days = expiry_warning_days
    session = offline if offline is not None else open_session(workspace, Access.READ, early_snapshot=True)
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

        click.echo(render_markdown(result, all_warnings=all_warnings, show_unmanaged=show_unmanaged), nl=False)
    else:
        from reconciler.render.plan_text import render_text

        output.print_lines(output.stdout(), render_text(result, all_warnings=all_warnings,
                                                        show_unmanaged=show_unmanaged))
    if out is not None:
        from reconciler.plan_file import write_plan_file

        write_plan_file(out, result)
        if fmt == "text" and result.context.snapshot is not None:
            output.stdout().print(f"\nSaved the plan to {out} for review; a plan against a snapshot cannot be "
                                  "applied.", markup=False)
        elif fmt == "text":
            output.stdout().print(f"\nSaved the plan to {out}; apply it with `authctl apply {out}`.", markup=False)
    if result.has_blocked:
        return ExitCode.BLOCKED
    if detailed_exitcode and result.has_changes:
        return ExitCode.CHANGES
    return ExitCode.OK


COMMANDS = [plan]
