"""How `authctl apply` talks: progress hooks, the confirmation prompt, and the report in text or JSON.

The engine reports progress only through a hook (reconciler/apply/hooks.py); these are
the CLI's hooks. Step lines quote addresses and platform messages, so they are escaped
for the terminal (render/escape.py). With ``--format json`` stdout carries the JSON
report alone: the plan, the step lines and the summary go to stderr.
"""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from reconciler.apply import ApplyReport, ResultCode, StepResult
from reconciler.cli import output
from reconciler.errors import ExitCode
from reconciler.render.escape import terminal_text

RESULT_STYLE = {ResultCode.APPLIED: "green", ResultCode.FAILED: "bold red", ResultCode.BLOCKED: "bold red",
                ResultCode.SKIPPED: "yellow", ResultCode.NEEDS_PERSON: "cyan", ResultCode.DISRUPTED: "bold red"}
RESULT_WORD = {ResultCode.APPLIED: "ok", ResultCode.FAILED: "FAILED", ResultCode.BLOCKED: "BLOCKED",
               ResultCode.SKIPPED: "skipped", ResultCode.NEEDS_PERSON: "needs a person",
               ResultCode.DISRUPTED: "DELETED, JOBS STOPPED"}


def step_line(index: int, total: int, result: StepResult) -> str:
    """The step's line; the address and message may quote platform text, so it is escaped for the terminal."""
    word = RESULT_WORD[result.code]
    timing = f" ({result.seconds * 1000:.0f} ms)" if result.code is ResultCode.APPLIED else ""
    detail = f": {result.message}" if result.message and result.code is not ResultCode.APPLIED else ""
    return terminal_text(f"[{index}/{total}] {result.operation} {result.address} ... {word}{timing}{detail}")


class PlainHook:
    """One line per step, for CI logs and pipes (on stderr when stdout carries the JSON report)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or output.stdout()

    def on_start(self, total: int) -> None:
        pass

    def on_step_done(self, index: int, total: int, result: StepResult) -> None:
        output.print_lines(self.console, Text(step_line(index, total, result)), style=RESULT_STYLE[result.code])

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
            self.progress.console.print(Text(step_line(index, total, result)), style=RESULT_STYLE[result.code])

    def on_finish(self, report: ApplyReport) -> None:
        self.progress.update(self.task, description="Done")
        self.progress.stop()


def confirm_apply() -> bool:
    """Ask as terraform does: only the word ``yes`` applies; anything else (an empty line too) cancels.

    Every interactive apply asks this way, not only those that delete: one rule is simpler
    to learn, and a habit of typing ``y`` never applies a plan by accident.
    """
    click.echo("\nApply these changes?\n  authctl will perform the actions described above.\n"
               "  Only 'yes' will be accepted to approve.\n")
    click.echo("  Enter a value: ", nl=False)
    # sys.stdin.readline, not input() (click.prompt): on a terminal input() reads through
    # PyOS_Readline, where a Ctrl-C was seen to be lost now and then; a plain read is
    # interrupted by the signal and raises KeyboardInterrupt at once.
    line = sys.stdin.readline()
    if not line:  # end of input: nobody said yes
        click.echo()
        return False
    return line.strip() == "yes"


def summary_lines(report: ApplyReport) -> list[tuple[str, str]]:
    """The closing lines (text, style): the summary, who must act, and what a non-zero exit code means."""
    lines = [(report.summary_line(), "bold green" if report.converged else "bold red")]
    lines += [(terminal_text(f"  {r.address}: {r.message}"), "cyan")
              for r in report.results if r.code is ResultCode.NEEDS_PERSON]
    code = report.exit_code()
    if report.count(ResultCode.BLOCKED):
        lines.append(("Blocked deletes were skipped: the authorizations stay until the jobs or experiences using "
                      "them stop." + (" Exit code 3." if code is ExitCode.BLOCKED else ""), "red"))
    if report.count(ResultCode.DISRUPTED):
        lines.append(("The platform deletes in cascade and stopped jobs that started using a deleted authorization "
                      "after apply's last check (listed above); move them to another authorization and resume "
                      "them. Exit code 3.", "bold red"))
    if report.count(ResultCode.FAILED):
        lines.append(("Failed changes stopped only their own branch; run apply again once the cause is fixed. "
                      "Exit code 1.", "red"))
    return lines


def print_summary(console: Console, report: ApplyReport) -> None:
    console.print("")
    for text, style in summary_lines(report):
        console.print(Text(text, style=style))


def report_text(report: ApplyReport) -> str:
    """The text report ``-o FILE`` writes: every step's line, then the closing lines (no escape codes)."""
    total = len(report.results)
    lines = [terminal_text(f"Recovered from an interrupted apply: {note}") for note in report.recovered]
    lines += [step_line(index, total, result) for index, result in enumerate(report.results, start=1)]
    lines += [text for text, _ in summary_lines(report)]
    return "\n".join(lines) + "\n"
