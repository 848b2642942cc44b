"""Fixtures shared by every test folder. Keep this file small and generic.

- ``run_cli(*args, cwd=None, env=None, input=None)`` (from ``cli_runner.py``): runs ``python -m reconciler ARGS`` as a
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

from collections.abc import Mapping
from pathlib import Path

import pytest

import cli_forkserver
from cli_runner import CliRunner, WorkspaceMaker, run_cli as _run_cli, write_workspace

__all__ = ["CliRunner", "WorkspaceMaker", "_run_cli", "write_workspace"]  # older imports of these from conftest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_platform_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTHCTL_PLATFORM_KEY", raising=False)


@pytest.fixture
def run_cli() -> CliRunner:
    """``run_cli(*args, cwd=None, env=None, input=None) -> CompletedProcess`` (see module doc)."""
    return _run_cli


@pytest.fixture
def make_workspace(tmp_path: Path) -> WorkspaceMaker:
    """``make_workspace(files, settings="", name="ws") -> Path`` under ``tmp_path``."""

    def make(files: Mapping[str, str | bytes], settings: str | None = "", name: str = "ws") -> Path:
        return write_workspace(tmp_path / name, files, settings)

    return make


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop this pytest process's CLI fork server (started by the first ``run_cli``)."""
    cli_forkserver.ZYGOTE.stop()
