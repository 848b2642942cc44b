"""The click application: the command group, lazy command loading, and running it with our error rendering.

``run`` runs click in non-standalone mode so that usage errors exit 1 (exit 2 means
"changes present" for ``plan``) and every error is rendered by ``output.report_error``.
"""

from __future__ import annotations

import importlib

import click

from reconciler import __version__
from reconciler.cli import output
from reconciler.cli.common import CONTEXT_SETTINGS, NO_COLOR_HELP, add_common_options
from reconciler.errors import AuthctlError, ExitCode


# Command modules, in registration order, and which one defines each command. A command
# is imported when it runs: importing them all (SQLAlchemy, deepdiff, the platform, ...)
# would add half a second to every `authctl validate`. A command missing from the table
# still works, only slower: an unknown name loads every module (so does `--help`).
_COMMAND_MODULES = ("manifest_commands", "plan_command", "apply_commands", "view_commands", "platform_commands",
                    "state_commands", "oauth_commands", "health_commands", "snapshot_commands",
                    "ui_command", "export_commands")
_MODULE_OF = {
    "validate": "manifest_commands", "providers": "manifest_commands", "schema": "manifest_commands",
    "plan": "plan_command", "snapshot": "snapshot_commands",
    "apply": "apply_commands", "force-unlock": "apply_commands",
    "status": "view_commands", "show": "view_commands",
    "platform": "platform_commands",
    "import": "state_commands", "state": "state_commands", "export": "export_commands",
    "login": "oauth_commands", "reauth": "oauth_commands",
    "health": "health_commands", "refresh": "health_commands",
    "ui": "ui_command",
}


class _LazyGroup(click.Group):
    """A click group that imports command modules on first use (see ``_MODULE_OF``)."""

    def _load(self, module_name: str) -> None:
        module = importlib.import_module(f"reconciler.cli.{module_name}")
        for command in module.COMMANDS:
            if command.name not in self.commands:
                self.add_command(add_common_options(command))

    def list_commands(self, ctx: click.Context) -> list[str]:
        _register_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            module = _MODULE_OF.get(cmd_name)
            if module is not None:
                self._load(module)
            if cmd_name not in self.commands:
                _register_commands()
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="authctl", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("--no-color", is_flag=True, help=NO_COLOR_HELP)
def cli(debug: bool, no_color: bool) -> None:
    """Declarative reconciler for authorizations and the jobs bound to them.

    Keep manifests in Git; `authctl plan` shows what would change, `authctl apply`
    makes it so, and no authorization in use by an active job is ever deleted.
    """
    output.STATE.debug = output.STATE.debug or debug
    output.STATE.no_color = output.STATE.no_color or no_color


def _register_commands() -> None:
    """Import every command module and register its commands."""
    for module_name in _COMMAND_MODULES:
        cli._load(module_name)  # type: ignore[attr-defined]


def run(args: list[str]) -> int:
    """Run the CLI on ``args``; returns the exit code instead of raising SystemExit inside."""
    output.STATE.debug = "--debug" in args
    output.STATE.json_errors = output.argv_wants_json(args)
    output.STATE.all_warnings = "--all-warnings" in args
    output.STATE.no_color = "--no-color" in args  # (also for errors found while parsing)
    try:
        result = cli.main(args=args, prog_name="authctl", standalone_mode=False)
    except click.exceptions.Abort:
        output.stderr().print("Aborted.")
        return ExitCode.ERROR
    except click.ClickException as exc:
        if output.STATE.json_errors:
            output.print_json({"format_version": output.JSON_FORMAT_VERSION,
                               "error": {"type": "UsageError", "message": exc.format_message()}})
        else:
            exc.show()
        return ExitCode.ERROR
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except AuthctlError as exc:
        return output.report_error(exc)
    except KeyboardInterrupt:
        output.stderr().print("Interrupted.")
        return ExitCode.INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no tracebacks by default
        return output.report_error(exc)
    return int(result or 0)
