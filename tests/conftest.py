"""Fixtures shared by every test folder. Keep this file small and generic.

- ``run_cli(*args, cwd=None, env=None, input=None)``: runs ``python -m reconciler ARGS`` as a
  real subprocess with the venv's interpreter and returns the ``CompletedProcess`` (text
  mode, stdout/stderr captured, never raises on a non-zero exit). Colour is off
  (``NO_COLOR=1``) and tables are 200 columns wide so assertions see plain, unwrapped text.
  ``env`` entries are added to (not replacing) the current environment; a value of ``None``
  removes that variable.
  Each run is forked from a zygote that imported the CLI once (``cli_forkserver``: still a
  process of its own per run; ``AUTHCTL_TEST_FORKSERVER=0`` starts a fresh interpreter each time).
- ``make_workspace(files, settings="")``: writes a workspace under ``tmp_path`` and returns
  its root. ``files`` maps relative paths to ``str`` (written as UTF-8) or ``bytes``;
  ``settings`` is the text of ``authctl.yaml`` (``None`` writes no authctl.yaml).

Every test runs without ``AUTHCTL_PLATFORM_KEY`` from the developer's environment (autouse
fixture below), so platforms use the key file beside their database unless a test sets one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

import cli_forkserver

REPO_ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture(autouse=True)
def _no_platform_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTHCTL_PLATFORM_KEY", raising=False)


CliRunner = Callable[..., "subprocess.CompletedProcess[str]"]
WorkspaceMaker = Callable[..., Path]


def _run_cli(*args: str | os.PathLike[str], cwd: Path | str | None = None,
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


@pytest.fixture
def run_cli() -> CliRunner:
    """``run_cli(*args, cwd=None, env=None, input=None) -> CompletedProcess`` (see module doc)."""
    return _run_cli


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


@pytest.fixture
def make_workspace(tmp_path: Path) -> WorkspaceMaker:
    """``make_workspace(files, settings="", name="ws") -> Path`` under ``tmp_path``."""

    def make(files: Mapping[str, str | bytes], settings: str | None = "", name: str = "ws") -> Path:
        return write_workspace(tmp_path / name, files, settings)

    return make


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop this pytest process's CLI fork server (started by the first ``run_cli``)."""
    cli_forkserver.ZYGOTE.stop()
