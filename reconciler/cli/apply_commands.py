"""`authctl apply` and `authctl force-unlock`: make live state match the manifests."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from reconciler.apply import ApplyOptions, ApplyReport, ResultCode, StepResult, execute, prepare
from reconciler.backends import current_user
from reconciler.cli import output
from reconciler.cli.common import all_warnings_option, workspace_options
from reconciler.errors import ExitCode, UsageError
from reconciler.plan_file import read_plan_file
from reconciler.render.escape import terminal_text
from reconciler.render.plan_text import line, render_text
from reconciler.session import open_session
from reconciler.state.access import open_existing_state_store
from reconciler.vocabulary import Access
from reconciler.workspace import Workspace

RESULT_STYLE = {ResultCode.APPLIED: "green", ResultCode.FAILED: "bold red", ResultCode.BLOCKED: "bold red",
                ResultCode.SKIPPED: "yellow", ResultCode.NEEDS_PERSON: "cyan", ResultCode.DISRUPTED: "bold red"}
RESULT_WORD = {ResultCode.APPLIED: "ok", ResultCode.FAILED: "FAILED", ResultCode.BLOCKED: "BLOCKED",
               ResultCode.SKIPPED: "skipped", ResultCode.NEEDS_PERSON: "needs a person",
               ResultCode.DISRUPTED: "DELETED, JOBS STOPPED"}


def parse_duration(text: str) -> float:
    """'30s', '2m', '1h', '0' or a plain number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", text)
    if not match:
        raise UsageError(f"invalid duration {text!r} (examples: 30s, 2m, 0)")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def _line(index: int, total: int, result: StepResult) -> str:
    """The step's line; the address and message may quote platform text, so it is escaped for the terminal."""
    word = RESULT_WORD[result.code]
    timing = f" ({result.seconds * 1000:.0f} ms)" if result.code is ResultCode.APPLIED else ""
    detail = f": {result.message}" if result.message and result.code is not ResultCode.APPLIED else ""
    return terminal_text(f"[{index}/{total}] {result.operation} {result.address} ... {word}{timing}{detail}")


class PlainHook:
    """One line per step, for CI logs and pipes."""

    def __init__(self) -> None:
        self.console = output.stdout()

    def on_start(self, total: int) -> None:
        pass

    def on_step_done(self, index: int, total: int, result: StepResult) -> None:
        output.print_lines(self.console, Text(_line(index, total, result)), style=RESULT_STYLE[result.code])

    def on_finish(self, report: ApplyReport) -> None:
        pass


class ProgressHook:
    """A live progress bar on a terminal, with a line for anything that did not apply."""

    def __init__(self) -> None:
        self.progress = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=output.stdout(), transient=False)
        self.task = None

    def on_start(self, total: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("Applying", total=total)

    def on_step_done(self, index: int, total: int, result: StepResult) -> None:
        self.progress.update(self.task, completed=index, total=total,
                             description=terminal_text(f"{result.operation} {result.address}"))
        if result.code is not ResultCode.APPLIED:
            self.progress.console.print(Text(_line(index, total, result)), style=RESULT_STYLE[result.code])

    def on_finish(self, report: ApplyReport) -> None:
        self.progress.update(self.task, description="Done")
        self.progress.stop()


@click.command()
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@all_warnings_option
@workspace_options
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation (CI).")
@click.option("--parallelism", type=click.IntRange(1, 64), default=4, show_default=True,
              help="How many changes run at once within a phase.")
@click.option("--lock-timeout", default="0s", show_default=True, help="Wait this long for the state lock (e.g. 30s).")
def apply(plan_file: Path | None, workspace: Workspace, auto_approve: bool, parallelism: int,
          lock_timeout: str, all_warnings: bool) -> int:
    """Make live state match the manifests (or apply a saved plan exactly as reviewed).

    Never deletes an authorization that an active job or an imported experience uses:
    such deletes are skipped as BLOCKED (exit 3). Exit 0 only when live matches desired;
    1 when something failed; 2 when a person must act (login/reauth); 3 when blocked.
    """
    options = ApplyOptions(parallelism=parallelism, lock_timeout=parse_duration(lock_timeout),
                           holder=current_user())
    saved = read_plan_file(plan_file) if plan_file else None
    if saved is None and not auto_approve and not sys.stdin.isatty():
        raise UsageError("apply needs confirmation: run it on a terminal, pass --auto-approve, "
                         "or apply a saved plan file (authctl plan -o FILE)")
    session = open_session(workspace, Access.WRITE)
    console = output.stdout()
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
                prepared.release()
                if saved is None:
                    return ExitCode.OK
                console.print("No changes. Live state matches the manifests.", markup=False)
                return ExitCode.OK
            if saved is None and not auto_approve:
                if not click.confirm("\nApply these changes?", default=False):
                    prepared.release()
                    console.print("Apply cancelled; nothing was changed.", markup=False)
                    return ExitCode.ERROR
            console.print("")
            hook = ProgressHook() if sys.stdout.isatty() else PlainHook()
            report = execute(prepared, options, hook)
        except BaseException:  # Ctrl-C at the prompt, a rendering error: never leave the lock behind
            prepared.release()  # (execute releases it itself; releasing twice is harmless)
            raise
    finally:
        session.close()
    style = "bold green" if report.converged else "bold red"
    console.print("")
    console.print(report.summary_line(), style=style, markup=False)
    for result in report.results:
        if result.code is ResultCode.NEEDS_PERSON:
            console.print(line(f"  {result.address}: {result.message}", style="cyan"))
    code = report.exit_code()
    if report.count(ResultCode.BLOCKED):
        console.print("Blocked deletes were skipped: the authorizations stay until the jobs or experiences "
                      "using them stop." + (" Exit code 3." if code is ExitCode.BLOCKED else ""), style="red", markup=False)
    if report.count(ResultCode.DISRUPTED):
        console.print("The platform deletes in cascade and stopped jobs that started using a deleted authorization "
                      "after apply's last check (listed above); move them to another authorization and resume "
                      "them. Exit code 3.", style="bold red", markup=False)
    if report.count(ResultCode.FAILED):
        console.print("Failed changes stopped only their own branch; run apply again once the cause is fixed. "
                      "Exit code 1.", style="red", markup=False)
    return code


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
