"""The authctl command line: parse, call the engine, render. No logic of its own.

``main`` is the console-script entry point. It runs click in non-standalone mode so
that usage errors exit 1 (exit 2 means "changes present" for ``plan``) and every
error is rendered by ``output.report_error``.
"""

from __future__ import annotations

import sys

import click

from reconciler import __version__
from reconciler.cli import output
from reconciler.cli.common import CONTEXT_SETTINGS
from reconciler.errors import AuthctlError


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="authctl", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def cli(debug: bool) -> None:
    """Declarative reconciler for authorizations and the jobs bound to them.

    Keep manifests in Git; `authctl plan` shows what would change, `authctl apply`
    makes it so, and no authorization in use by an active job is ever deleted.
    """
    output.STATE.debug = output.STATE.debug or debug


def _register_commands() -> None:
    from reconciler.cli import apply, manifests, planning, platform, views

    for module in (manifests, planning, apply, views, platform):
        for command in module.COMMANDS:
            cli.add_command(command)


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code instead of raising SystemExit inside."""
    args = list(sys.argv[1:] if argv is None else argv)
    output.STATE.debug = "--debug" in args
    output.STATE.json_errors = output.argv_wants_json(args)
    try:
        result = cli.main(args=args, prog_name="authctl", standalone_mode=False)
    except click.exceptions.Abort:
        output.stderr().print("Aborted.")
        return 1
    except click.ClickException as exc:
        if output.STATE.json_errors:
            output.print_json({"format_version": output.JSON_FORMAT_VERSION,
                               "error": {"type": "UsageError", "message": exc.format_message()}})
        else:
            exc.show()
        return 1
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except AuthctlError as exc:
        return output.report_error(exc)
    except KeyboardInterrupt:
        output.stderr().print("Interrupted.")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no tracebacks by default
        return output.report_error(exc)
    return int(result or 0)


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
