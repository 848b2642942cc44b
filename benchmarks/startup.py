"""Benchmark: how fast `authctl` starts, as CI calls it, beside the interpreter floor and terraform.

Why
    A CLI that CI calls on every pull request should start like one. Targets on a 2-core
    machine: ``authctl --version`` within 3x of ``python -c pass`` (the interpreter floor:
    the same interpreter the console script runs), and a no-change ``authctl plan`` over
    2,000 authorizations at least 5x faster than a no-change ``terraform plan`` over 2,000
    ``terraform_data`` resources (where ``terraform`` is on PATH). This is a benchmark, not
    a timed test: the exit code is 0 unless something breaks (a command fails, or a
    no-change plan does not exit 0 with ``--detailed-exitcode``); ``meets_target`` says
    whether the bars were met.

How
    1. The commands run as subprocesses of the console script ``--authctl`` (default: the
       ``.venv/bin/authctl`` of this checkout), from a neutral temporary folder so that no
       checkout on the current folder shadows the installed code. Its interpreter (from the
       script's ``#!`` line) runs the floor ``python -c pass`` and ``python -m reconciler
       --version``; the checkout it runs (``authctl_root``) is where its ``reconciler`` is.
    2. Small commands, one untimed warm-up round (it also checks the exit codes), then
       ``--repeat`` rounds (default 7), each round running, one after another, the floor,
       ``authctl --version``, ``python -m reconciler --version`` and ``authctl validate``
       in a copy of this checkout's ``manifests/`` (the demo workspace; validate needs no
       secrets).
    3. Plan: a workspace of ``--size`` authorizations (no jobs), "already live and in
       state", is built by ``build()`` of ``benchmarks/plan_scale.py`` -- the copy in the
       checkout being timed when it has one, run by that checkout's interpreter, because it
       writes the embedded platform and the state with that checkout's own internals. Then
       ``authctl plan -w DIR --detailed-exitcode`` (text output, the secrets' variables
       set) runs once untimed and ``--repeat`` times (default 5), each expecting exit 0.
    4. Unless ``--skip-terraform`` or no ``terraform`` on PATH: plan_scale's terraform
       comparison (``--size`` ``terraform_data``, offline ``init``, state set up without a
       full apply, ``terraform plan -refresh=true -detailed-exitcode`` timed, expecting 0).
    5. Print one JSON object: per command min/median/all seconds, CPU seconds and peak RSS
       (benchmarks/measure.py), the ratios (median / floor median for ``--version`` and
       validate; terraform median / authctl plan median, also in CPU seconds, which do not
       depend on terraform getting both cores), the targets (on wall medians) and whether they were
       met, the interpreter's python version, cpus and load averages.

Usage
    .venv/bin/python benchmarks/startup.py [--repeat N] [--size N] [--skip-terraform] [--authctl PATH]

    Timing another checkout (e.g. a baseline worktree with its own venv): run this script
    with that venv's python and ``--authctl THAT/.venv/bin/authctl``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from measure import Run, gnu_time_available, load_average, run_measured, series  # benchmarks/measure.py
from plan_scale import _fail, terraform_compare, time_plans  # benchmarks/plan_scale.py

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
SEED = 20240601

TARGET_VERSION_RATIO = 3.0  # authctl --version median / python -c pass median, at most
TARGET_TERRAFORM_RATIO = 5.0  # terraform plan median / authctl plan median, at least

# Runs plan_scale.build() of the checkout being timed, with that checkout's interpreter
# (plan_scale puts its own checkout first on sys.path, and its spawned child inherits that).
_BUILD = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "from plan_scale import build\n"
    "n = int(sys.argv[3])\n"
    "generated, info = build(Path(sys.argv[2]), n, 0, max(1, n // 100), int(sys.argv[4]))\n"
    "print(json.dumps({'secret_env': generated.secret_env, 'files': generated.files,\n"
    "                  'bytes': generated.bytes, 'build': info}))\n"
)

_WHERE = ("import importlib.util, platform\n"
          "print(platform.python_version())\n"
          "print(importlib.util.find_spec('reconciler').origin)\n")


def interpreter_of(script: Path) -> list[str]:
    """The argv that runs ``script``'s ``#!`` interpreter (this interpreter if it has none)."""
    with open(script, "rb") as f:
        first = f.readline().decode(errors="replace").strip()
    argv = shlex.split(first[2:]) if first.startswith("#!") else []
    if argv and "python" in Path(argv[-1] if argv[0].endswith("/env") else argv[0]).name:
        return argv
    beside = script.parent / "python"
    return [str(beside)] if beside.exists() else [sys.executable]


