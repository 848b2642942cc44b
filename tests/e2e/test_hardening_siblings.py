"""Siblings of the hostile-review defects (issue 10): the same rules where the review did not look.

A pasted token where the Lytics token variable's *name* belongs is refused without being
echoed; provider files from a workspace's `providers:` folder and saved plan files are read
with the same bounded, non-blocking reads as manifests (a FIFO never blocks, /dev/zero ends).
"""

from __future__ import annotations

import os
from pathlib import Path

CANARY = "EAAB-canary.0123456789/token"  # real tokens carry such characters, or are longer than 128


def test_a_token_pasted_as_the_lytics_token_variable_is_refused_unechoed(make_workspace, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = make_workspace({}, settings=f'backend: {{kind: lytics, token_env: "{CANARY}"}}\n')
    result = run_cli("validate", cwd=root)
    assert result.returncode == 1
    assert "authctl.yaml:1: backend.token_env: must be the name of an environment variable" in result.stderr
    assert CANARY not in result.stdout + result.stderr


def test_special_and_huge_provider_files_are_refused_fast(make_workspace, run_cli) -> None:  # type: ignore[no-untyped-def]
    root = make_workspace({}, settings="providers: [extra]\n")
    (root / "extra").mkdir()
    os.mkfifo(root / "extra" / "blocking.yaml")
    (root / "extra" / "endless.yaml").symlink_to("/dev/zero")
    result = run_cli("validate", cwd=root, timeout=30)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "blocking.yaml: cannot read: it is a FIFO (named pipe), not a regular file" in result.stderr
    assert "endless.yaml: cannot read: it is a character device, not a regular file" in result.stderr


def test_a_plan_file_that_is_a_fifo_or_a_device_is_refused_fast(make_workspace, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_workspace({})
    fifo = tmp_path / "plan.json"
    os.mkfifo(fifo)
    for path, words in ((fifo, "a FIFO (named pipe)"), (Path("/dev/zero"), "a character device")):
        result = run_cli("apply", str(path), cwd=root, timeout=30)
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"plan file {path} cannot be read: it is {words}, not a regular file" in result.stderr
