"""Options and loaders shared by commands: workspace, environment, output format, warnings, catalog."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

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


def format_option(*choices: str, default: str = "text") -> Callable[[F], F]:
    def decorate(func: F) -> F:
        @click.option("--format", "fmt", type=click.Choice(choices), default=default, show_default=True,
                      help="Output format.")
        @functools.wraps(func)
        def wrapper(*args: Any, fmt: str, **kwargs: Any) -> Any:
            output.STATE.json_errors = fmt == "json"
            return func(*args, fmt=fmt, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


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
    from reconciler.state.access import open_state_store
    from reconciler.vocabulary import Access

    state = open_state_store(workspace, Access.READ)
    if state is None:
        return {}
    try:
        return state.managed()
    finally:
        state.close()