def run_checked(cmd: list[str], env: dict[str, str], tmp: Path, tag: str, gnu: bool, cwd: Path) -> Run:
    run = run_measured(cmd, env, tmp, tag, cwd=cwd, gnu=gnu)
    if run.code != 0:
        raise _fail(f"{shlex.join(cmd)}: expected exit 0", run)
    return run


def build_plan_workspace(python: list[str], authctl_root: Path, workspace: Path, size: int,
                         cwd: Path) -> dict[str, Any]:
    """``size`` live, in-state authorizations, built by the timed checkout's own plan_scale.build()."""
    generator = authctl_root / "benchmarks"
    if not (generator / "plan_scale.py").is_file():
        generator = BENCHMARKS
    built = subprocess.run([*python, "-c", _BUILD, str(generator), str(workspace), str(size), str(SEED)],
                           cwd=cwd, capture_output=True, text=True)
    if built.returncode != 0:
        raise SystemExit(f"building the plan workspace failed:\n{(built.stderr or built.stdout)[-3000:]}")
    made = json.loads(built.stdout.strip().splitlines()[-1])
    made["generator"] = str(generator / "plan_scale.py")
    return made


def measure_all(authctl: Path, small_repeat: int, plan_repeat: int, size: int, skip_terraform: bool,
                tmp: Path) -> dict[str, Any]:
    neutral = tmp / "cwd"  # no checkout here: `python -m reconciler` finds the installed code
    neutral.mkdir()
    python = interpreter_of(authctl)
    where = subprocess.run([*python, "-c", _WHERE], cwd=neutral, capture_output=True, text=True)
    if where.returncode != 0:
        raise SystemExit(f"{shlex.join(python)} cannot find reconciler: {where.stderr.strip()[-2000:]}")
    python_version, origin = (where.stdout.split("\n") + ["", ""])[:2]
    if not origin.endswith(".py"):
        raise SystemExit(f"{shlex.join(python)} cannot find reconciler (found {origin!r})")
    authctl_root = Path(origin).resolve().parents[1]
    gnu = gnu_time_available()
    env = {**os.environ}
    env.pop("AUTHCTL_ENV", None)
    load_at_start = load_average()

    # 2. small commands, interleaved with the floor
    manifests = tmp / "manifests"
    shutil.copytree(REPO / "manifests", manifests)
    small = {
        "python_floor": ([*python, "-c", "pass"], neutral),
        "version": ([str(authctl), "--version"], neutral),
        "module_version": ([*python, "-m", "reconciler", "--version"], neutral),
        "validate": ([str(authctl), "validate"], manifests),
    }
    runs: dict[str, list[Run]] = {name: [] for name in small}
    for round_ in range(small_repeat + 1):  # round 0: warm-up, untimed
        for name, (cmd, cwd) in small.items():
            run = run_checked(cmd, env, tmp, name, gnu, cwd)
            if round_:
                runs[name].append(run)
    commands: dict[str, Any] = {name: {"argv": shlex.join(cmd), "cwd": "manifests/ (a copy)"
                                       if cwd == manifests else "a temporary folder", **series(runs[name])}
                                for name, (cmd, cwd) in small.items()}

    # 3. the no-change plan
    workspace = tmp / "plan-workspace"
    made = build_plan_workspace(python, authctl_root, workspace, size, neutral)
    plan_env = {**env, **made["secret_env"]}
    time_plans(workspace, plan_env, tmp, 1, gnu, expect=0, prefix=[str(authctl)])  # warm-up, untimed
    plan_runs = time_plans(workspace, plan_env, tmp, plan_repeat, gnu, expect=0, prefix=[str(authctl)])
    commands["plan"] = {"argv": f"{authctl} plan -w DIR --detailed-exitcode",
                        "authorizations": made["build"]["authorizations"], "jobs": made["build"]["jobs"],
                        "files": made["files"], "bytes": made["bytes"],
                        "workspace_generator": made["generator"],
                        "build": made["build"],
                        **series(plan_runs)}

    # 4. terraform
    terraform = None if skip_terraform else shutil.which("terraform")
    if terraform is None:
        tf: dict[str, Any] = {"skipped": "--skip-terraform" if skip_terraform else "terraform not on PATH"}
    else:
        tf = terraform_compare(terraform, tmp, size, plan_repeat, SEED, dict(os.environ), gnu,
                               full_apply=False)

    # 5. ratios and targets
    floor = commands["python_floor"]["seconds"]["median"]
    ratios: dict[str, float | None] = {
        f"{name}_vs_floor": round(commands[name]["seconds"]["median"] / floor, 2)
        for name in ("version", "module_version", "validate")}
    ratios["terraform_vs_plan"] = (round(tf["seconds"]["median"] / commands["plan"]["seconds"]["median"], 2)
                                   if "skipped" not in tf else None)
    # terraform plans on both cores: its wall time (so the ratio) depends on what else runs; CPU does not.
    cpu = (tf.get("cpu_seconds"), commands["plan"]["cpu_seconds"])
    ratios["terraform_vs_plan_cpu_seconds"] = (round(cpu[0]["median"] / cpu[1]["median"], 2)
                                               if all(cpu) and cpu[1]["median"] else None)
    detail = {"version_vs_floor": ratios["version_vs_floor"] <= TARGET_VERSION_RATIO,
              "plan_vs_terraform": (None if ratios["terraform_vs_plan"] is None
                                    else ratios["terraform_vs_plan"] >= TARGET_TERRAFORM_RATIO)}
    return {
        "benchmark": "startup",
        "authctl": str(authctl),
        "authctl_root": str(authctl_root),
        "interpreter": shlex.join(python),
        "repeat": {"small_commands": small_repeat, "plans": plan_repeat, "warmup_runs": 1},
        "size": size,
        "commands": commands,
        "terraform": tf,
        "ratios": ratios,  # of medians: X_vs_floor = X / python_floor; terraform plan / authctl plan
        "target": {"version_vs_floor_at_most": TARGET_VERSION_RATIO,
                   "terraform_vs_plan_at_least": TARGET_TERRAFORM_RATIO, "statistic": "median"},
        "meets_target": all(v is not False for v in detail.values()),
        "meets_target_detail": detail,
        "rss_measured_by": "GNU time %M" if gnu else "getrusage(RUSAGE_CHILDREN) in a wrapper process",
        "python": python_version,
        "pythondontwritebytecode": bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),  # no .pyc: compiles each run
        "cpus": os.cpu_count(),
        "load_average_at_start": load_at_start,
        "load_average_at_end": load_average(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=None,
                        help="timed runs of every command (default: 7 for the small commands, 5 for plans)")
    parser.add_argument("--size", type=int, default=2_000,
                        help="authorizations in the plan workspace / terraform_data resources")
    parser.add_argument("--skip-terraform", action="store_true")
    parser.add_argument("--authctl", type=Path, default=REPO / ".venv" / "bin" / "authctl",
                        help="the console script to time (default: this checkout's .venv/bin/authctl)")
    args = parser.parse_args(argv)
    authctl = args.authctl.absolute()
    if not os.access(authctl, os.X_OK):
        parser.error(f"--authctl {authctl}: not an executable file")
    with tempfile.TemporaryDirectory(prefix="authctl-startup-bench-", ignore_cleanup_errors=True) as tmp:
        result = measure_all(authctl, max(1, args.repeat or 7), max(1, args.repeat or 5), args.size,
                             args.skip_terraform, Path(tmp))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
