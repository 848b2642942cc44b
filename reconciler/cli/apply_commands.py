"""`authctl apply` and `authctl force-unlock`: make live state match the manifests.

What apply prints, asks and reports lives in cli/apply_output.py.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.apply import ApplyOptions, ApplyReport, execute, prepare, refresh_records
from reconciler.apply.staleness import refuse_snapshot_plan
from reconciler.backends import current_user
from reconciler.cli import output
from reconciler.cli.apply_output import PlainHook, ProgressHook, confirm_apply, print_summary, report_text
from reconciler.cli.common import all_warnings_option, format_option, workspace_options
from reconciler.errors import ExitCode, UsageError
from reconciler.plan_file import read_plan_file
from reconciler.render.escape import terminal_text
from reconciler.render.plan_text import line, render_text
from reconciler.session import open_session
from reconciler.state.access import open_existing_state_store
from reconciler.vocabulary import Access
from reconciler.workspace import Workspace

if TYPE_CHECKING:
    from rich.console import Console


def parse_duration(text: str) -> float:
    """'30s', '2m', '1h', '0' or a plain number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", text)
    if not match:
        raise UsageError(f"invalid duration {text!r} (examples: 30s, 2m, 0)")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


@click.command()
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@all_warnings_option
@workspace_options
@format_option("text", "json")
@click.option("-o", "--output", "report_file", type=click.Path(path_type=Path), default=None,
              metavar="FILE", help="Write the apply report (in --format) to FILE (atomically) instead of stdout.")
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation (CI).")
@click.option("--parallelism", type=click.IntRange(1, 64), default=4, show_default=True,
              help="How many changes run at once within a phase.")
@click.option("--lock-timeout", default="0s", show_default=True, help="Wait this long for the state lock (e.g. 30s).")
def apply(plan_file: Path | None, workspace: Workspace, fmt: str, report_file: Path | None, auto_approve: bool,
          parallelism: int, lock_timeout: str, all_warnings: bool) -> int:
    """Make live state match the manifests (or apply a saved plan exactly as reviewed).

    Never deletes an authorization that an active job or an imported experience uses:
    such deletes are skipped as BLOCKED (exit 3). Exit 0 only when live matches desired;
    1 when something failed; 2 when a person must act (login/reauth); 3 when blocked.
    Asks for the word 'yes' unless --auto-approve or a saved plan file is given;
    --format json prints a JSON report on stdout (and never asks).
    """
    as_json = fmt == "json"
    options = ApplyOptions(parallelism=parallelism, lock_timeout=parse_duration(lock_timeout),
                           holder=current_user())
    saved = read_plan_file(plan_file) if plan_file else None
    if saved is not None:
        refuse_snapshot_plan(saved, f"plan file {plan_file}")  # before anything is opened
    if saved is None and not auto_approve and as_json:
        raise UsageError("apply --format json never asks for confirmation: pass --auto-approve, "
                         "or apply a saved plan file (authctl plan -o FILE)")
    if saved is None and not auto_approve and not sys.stdin.isatty():
        raise UsageError("apply needs confirmation: run it on a terminal, pass --auto-approve, "
                         "or apply a saved plan file (authctl plan -o FILE)")
    if report_file is not None:
        output.check_writable(report_file)  # before anything changes, not after
    session = open_session(workspace, Access.WRITE)
    console = output.stderr() if as_json else output.stdout()  # stdout carries the JSON report alone
    try:
        prepared = prepare(session, options, saved)
        try:
            for note in prepared.recovered:
                console.print(line(f"Recovered from an interrupted apply: {note}", style="yellow"))
            plan = prepared.plan
            if saved is None:  # (a saved plan was reviewed with its warnings)
                output.print_diagnostics(output.stderr(), session.loaded.warnings, all_warnings=all_warnings)
                output.print_lines(console, render_text(plan, all_warnings=all_warnings))
            if not plan.has_changes:
                refresh_records(prepared)  # (state only: a record a hand edit made stale, see records_refresh.py)
                prepared.release()
                if saved is not None:
                    console.print("No changes. Live state matches the manifests.", markup=False)
                return _report(ApplyReport(prepared.apply_id, (), None, tuple(prepared.recovered)), as_json,
                               report_file, summary=None)
            if saved is None and not auto_approve and not confirm_apply():
                prepared.release()
                console.print("Apply cancelled; nothing was changed.", markup=False)
                return ExitCode.ERROR
            console.print("")
            hook = ProgressHook() if sys.stdout.isatty() and not as_json else PlainHook(console)
            report = execute(prepared, options, hook)
        except BaseException:  # Ctrl-C at the prompt, a rendering error: never leave the lock behind
            prepared.release()  # (execute releases it itself; releasing twice is harmless)
            raise
    finally:
        session.close()
    return _report(report, as_json, report_file, summary=console)


def _report(report: ApplyReport, as_json: bool, report_file: Path | None, summary: Console | None) -> int:
    """Print the closing summary (text: stdout; JSON: stderr) and the report; return the exit code."""
    if summary is not None:
        print_summary(summary, report)
    if as_json or report_file is not None:
        text = output.json_document(report.to_json()) if as_json else report_text(report)
        if report_file is None:
            sys.stdout.write(text)
        else:
            output.write_atomically(report_file, text)
            output.stderr().print(terminal_text(f"Wrote {report_file}"), markup=False)
    return report.exit_code()


@click.command("force-unlock")
@click.argument("lock_id")
@workspace_options
def force_unlock(lock_id: str, workspace: Workspace) -> None:
    """Remove the state lock LOCK_ID left by an apply that is gone (see the lock message)."""
    state = open_existing_state_store(workspace)
    if state is None:
        raise UsageError("there is no state store in this workspace yet")
    try:
        info = state.force_unlock(lock_id)
    finally:
        state.close()
    output.stdout().print(line(f"Unlocked: removed the lock {info.describe()}."))


COMMANDS = [apply, force_unlock]
