"""Where the CLI writes: consoles, the JSON/text switch, and the one error renderer.

Every failure path, argument parsing included, goes through :func:`report_error`, so
``--format json`` gets JSON even for early errors and nobody sees a traceback unless
they asked for one with ``--debug``. Manifest diagnostics are printed by
:func:`print_diagnostics`: alike warnings grouped on one line unless ``--all-warnings``,
errors capped (reconciler/diagnostic_report.py); JSON lists every one.

Messages and diagnostics quote platform and manifest text, so they are printed as rich
``Text`` (never markup) with control characters shown as escapes, and JSON is written
with such code points as ``\\uXXXX`` (reconciler/render/escape.py).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reconciler.diagnostic_report import diagnostics_json, report_lines
from reconciler.errors import AuthctlError, Diagnostic, ExitCode, ManifestError, Severity
from reconciler.render.escape import json_text, terminal_text

if TYPE_CHECKING:  # rich is imported on first output, not at start-up (see benchmarks/startup.py)
    from collections.abc import Iterable

    from rich.console import Console, RenderableType

JSON_FORMAT_VERSION = "1"


@dataclass
class CliState:
    debug: bool = False
    json_errors: bool = False
    all_warnings: bool = False  # --all-warnings: list each manifest warning, also with errors


STATE = CliState()


def _no_color() -> bool:
    return "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb"


def _width() -> int | None:
    """Wide tables in CI logs and pipes (rich would wrap at 80); the terminal's own otherwise."""
    if sys.stdout.isatty():
        return None
    return int(os.environ.get("COLUMNS", "160"))


def stdout() -> Console:
    """The console for results, with markup and emoji codes off (so is stderr's).

    A string that reaches it unescaped (a table cell, a message) still prints as itself;
    data should arrive as escaped ``Text`` all the same (render/escape.py).
    """
    from rich.console import Console

    return Console(highlight=False, markup=False, emoji=False, no_color=_no_color(), width=_width())


def stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, markup=False, emoji=False, no_color=_no_color(), soft_wrap=True)


def _fits_plain(line: str, width: int | None) -> bool:
    """True when rich would print ``line`` unchanged: ASCII (one cell a character), no tab, no wrap.

    ``width`` None: the console does not wrap (``soft_wrap``), any length prints unchanged.
    """
    return line.isascii() and "\t" not in line and (width is None or len(line) <= width)


def print_lines(console: Console, renderable: RenderableType | str, style: str = "") -> None:
    """``console.print(renderable, style=style, markup=False)`` with a fast path for plain output.

    When the console writes no styles (not a terminal: pipes, files, CI logs), a line
    of text that fits the width comes out of rich exactly as it went in, but rich
    lays it out first at about 100 µs a line; a plan of 4,000 changes has 30,000
    lines. Such lines (a string, a Text, or a Group of Texts such as the plan) are
    written straight to the console's file; anything else still goes through rich, in
    order, so the output is the same byte for byte.
    """
    from rich.console import Group
    from rich.text import Text

    plain = console.color_system is None and not console.is_terminal
    items = renderable.renderables if isinstance(renderable, Group) else [renderable]
    if not plain or not all(isinstance(item, str | Text) for item in items):
        console.print(renderable, style=style, markup=False)
        return
    width = None if console.soft_wrap else console.width  # (a property that looks at the environment each time)
    pending: list[str] = []
    for item in items:
        line = item.plain if isinstance(item, Text) else item
        # (rich would replace :emoji: codes in a string: strings with a colon go through it)
        if "\n" not in line and (isinstance(item, Text) or ":" not in line) and _fits_plain(line, width):
            pending.append(line + "\n")
            continue
        if pending:
            console.file.write("".join(pending))
            pending = []
        console.print(item, style=style, markup=False)
    if pending:
        console.file.write("".join(pending))
    console.file.flush()


def print_diagnostics(console: Console, diagnostics: Iterable[Diagnostic], *, all_warnings: bool = False) -> None:
    """Manifest warnings (yellow) and errors (red) as ``report_lines`` words them: grouped and capped."""
    from rich.console import Group
    from rich.text import Text

    run: list[Text] = []
    style = ""
    for line in report_lines(diagnostics, all_warnings=all_warnings):
        line_style = "yellow" if line.severity is Severity.WARNING else "red"
        if run and line_style != style:
            print_lines(console, Group(*run), style=style)
            run = []
        style = line_style
        run.append(Text(terminal_text(line.text, keep_newlines=True)))
    if run:
        print_lines(console, Group(*run), style=style)


def print_json(data: Any) -> None:
    """``data`` as JSON on stdout: strings exact, control and invisible code points as ``\\uXXXX``."""
    sys.stdout.write(json_text(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False)) + "\n")


def message_text(text: str, style: str = "") -> RenderableType:
    """One of our messages that may quote data: its own lines kept, control characters escaped, no markup."""
    from rich.text import Text

    return Text(terminal_text(text, keep_newlines=True), style=style)


def argv_wants_json(argv: list[str]) -> bool:
    """True when the command line asks for JSON output, even if parsing fails later."""
    for index, arg in enumerate(argv):
        if arg in ("--format", "-F") and index + 1 < len(argv) and argv[index + 1] == "json":
            return True
        if arg == "--format=json":
            return True
    return False


def error_payload(exc: BaseException) -> dict[str, Any]:
    diagnostics = diagnostics_json(exc.diagnostics) if isinstance(exc, ManifestError) else []
    message = exc.message if isinstance(exc, AuthctlError) else f"internal error: {type(exc).__name__}"
    payload: dict[str, Any] = {"format_version": JSON_FORMAT_VERSION,
                               "error": {"type": type(exc).__name__, "message": message}}
    if isinstance(exc, AuthctlError) and exc.hint:
        payload["error"]["hint"] = exc.hint
    if diagnostics:
        payload["error"]["diagnostics"] = diagnostics
    return payload


def report_error(exc: BaseException) -> int:
    """Render an error for humans or machines; returns the error's exit code (ExitCode.ERROR)."""
    code = exc.exit_code if isinstance(exc, AuthctlError) else ExitCode.ERROR
    if STATE.debug:
        traceback.print_exception(exc, file=sys.stderr)
    if STATE.json_errors:
        print_json(error_payload(exc))
        return code
    console = stderr()
    if isinstance(exc, ManifestError):
        print_diagnostics(console, exc.diagnostics, all_warnings=STATE.all_warnings)
        console.print(message_text(f"Error: {exc.message}", style="bold red"))
    elif isinstance(exc, AuthctlError):
        console.print(message_text(f"Error: {exc.message}", style="bold red"))
        if exc.hint:
            console.print(message_text(f"Hint: {exc.hint}"))
    elif isinstance(exc, OSError) and exc.strerror:
        # A file error no layer mapped to its own message: still one clean line naming the file.
        where = f"{exc.filename}: " if exc.filename else ""
        console.print(message_text(f"Error: {where}{exc.strerror.lower()}", style="bold red"))
    else:
        console.print(message_text(f"Error: internal error: {type(exc).__name__}: {exc}", style="bold red"))
        if not STATE.debug:
            console.print("Run again with --debug for the traceback.", markup=False)
    return code
