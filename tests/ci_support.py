"""Run the CI examples (examples/ci/) the way GitHub Actions and GitLab CI run them, on this machine.

Importable as ``ci_support`` (pytest puts ``tests/`` on ``sys.path``); used by
tests/e2e/test_ci_examples.py, with tests/ci_config.py (how the files are read) and
tests/ci_forge.py (the APIs they call). What stands in for what:

- ``Repo``: the repository as CI checks it out. Each job starts from the committed files
  (``checkout()``); ``.authctl/`` (the demo's embedded platform and state, which a team's CI
  reaches over the network) carries over from job to job, as the real services would.
- ``run_github_job``/``run_gitlab_job``: each ``run:`` step (``bash --noprofile --norc -eo
  pipefail``, as GitHub runs ``shell: bash``) or job script (``set -eo pipefail``, as the GitLab
  runner does) as a real subprocess, with the variables the CI would set, ``$GITHUB_OUTPUT`` and
  ``$GITHUB_STEP_SUMMARY`` files, and ``authctl`` on PATH (a shim running this checkout, each
  run forked from the suite's zygote through ``Relay``, as ``run_cli`` does for the other tests).
  ``actions/checkout`` and ``actions/setup-python`` do nothing (the job already runs in the
  checkout, with this interpreter); ``actions/upload-artifact`` collects the files it names.
  A step whose whole script is in ``skipped`` (``pip install authctl``) is not run, and says so.
  A job the event would not start (its ``if:``, its ``rules``) is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cli_forkserver
import yaml
from ci_config import context_lookup, evaluate, github_functions, gitlab_job, gitlab_pipeline, interpolate, truthy
from ci_forge import REPOSITORY, FakeForge

# -- the checkout ------------------------------------------------------------------------------

KEPT = ".authctl"  # the embedded platform and the state: services, not files of the checkout


class Repo:
    """A branch's committed files (``committed``) and the runner's checkout of them (``root``)."""

    def __init__(self, source: Path, tmp_path: Path, name: str = "repo") -> None:
        self.committed = tmp_path / f"{name}.committed"
        self.root = tmp_path / name
        shutil.copytree(source, self.committed, ignore=shutil.ignore_patterns(KEPT, "secrets"))
        self.root.mkdir()
        self.checkout()

    def checkout(self) -> Path:
        """A fresh checkout: everything but .authctl/ removed, the committed files written again."""
        for entry in self.root.iterdir():
            if entry.name == KEPT:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        shutil.copytree(self.committed, self.root, dirs_exist_ok=True)
        return self.root

    def write(self, relative: str, text: str) -> None:
        """Commit ``text`` as ``relative`` (a push to the branch)."""
        path = self.committed / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def edit(self, relative: str, old: str, new: str) -> None:
        text = (self.committed / relative).read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {relative}"
        self.write(relative, text.replace(old, new))

    def drop_document(self, relative: str, name: str) -> None:
        """Commit ``relative`` without the YAML document named ``name``."""
        path = self.committed / relative
        documents = [d for d in path.read_text(encoding="utf-8").split("\n---\n")
                     if (yaml.safe_load(d) or {}).get("metadata", {}).get("name") != name]
        path.write_text("\n---\n".join(documents), encoding="utf-8")


def authctl_shim(folder: Path, relay: Relay) -> Path:
    """A bin folder whose ``authctl`` runs this checkout's reconciler (what ``pip install authctl`` gives).

    Each run is forked from this pytest process's zygote through ``relay`` (see :class:`Relay`),
    or, when it may not be, runs a fresh interpreter.
    """
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "authctl"
    shim.write_text(_RELAYED_SHIM.format(python=sys.executable, socket_path=relay.path, refused=REFUSED),
                    encoding="utf-8")
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return folder


REFUSED = -1000  # the relay's answer when the run may not be forked: the shim starts a fresh interpreter
_RELAYED_SHIM = """#!{python} -SE
# authctl for the CI steps: forked from the test's zygote through tests/ci_support.Relay, else a fresh interpreter.
import json, os, socket, struct, sys

