"""Options and loaders shared by commands: workspace, environment, output vocabulary, warnings, catalog.

The output vocabulary is the same on every command (issue 11): ``--format text|json``
(``table`` is an old name for ``text``), ``-o/--output FILE`` to write the result to a
file instead of stdout, and ``--no-color``. Commands get them from here, never declare
their own, so ``--help`` reads the same everywhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from reconciler.cli import output

if TYPE_CHECKING:  # imported where used: `authctl --version` must not pay for pydantic or SQLAlchemy
    from reconciler.catalog import Catalog
    from reconciler.state.records import ManagedIndex
    from reconciler.workspace import Workspace

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
F = TypeVar("F", bound=Callable[..., Any])


def workspace_options(func: F) -> F:
    """Add ``-w/--workspace``, ``--env`` and ``--debug`` to a command."""

    @click.option("-w", "--workspace", "workspace_dir", type=click.Path(file_okay=False, path_type=Path),
                  default=Path("."), show_default=".", help="The workspace folder (holds authctl.yaml).")
    @click.option("--env", "environment", default=None, help="Environment from authctl.yaml (Jinja2 vars).")
    @click.option("--debug", is_flag=True, hidden=True)
    @functools.wraps(func)
    def wrapper(*args: Any, workspace_dir: Path, environment: str | None, debug: bool, **kwargs: Any) -> Any:
        from reconciler.workspace import load_workspace

        output.STATE.debug = output.STATE.debug or debug
        workspace = load_workspace(workspace_dir, environment)
        return func(*args, workspace=workspace, **kwargs)

    return wrapper  # type: ignore[return-value]


class FormatChoice(click.Choice):
    """A ``--format`` choice that also takes old names (``table``) for a canonical one (``text``).

    The aliases are accepted but never shown: help and error messages name only the
    canonical formats, so scripts written for ``--format table`` keep working while
    everyone learns one word.
    """

    def __init__(self, choices: tuple[str, ...], aliases: dict[str, str]) -> None:
        super().__init__(choices)
        self.aliases = {alias: canonical for alias, canonical in aliases.items() if canonical in choices}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return super().convert(self.aliases.get(value, value), param, ctx)


FORMAT_ALIASES = {"table": "text"}
NO_COLOR_HELP = "No colour (nor when NO_COLOR is set, or output is not a terminal unless FORCE_COLOR is set)."  # status and the platform lists said "table" before issue 11


def format_option(*choices: str, default: str | None = None) -> Callable[[F], F]:
    """Add ``--format`` (passed to the command as ``fmt``); ``json`` also makes errors JSON.

    Every printing command offers ``text`` and ``json`` (plan adds ``markdown``); the
    default is the first choice. ``table`` is accepted for ``text``.
    """
    default = default or choices[0]

    def decorate(func: F) -> F:
        @click.option("--format", "fmt", type=FormatChoice(choices, FORMAT_ALIASES), default=default,
                      show_default=True, help="Output format.")
        @functools.wraps(func)
        def wrapper(*args: Any, fmt: str, **kwargs: Any) -> Any:
            # Errors are JSON when JSON was asked for; a command whose only form is JSON (schema)
            # still shows its errors to the person who ran it.
            asked = click.get_current_context().get_parameter_source("fmt") is not ParameterSource.DEFAULT
            output.STATE.json_errors = fmt == "json" and (asked or default != "json")
            return func(*args, fmt=fmt, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def output_file_option(func: F) -> F:
    """Add ``-o/--output FILE``: what the command prints on stdout goes to FILE instead.

    The file is written atomically and only when the command succeeds (output.stdout_to);
    errors still go to the terminal. The command itself prints as usual.
    """

    @click.option("-o", "--output", "output_file", type=click.Path(path_type=Path), default=None,
                  metavar="FILE", help="Write the output to FILE (atomically) instead of stdout.")
    @functools.wraps(func)
    def wrapper(*args: Any, output_file: Path | None, **kwargs: Any) -> Any:
        with output.stdout_to(output_file):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def output_options(*choices: str, default: str | None = None) -> Callable[[F], F]:
    """``--format CHOICES`` and ``-o/--output FILE``: the vocabulary of every command that prints a result."""

    def decorate(func: F) -> F:
        return format_option(*choices, default=default)(output_file_option(func))

    return decorate


def _set_no_color(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        output.STATE.no_color = True


def no_color_option() -> click.Option:
    """``--no-color``, which every command accepts (app.py adds it to each; the group has its own)."""
    return click.Option(["--no-color"], is_flag=True, expose_value=False, callback=_set_no_color, help=NO_COLOR_HELP)


def add_common_options(command: click.Command) -> click.Command:
    """Give ``command`` and, for a group, each of its subcommands, the options every command accepts."""
    if not any(param.name == "no_color" for param in command.params):
        command.params.append(no_color_option())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_common_options(sub)
    return command


def all_warnings_option(func: F) -> F:
    """Add ``--all-warnings``: list each manifest (and plan) warning instead of grouping alike ones."""

    @click.option("--all-warnings", is_flag=True,
                  help="List every warning on its own line (alike warnings are otherwise one line with a count).")
    @functools.wraps(func)
    def wrapper(*args: Any, all_warnings: bool, **kwargs: Any) -> Any:
        output.STATE.all_warnings = all_warnings  # also for the warnings shown beside manifest errors
        return func(*args, all_warnings=all_warnings, **kwargs)

    return wrapper  # type: ignore[return-value]


def workspace_catalog(workspace: Workspace) -> Catalog:
    from reconciler.catalog import load_catalog

    return load_catalog(workspace.provider_dirs())


def managed_objects(workspace: Workspace) -> ManagedIndex:
    from reconciler.state.access import read_managed

    return read_managed(workspace)
