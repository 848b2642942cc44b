"""The authctl command line: parse, call the engine, render. No logic of its own.

``entry`` is the console-script entry point. This module is kept import-free so that
``authctl --version`` answers without loading click or anything else (CI calls the CLI
on every pull request: see benchmarks/startup.py); everything else runs the click
application in ``cli/app.py``, which imports each command's module only when it runs.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code instead of raising SystemExit inside."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        from reconciler import __version__

        sys.stdout.write(f"authctl {__version__}\n")
        return 0
    from reconciler.cli.app import run

    return run(args)


def entry() -> None:
    sys.exit(main())