def forked():
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect({socket_path!r})
            body = json.dumps({{"args": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}}).encode()
            message = struct.pack("!I", len(body)) + body
            conn.sendall(message[socket.send_fds(conn, [message], [0, 1, 2]):])
            answer = b""
            while len(answer) < 4:
                chunk = conn.recv(4 - len(answer))
                if not chunk:
                    return None
                answer += chunk
            return struct.unpack("!i", answer)[0]
    except OSError:
        return None

code = forked()
if code is None or code == {refused}:
    os.execv({python!r}, [{python!r}, "-m", "reconciler", *sys.argv[1:]])
sys.exit(code if code >= 0 else 128 - code)
"""


class Relay:
    """Hands the CI steps' ``authctl`` runs to tests/cli_forkserver.py, as ``run_cli`` does for the other tests.

    Why: the steps run authctl from bash about 25 times, and a fresh interpreter spends most of
    a small command importing. The shim sends its arguments, folder, environment and its
    stdin/stdout/stderr over a Unix socket; the relay passes them to ``cli_forkserver.popen``
    and answers with the exit status. Each run is still a process of its own, with the step's
    descriptors and environment. When the run may not be forked (``cli_forkserver.enabled``
    says no, or there is no zygote) the answer is REFUSED and the shim starts a fresh interpreter.
    """

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="authctl-relay-")  # short: a socket path has ~100 characters
        self.path = os.path.join(self.folder, "s")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(16)
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    def _relay(self, conn: socket.socket) -> None:
        with conn:
            data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
            try:
                (size,) = struct.unpack("!I", data[:4])
                body = data[4:]
                while len(body) < size:
                    chunk = conn.recv(size - len(body))
                    if not chunk:
                        return
                    body += chunk
                request = json.loads(body)
                process = None
                if cli_forkserver.enabled(request["env"]):
                    process = cli_forkserver.popen(request["args"], cwd=request["cwd"], environ=request["env"],
                                                   stdin=fds[0], stdout=fds[1], stderr=fds[2])
            finally:
                for fd in fds:
                    os.close(fd)  # the zygote's monitor holds its own copies
            conn.sendall(struct.pack("!i", REFUSED if process is None else process.wait()))

    def close(self) -> None:
        """Stop accepting and wait for the acceptor: a thread left behind would keep later tests in this
        process from forking (the manifest reader refuses to fork a process with threads)."""
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
        except OSError:
            pass
        self._listener.close()
        self._acceptor.join(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


def base_environment(bin_dir: Path, home: Path) -> dict[str, str]:
    """What every runner has, and nothing from this test process (no token, no AUTHCTL_* setting)."""
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": str(home),
            "LANG": "C.UTF-8", "CI": "true"}


# -- results -----------------------------------------------------------------------------------

@dataclass
class StepResult:
    name: str
    outcome: str  # success | failure | skipped
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    reason: str = ""  # why skipped
    ran_script: bool = False  # a run: step executed by bash


@dataclass
class JobResult:
    """One job's run: its steps (GitHub) or script (GitLab), artifacts and step summary."""

    job: str
    source: str = ""  # the CI file's name
    steps: list[StepResult] = field(default_factory=list)
    artifacts: dict[str, dict[str, bytes]] = field(default_factory=dict)
    summary: str = ""
    status: str = "success"  # success | failure (GitLab: also warning, for an allowed failure)

    def step(self, name: str) -> StepResult:
        (found,) = [s for s in self.steps if s.name == name]
        return found

    @property
    def executed(self) -> set[str]:
        return {s.name for s in self.steps if s.ran_script}

    def text(self) -> str:
        """Everything the job printed, wrote to its summary and uploaded (for canary checks)."""
        uploaded = b"".join(b for files in self.artifacts.values() for b in files.values())
        return "\n".join([*(s.stdout + s.stderr for s in self.steps), self.summary,
                          uploaded.decode("utf-8", "replace")])

    def describe(self) -> str:
        return "\n".join(f"--- {s.name}: {s.outcome} (exit {s.exit_code}) {s.reason}\n{s.stdout}{s.stderr}"
                         for s in self.steps)


