"""Run every ``examples/*/.scenario.yaml`` with the real CLI, so the examples stay true.

The scenario is a dot-file so that authctl, run in the example folder as examples/README.md
suggests, does not read it as a manifest (a test checks every example, and the demo workspace
manifests/, validates in place in each of its environments without a single warning).

A scenario is a list of steps, each one of:
  run: [ARGS...]                 authctl ARGS in the workspace; `exit` (default 0),
                                 `expect_output`/`forbid_output` substrings of stdout+stderr,
                                 `expect_summary` (subset of the JSON plan summary),
                                 `save_output_as` NAME (stripped stdout, usable as ${NAME})
  set_env: {VAR: value}          change the environment for the following steps (null unsets VAR)
  remove_documents: {file, names}  delete YAML documents by metadata.name, as a PR would
  replace_text: {file, old, new}   edit a file as a person reviewing it would (``old`` must be there)
  remove_paths: [PATH, ...]      delete files or folders of the workspace (a fresh checkout has no .authctl/)
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from string import Template

import pytest
import yaml

from cli_runner import _run_cli

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
DEMO = REPO / "manifests"
SCENARIOS = sorted(EXAMPLES.glob("*/.scenario.yaml"))
# Folders of examples/ that are not workspaces, with the test that runs them instead.
NOT_WORKSPACES = {"ci": "tests/e2e/test_ci_examples.py runs its CI files against the demo workspace"}


def _remove_documents(path: Path, names: list[str]) -> None:
    documents = [d for d in path.read_text().split("\n---\n")
                 if (yaml.safe_load(d) or {}).get("metadata", {}).get("name") not in names]
    path.write_text("\n---\n".join(documents))


def test_every_example_has_a_scenario() -> None:
    folders = sorted(p.parent.name for p in SCENARIOS)
    assert folders == sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir() and p.name not in NOT_WORKSPACES)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.parent.name)
def test_example(scenario: Path, tmp_path: Path) -> None:
    spec = yaml.safe_load(scenario.read_text())
    workspace = tmp_path / scenario.parent.name
    shutil.copytree(scenario.parent, workspace, ignore=shutil.ignore_patterns(".scenario.yaml", ".authctl"))
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **{k: str(v) for k, v in spec.get("env", {}).items()}}
    saved: dict[str, str] = {}
    for number, step in enumerate(spec["steps"], start=1):
        if "set_env" in step:
            for key, value in step["set_env"].items():
                if value is None:
                    env.pop(key, None)
                else:
                    env[key] = str(value)
            continue
        if "remove_paths" in step:
            for relative in step["remove_paths"]:
                target = workspace / relative
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            continue
        if "remove_documents" in step:
            _remove_documents(workspace / step["remove_documents"]["file"], step["remove_documents"]["names"])
            continue
        if "replace_text" in step:
            edit = step["replace_text"]
            path = workspace / edit["file"]
            text = path.read_text(encoding="utf-8")
            assert edit["old"] in text, f"{scenario.parent.name} step {number}: {edit['old']!r} not in {edit['file']}"
            path.write_text(text.replace(edit["old"], edit["new"]), encoding="utf-8")
            continue
        args = [Template(str(a)).substitute(saved) for a in step["run"]]
        result = _run_cli(*args, cwd=workspace, env={**dict.fromkeys(os.environ), **env}, timeout=120)
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


def _validate_targets() -> list[tuple[Path, str | None]]:
    """The demo workspace and every example, once per environment its authctl.yaml declares (or once without)."""
    targets: list[tuple[Path, str | None]] = []
    for folder in [DEMO, *(p.parent for p in SCENARIOS)]:
        environments = (yaml.safe_load((folder / "authctl.yaml").read_text()) or {}).get("environments") or {}
        targets += [(folder, env) for env in environments] or [(folder, None)]
    return targets


@pytest.mark.parametrize(("folder", "env"), _validate_targets(),
                         ids=lambda v: v.name if isinstance(v, Path) else (v or "default"))
def test_example_validates_in_place_without_warnings(folder: Path, env: str | None, tmp_path: Path) -> None:
    """`cd examples/NAME && authctl validate [--env ENV]`, as examples/README.md suggests: the scenario is
    not a manifest, and the demo and the examples use only fields the catalog knows (no warning)."""
    workspace = tmp_path / folder.name
    shutil.copytree(folder, workspace, ignore=shutil.ignore_patterns(".authctl"))
    env_args = ["--env", env] if env else []
    text = _run_cli("validate", *env_args, cwd=workspace, timeout=120)
    output = text.stdout + text.stderr
    assert text.returncode == 0, output
    assert "warning" not in output.lower(), output
    result = _run_cli("validate", "--format", "json", *env_args, cwd=workspace, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["valid"] and report["warnings"] == [], report
