"""Run every ``examples/*/.scenario.yaml`` with the real CLI, so the examples stay true.

The scenario is a dot-file so that authctl, run in the example folder as examples/README.md
suggests, does not read it as a manifest (a test checks every example validates in place).

A scenario is a list of steps, each one of:
  run: [ARGS...]                 authctl ARGS in the workspace; `exit` (default 0),
                                 `expect_output`/`forbid_output` substrings of stdout+stderr,
                                 `expect_summary` (subset of the JSON plan summary),
                                 `save_output_as` NAME (stripped stdout, usable as ${NAME})
  set_env: {VAR: value}          change the environment for the following steps
  remove_documents: {file, names}  delete YAML documents by metadata.name, as a PR would
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from string import Template

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCENARIOS = sorted(EXAMPLES.glob("*/.scenario.yaml"))


def _remove_documents(path: Path, names: list[str]) -> None:
    documents = [d for d in path.read_text().split("\n---\n")
                 if (yaml.safe_load(d) or {}).get("metadata", {}).get("name") not in names]
    path.write_text("\n---\n".join(documents))


def test_every_example_has_a_scenario() -> None:
    folders = sorted(p.parent.name for p in SCENARIOS)
    assert folders == sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.parent.name)
def test_example(scenario: Path, tmp_path: Path) -> None:
    spec = yaml.safe_load(scenario.read_text())
    workspace = tmp_path / scenario.parent.name
    shutil.copytree(scenario.parent, workspace, ignore=shutil.ignore_patterns(".scenario.yaml", ".authctl"))
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **{k: str(v) for k, v in spec.get("env", {}).items()}}
    saved: dict[str, str] = {}
    for number, step in enumerate(spec["steps"], start=1):
        if "set_env" in step:
            env.update({k: str(v) for k, v in step["set_env"].items()})
            continue
        if "remove_documents" in step:
            _remove_documents(workspace / step["remove_documents"]["file"], step["remove_documents"]["names"])
            continue
        args = [Template(str(a)).substitute(saved) for a in step["run"]]
        result = subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=workspace, env=env,
                                capture_output=True, text=True, timeout=120)
        text = result.stdout + result.stderr
        where = f"{scenario.parent.name} step {number} (authctl {' '.join(args)}):\n{text}"
        assert result.returncode == step.get("exit", 0), where
        assert "Traceback" not in text, where
        for needle in step.get("expect_output", []):
            assert needle in text, f"missing {needle!r} in {where}"
        for needle in step.get("forbid_output", []):
            assert needle not in text, f"unexpected {needle!r} in {where}"
        if "expect_summary" in step:
            summary = json.loads(result.stdout)["summary"]
            assert {k: summary[k] for k in step["expect_summary"]} == step["expect_summary"], where
        if "save_output_as" in step:
            saved[step["save_output_as"]] = result.stdout.strip()


@pytest.mark.parametrize("folder", [p.parent for p in SCENARIOS], ids=lambda p: p.name)
def test_example_validates_in_place(folder: Path, tmp_path: Path) -> None:
    """`cd examples/NAME && authctl validate`, as examples/README.md suggests: the scenario is not a manifest."""
    workspace = tmp_path / folder.name
    shutil.copytree(folder, workspace, ignore=shutil.ignore_patterns(".authctl"))
    result = subprocess.run([sys.executable, "-m", "reconciler", "validate"], cwd=workspace,
                            env={**os.environ, "NO_COLOR": "1"}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
