"""Where the CLI writes: consoles, the JSON/text switch, and the one error renderer.

Every failure path, argument parsing included, goes through :func:`report_error`, so
``--format json`` gets JSON even for early errors and nobody sees a traceback unless
they asked for one with ``--debug``. Manifest diagnostics are printed by
:func:`print_diagnostics`: alike warnings grouped on one line unless ``--all-warnings``,
errors capped (reconciler/diagnostic_report.py); JSON lists every one.

Results go to stdout, or to the file of ``-o/--output FILE`` (:func:`stdout_to`: written
atomically, only on success); messages, progress and warnings go to stderr. Colour
follows ``--no-color``, NO_COLOR and FORCE_COLOR (:func:`_no_color`) and is never written
into a file.

Messages and diagnostics quote platform and manifest text, so they are printed as rich
``Text`` (never markup) with control characters shown as escapes, and JSON is written
with such code points as ``\\uXXXX`` (reconciler/render/escape.py).
"""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import traceback
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.diagnostic_report import diagnostics_json, report_lines
from reconciler.errors import AuthctlError, Diagnostic, ExitCode, ManifestError, Severity, UsageError
from reconciler.render.escape import json_text, terminal_text

if TYPE_CHECKING:  # rich is imported on first output, not at start-up (see benchmarks/startup.py)
    from collections.abc import Iterable, Iterator

    from rich.console import Console, RenderableType

JSON_FORMAT_VERSION = "1"


@dataclass
class CliState:
    debug: bool = False
    json_errors: bool = False
    all_warnings: bool = False  # --all-warnings: list each manifest warning, also with errors
    no_color: bool = False  # --no-color, on the group or on the command
    to_file: bool = False  # stdout is being captured for -o/--output FILE: never any escape code


STATE = CliState()


def _no_color() -> bool:
    """Colour off: --no-color, NO_COLOR set and not empty (https://no-color.org), or TERM=dumb.

    "Off" means no escape code at all, bold included (as terraform's -no-color): the
    consoles get no colour system. NO_COLOR wins over FORCE_COLOR. Otherwise colour is
    on only when the stream is a terminal, or FORCE_COLOR is set and not empty
    (https://force-color.org): rich decides that from the stream itself.
    """
    return STATE.no_color or os.environ.get("NO_COLOR", "") != "" or os.environ.get("TERM") == "dumb"


def _width() -> int | None:
    """Wide tables in CI logs, pipes and files (rich would wrap at 80); the terminal's own otherwise."""
    if sys.stdout.isatty() and not STATE.to_file:
        return None
    return int(os.environ.get("COLUMNS", "160"))


def stdout() -> Console:
    """The console for results, with markup and emoji codes off (so is stderr's).

    A string that reaches it unescaped (a table cell, a message) still prints as itself;
    data should arrive as escaped ``Text`` all the same (render/escape.py). It writes to
    whatever ``sys.stdout`` is when it prints, so :func:`stdout_to` can capture it; a
    captured console never writes escape codes, whatever FORCE_COLOR says (a file is
    not a terminal).
    """
    from rich.console import Console

    plain = _no_color() or STATE.to_file
    return Console(highlight=False, markup=False, emoji=False, no_color=plain, width=_width(),
                   color_system=None if plain else "auto", force_terminal=False if STATE.to_file else None)


def stderr() -> Console:
    """The console for messages, progress and warnings; the same colour rules as :func:`stdout`."""
    from rich.console import Console

    plain = _no_color()
    return Console(stderr=True, highlight=False, markup=False, emoji=False, no_color=plain, soft_wrap=True,
                   color_system=None if plain else "auto")


@contextmanager
def stdout_to(target: Path | None) -> Iterator[None]:
    """Send what the command prints on stdout to ``target`` instead (``-o/--output FILE``).

    The output is collected and written only when the command succeeds, atomically
    (:func:`write_atomically`), so an error never leaves a half-written or empty file
    behind, and the error itself (JSON included) still goes to the real stdout/stderr.
    Whether ``target`` can be written is checked first, before the command does any work.
    """
    if target is None:
        yield
        return
    check_writable(target)
    buffer = io.StringIO()
    STATE.to_file = True
    try:
        with redirect_stdout(buffer):
            yield
    finally:
        STATE.to_file = False
    write_atomically(target, buffer.getvalue())
    stderr().print(terminal_text(f"Wrote {target}"), markup=False)


def _reason(exc: OSError) -> str:
    return "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc)).lower()


def _cannot_write(target: Path, reason: str) -> UsageError:
    return UsageError(f"{target} cannot be written: {reason}")


def check_writable(target: Path) -> None:
    """Refuse, in one line, a target that is a folder or whose folder cannot be created or written."""
    if target.is_dir():
        raise _cannot_write(target, "it is a folder")
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        in_the_way = isinstance(exc, FileExistsError | NotADirectoryError)
        raise _cannot_write(target, f"{folder} is not a folder" if in_the_way else _reason(exc)) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _cannot_write(target, "permission denied")


def write_atomically(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` through a temporary file in its folder and a rename.

    A reader sees the old file or the whole new one, never a part. A new file gets the
    mode a shell redirection would give it (0666 less the umask); an existing one keeps its own.
    """
    import tempfile  # (not at start-up: it costs every command a few milliseconds)

    check_writable(target)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise _cannot_write(target, _reason(exc)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _cannot_write(target, _reason(exc)) from None
        raise


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


def json_document(data: Any) -> str:
    """``data`` as a JSON document: strings exact, control and invisible code points as ``\\uXXXX``."""
    return json_text(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False)) + "\n"


def print_json(data: Any) -> None:
    """``data`` as JSON on stdout (:func:`json_document`)."""
    sys.stdout.write(json_document(data))


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
