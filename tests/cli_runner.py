"""Running the CLI and writing workspaces, for tests and the fixtures in conftest.py.

A module of its own (not conftest.py) so that test files can import these by name: with two
conftest.py files in the tree (tests/ and tests/integration/), ``from conftest import ...``
finds whichever was imported first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import cli_forkserver

CliRunner = Callable[..., "subprocess.CompletedProcess[str]"]
WorkspaceMaker = Callable[..., Path]


def run_cli(*args: str | os.PathLike[str], cwd: Path | str | None = None,
             env: Mapping[str, str | None] | None = None, input: str | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    environ = dict(os.environ)
    environ.update({"NO_COLOR": "1", "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"})
    for key, value in (env or {}).items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    if cli_forkserver.enabled(environ):
        forked = cli_forkserver.run([str(arg) for arg in args], cwd=cwd, environ=environ, input=input,
                                    timeout=timeout)
        if forked is not None:
            return forked
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *map(str, args)],
        cwd=cwd, env=environ, input=input, capture_output=True, text=True,
        encoding="utf-8", errors="replace", timeout=timeout, check=False,
    )


def write_workspace(root: Path, files: Mapping[str, str | bytes], settings: str | None = "") -> Path:
    """Write ``authctl.yaml`` (unless ``settings`` is None) and ``files`` under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    if settings is not None:
        (root / "authctl.yaml").write_text(settings, encoding="utf-8")
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


_run_cli = run_cli  # the older name, still used by some tests