def _collect(root: Path, paths: list[str]) -> dict[str, bytes]:
    """The files ``paths`` name (a folder: every file in it, by its path inside), as an artifact holds them."""
    files: dict[str, bytes] = {}
    for entry in paths:
        path = root / entry
        if path.is_file():
            files[path.name] = path.read_bytes()
        elif path.is_dir():
            files.update({p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()})
    return files


def _read_outputs(path: Path) -> dict[str, str]:
    """``$GITHUB_OUTPUT``: ``name=value`` lines and ``name<<DELIMITER`` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines()) if path.exists() else iter(())
    for line in lines:
        if "<<" in line and "=" not in line.split("<<", 1)[0]:
            name, delimiter = line.split("<<", 1)
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            outputs[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


# -- GitHub Actions ----------------------------------------------------------------------------

@dataclass
class GitHubRun:
    """The run a job belongs to: its event, the secrets it gets, the runner's environment and the forge."""

    event_name: str
    event: dict[str, Any]
    secrets: Mapping[str, str]
    token: str
    forge: FakeForge
    environment: Mapping[str, str]
    temp: Path
    run_id: int = 1000
    skipped: Mapping[str, str] = field(default_factory=dict)

    def github(self) -> dict[str, Any]:
        return {"event_name": self.event_name, "event": self.event, "repository": REPOSITORY, "token": self.token,
                "server_url": "https://github.example", "api_url": self.forge.github_url, "run_id": str(self.run_id),
                "ref": "refs/heads/main" if self.event_name != "pull_request" else "refs/pull/7/merge"}


def run_github_job(workflow: Mapping[str, Any], job_id: str, run: GitHubRun, repo: Path) -> JobResult:
    """Run job ``job_id`` of ``workflow`` in the checkout ``repo`` (steps in order; see the module docstring)."""
    job = workflow["jobs"][job_id]
    result = JobResult(job_id)
    contexts: dict[str, Any] = {"github": run.github(), "secrets": dict(run.secrets), "vars": {}, "steps": {},
                                "env": {}, "runner": {"temp": str(run.temp), "os": "Linux"}}
    lookup = context_lookup(contexts)
    if not truthy(evaluate(str(job.get("if", "true")), lookup, github_functions(lambda: "success"))):
        raise AssertionError(f"a {run.event_name} run does not start job {job_id} (its if: {job['if']})")
    for scope in (workflow.get("env", {}), job.get("env", {})):
        contexts["env"].update({k: interpolate(str(v), lookup) for k, v in scope.items()})
    functions = github_functions(lambda: result.status)
    summary = run.temp / f"summary-{job_id}.md"
    summary.write_text("", encoding="utf-8")
    for number, step in enumerate(job["steps"]):
        name = str(step.get("name") or step.get("uses") or step["run"].splitlines()[0])
        step_env = {k: interpolate(str(v), lookup) for k, v in step.get("env", {}).items()}
        if not truthy(evaluate(str(step.get("if", "success()")), lookup, functions)):
            result.steps.append(StepResult(name, "skipped", reason=f"if: {step.get('if', 'success()')}"))
            _record_step(contexts, step, {}, "skipped")
            continue
        if "uses" in step:
            _use_action(step, result, lookup, repo)
            result.steps.append(StepResult(name, "success"))
            continue
        script = str(step["run"])
        if script.strip() in run.skipped:
            result.steps.append(StepResult(name, "skipped", reason=run.skipped[script.strip()]))
            continue
        outputs_file = run.temp / f"output-{job_id}-{number}"
        outputs_file.write_text("", encoding="utf-8")
        script_file = run.temp / f"step-{job_id}-{number}.sh"
        script_file.write_text(script, encoding="utf-8")
        env = {**run.environment, "GITHUB_ACTIONS": "true", "GITHUB_API_URL": run.forge.github_url,
               "GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": REPOSITORY,
               "GITHUB_RUN_ID": str(run.run_id), "GITHUB_EVENT_NAME": run.event_name, "GITHUB_WORKSPACE": str(repo),
               "GITHUB_OUTPUT": str(outputs_file), "GITHUB_STEP_SUMMARY": str(summary), "RUNNER_TEMP": str(run.temp),
               **contexts["env"], **step_env}
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)], cwd=repo,
                              env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
                          check=False)
        outcome = "success" if done.returncode == 0 else "failure"
        result.steps.append(StepResult(name, outcome, done.returncode, done.stdout, done.stderr, ran_script=True))
        _record_step(contexts, step, _read_outputs(outputs_file), outcome)
        if outcome == "failure" and not step.get("continue-on-error"):
            result.status = "failure"
    result.summary = summary.read_text(encoding="utf-8")
    return result


