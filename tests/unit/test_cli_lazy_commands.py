"""The CLI imports command modules lazily; its tables must list every module and command."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import reconciler.cli as cli_package
from reconciler.cli.app import _COMMAND_MODULES, _MODULE_OF, _register_commands, cli

CLI_DIR = Path(cli_package.__file__).parent


def _modules_with_commands() -> set[str]:
    found = set()
    for path in CLI_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            if any(isinstance(t, ast.Name) and t.id == "COMMANDS" for t in targets):
                found.add(path.stem)
    return found


def test_every_command_module_is_registered() -> None:
    assert _modules_with_commands() == set(_COMMAND_MODULES)


def test_every_command_is_in_the_lookup_table() -> None:
    _register_commands()
    assert set(cli.commands) == set(_MODULE_OF)


def test_validate_does_not_import_sqlalchemy() -> None:
    code = ("import sys\nfrom reconciler.cli import main\n"
            "main(['validate', '--help'])\n"
            "print('sqlalchemy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