def _record_step(contexts: dict[str, Any], step: Mapping[str, Any], outputs: dict[str, str], outcome: str) -> None:
    if step.get("id"):
        contexts["steps"][step["id"]] = {"outputs": outputs, "outcome": outcome, "conclusion": outcome}


def _use_action(step: Mapping[str, Any], result: JobResult, lookup: Callable[[str], Any], repo: Path) -> None:
    action = str(step["uses"])
    given = {k: interpolate(str(v), lookup) for k, v in step.get("with", {}).items()}
    if action in ("actions/checkout@v4", "actions/setup-python@v5"):
        return  # the job runs in the checkout already, with this interpreter
    if action == "actions/upload-artifact@v4":
        name = given["name"]
        assert name not in result.artifacts, f"artifact {name} uploaded twice in one job"
        files = _collect(repo, [line.strip() for line in given["path"].splitlines() if line.strip()])
        if not files and given.get("if-no-files-found", "warn") == "error":
            raise AssertionError(f"upload {name}: no files")
        result.artifacts[name] = files
        return
    raise AssertionError(f"{action}: the test runner does not know this action; teach ci_support._use_action")


# -- GitLab CI ---------------------------------------------------------------------------------

def run_gitlab_job(config: Mapping[str, Any], name: str, repo: Path, variables: Mapping[str, str],
                   environment: Mapping[str, str], temp: Path, skipped: Mapping[str, str]) -> JobResult:
    """Run job ``name``: before_script and script as one ``set -eo pipefail`` shell, lines in ``skipped`` left out."""
    if name not in gitlab_pipeline(config, variables):
        raise AssertionError(f"a pipeline with these variables has no job {name}")
    job = gitlab_job(config, name)
    result = JobResult(name)
    lines = [str(line) for line in [*job.get("before_script", []), *job.get("script", [])]]
    kept = [line for line in lines if line.strip() not in skipped]
    for line in lines:
        if line.strip() in skipped:
            result.steps.append(StepResult(line.strip(), "skipped", reason=skipped[line.strip()]))
    script_file = temp / f"gitlab-{name}.sh"
    script_file.write_text("set -eo pipefail\n" + "\n".join(kept) + "\n", encoding="utf-8")
    env = {**environment, "GITLAB_CI": "true", "CI_JOB_NAME": name, "CI_PROJECT_DIR": str(repo),
           **{k: str(v) for k, v in config.get("variables", {}).items()},
           **{k: str(v) for k, v in job.get("variables", {}).items()}, **variables}
    done = subprocess.run(["bash", "--noprofile", "--norc", str(script_file)], cwd=repo, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
                          check=False)
    result.steps.append(StepResult("script", "success" if done.returncode == 0 else "failure", done.returncode,
                                   done.stdout, done.stderr, ran_script=True))
    allowed = job.get("allow_failure")
    if done.returncode == 0:
        result.status = "success"
    elif allowed is True or (isinstance(allowed, Mapping) and done.returncode in allowed.get("exit_codes", [])):
        result.status = "warning"
    else:
        result.status = "failure"
    artifacts = job.get("artifacts") or {}
    when = artifacts.get("when", "on_success")
    if artifacts and (when == "always" or (when == "on_success") == (result.status == "success")):
        result.artifacts["artifacts"] = _collect(repo, [str(p) for p in artifacts.get("paths", [])])
    return result
