"""The README's shell, run as written: the 60-second tour line by line, and the CI deploy recipe.

Both run against a copy of manifests/ (the demo workspace) with the environment and the
secrets/ file the tour itself sets up, and the real CLI (`authctl` is a shim that runs
this interpreter's ``-m reconciler``). The deploy recipe is taken from the README's "CI
usage" block by its marker comment (``authctl-deploy``) and run as GitHub Actions runs a
``run:`` script (``bash -e``), with a blocked delete present: it must apply everything
else and exit 3.
"""

from __future__ import annotations

import os
import pty
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import yaml
from apply_support import open_platform_of

from reconciler.vocabulary import JobStatus

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DEPLOY_MARKER = "authctl-deploy"
SKIPPED = ("source", "cd")  # the tour's own setup: we run in a copy of manifests/ with this interpreter

# What each tour command prints, so its comment stays true (a fragment of stdout per command).
TOUR_OUTPUT = {
    "authctl validate": ("Valid: 4 authorizations and 4 jobs",),
    "authctl plan": ("Plan: 8 to create", "+ Authorization/fb-ads-main will be created"),
    "authctl apply": ("Apply these changes?", "Apply complete: 8 applied."),
    "authctl status": ("Authorizations (4)", "Label", "Provider", "Method", "Health", "Jobs", "Managed"),
    "authctl show fb-ads-main": ("Facebook Ads main (prod)", "Requests", "fb-audiences-main"),
    "authctl plan --env staging": ("Plan: 8 to create",),
}


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(info string, body) of every fenced block in ``text``."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```$", text, re.M | re.S)]


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def tour_commands() -> list[tuple[str, str]]:
    """The tour's command lines (backslash continuations joined) with their comments (after "  #")."""
    (body,) = [b for info, b in _fenced_blocks(_section("A 60-second tour")) if info == "sh"]
    commands: list[tuple[str, str]] = []
    code, comment = "", ""
    for raw in body.splitlines():
        part, _, note = raw.partition("  #")
        code, comment = code + part.strip(), comment + note
        if code.endswith("\\"):
            code = code[:-1]
            continue
        if code:
            commands.append((shlex.join(shlex.split(code)) if code.startswith("authctl ") else code, comment))
        code, comment = "", ""
    return commands


def deploy_script() -> str:
    """The ``run:`` script of the CI usage block's step that carries the marker comment."""
    blocks = [b for info, b in _fenced_blocks(_section("CI usage")) if info == "yaml" and DEPLOY_MARKER in b]
    assert len(blocks) == 1, "the CI usage section has one yaml block with the deploy recipe"
    steps = yaml.safe_load(blocks[0])
    (script,) = [s["run"] for s in steps if DEPLOY_MARKER in s.get("run", "")]
    return script


def _shim(tmp_path: Path) -> Path:
    """A bin folder whose `authctl` runs this interpreter's reconciler (what `pip install authctl` gives)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    shim = folder / "authctl"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m reconciler "$@"\n', encoding="utf-8")
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return folder


def _workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "manifests"
    shutil.copytree(ROOT / "manifests", workspace, ignore=shutil.ignore_patterns(".authctl", "secrets"))
    return workspace


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("AUTHCTL_PLATFORM_KEY", "FORCE_COLOR")}
    return {**env, "PATH": f"{_shim(tmp_path)}{os.pathsep}{env.get('PATH', '')}", "NO_COLOR": "1",
            "COLUMNS": "100", "AUTHCTL_USER": "readme@acme.example", "PYTHONIOENCODING": "utf-8", **extra}


def _run(command: str, cwd: Path, env: dict[str, str], *, terminal_answer: str | None = None
         ) -> subprocess.CompletedProcess[str]:
    """``command`` through bash; with ``terminal_answer``, stdin is a terminal that has typed it (a prompt)."""
    if terminal_answer is None:
        return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=180, check=False)
    controller, terminal = pty.openpty()
    try:
        os.write(controller, terminal_answer.encode())
        return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, stdin=terminal, capture_output=True,
                              text=True, timeout=180, check=False)
    finally:
        os.close(terminal)
        os.close(controller)


def _expected_code(comment: str) -> int:
    """0, unless the tour's comment says otherwise (``exit 3``, ``exit code 2``)."""
    match = re.search(r"exit (?:code )?(\d)", comment)
    return int(match.group(1)) if match else 0


def test_the_tour_runs_line_by_line(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    env = _env(tmp_path)
    commands = tour_commands()
    assert [c for c, _ in commands if c.startswith("authctl")], "the tour has authctl commands"
    seen: list[str] = []
    for command, comment in commands:
        if command.split()[0] in SKIPPED:
            continue
        if command.startswith("export "):  # the tour's variables, for every later line
            for assignment in shlex.split(command)[1:]:
                name, _, value = assignment.partition("=")
                env[name] = value
            continue
        # `authctl apply` asks on a terminal: answer it, as the person taking the tour would
        answer = "yes\n" if command == "authctl apply" else None
        result = _run(command, workspace, env, terminal_answer=answer)
        both = result.stdout + result.stderr
        assert result.returncode == _expected_code(comment), f"tour line `{command}`:\n{both}"
        assert "Traceback" not in both and "internal error" not in both, both
        for fragment in TOUR_OUTPUT.get(command, ()):
            assert fragment in result.stdout, f"{fragment!r} not in tour line `{command}`:\n{both}"
        seen.append(command)
    assert "authctl apply" in seen and "authctl plan --env staging" in seen
    # the job "someone starts in the UI" is on the EMEA authorization
    platform = open_platform_of(workspace)
    try:
        emea = platform.find_authorization("Facebook Ads EMEA (prod)")
        assert "manual" in {j.name for j in platform.snapshot().jobs if emea.id in j.auth_ids}
    finally:
        platform.close()


# -- the deploy recipe: a blocked delete does not hold back the rest -------------------------------
GCP_KEY = '{"type": "service_account", "client_email": "sa@acme.iam", "private_key": "..."}'
SECRETS = {"FB_MAIN_SYSTEM_USER_TOKEN": "readme-fb-main-1", "FB_EMEA_SYSTEM_USER_TOKEN": "readme-fb-emea",
           "PINTEREST_CAPI_TOKEN": "readme-pinterest"}


def _drop_document(path: Path, name: str) -> None:
    documents = [d for d in path.read_text(encoding="utf-8").split("\n---\n")
                 if (yaml.safe_load(d) or {}).get("metadata", {}).get("name") != name]
    path.write_text("\n---\n".join(documents), encoding="utf-8")


class BlockedWorld:
    """The demo applied; then a job started in the UI on the EMEA authorization, and a change that
    removes EMEA (now a BLOCKED delete), rotates the main Facebook token (a replace) and edits
    Pinterest's description (an in-place update)."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = _workspace(tmp_path)
        (self.root / "secrets").mkdir()
        (self.root / "secrets" / "gcp-pubsub-sa.json").write_text(GCP_KEY, encoding="utf-8")
        self.env = _env(tmp_path, **SECRETS)
        applied = _run("authctl apply --auto-approve", self.root, self.env)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        manual = _run("authctl platform jobs create --name emea-lookalikes-manual --workflow "
                      "facebook-audience-populate --auth 'Facebook Ads EMEA (prod)'", self.root, self.env)
        assert manual.returncode == 0, manual.stderr
        self.manual_job = manual.stdout.strip()
        platform = open_platform_of(self.root)
        try:
            self.before = {a.label: a.id for a in platform.list_authorizations()}
            self.emea_job = next(j.id for j in platform.snapshot().jobs if j.name == "fb-audiences-emea")
        finally:
            platform.close()
        _drop_document(self.root / "facebook" / "authorizations.yaml", "fb-ads-emea")
        _drop_document(self.root / "facebook" / "jobs.yaml", "fb-audiences-emea")
        pinterest = self.root / "partners" / "pinterest.yaml"
        pinterest.write_text(pinterest.read_text(encoding="utf-8").replace(
            "description: Conversion events to Pinterest", "description: Conversion events (web and app)"),
            encoding="utf-8")
        self.env["FB_MAIN_SYSTEM_USER_TOKEN"] = "readme-fb-main-2"

    def assert_rest_applied(self) -> None:
        platform = open_platform_of(self.root)
        try:
            auths = {a.label: a for a in platform.list_authorizations()}
            jobs = {j.id: j for j in platform.snapshot(include_deleted=True).jobs}
        finally:
            platform.close()
        # the blocked delete: EMEA stays, and the job someone started keeps running on it
        assert auths["Facebook Ads EMEA (prod)"].id == self.before["Facebook Ads EMEA (prod)"]
        assert jobs[self.manual_job].status is JobStatus.RUNNABLE
        # everything else was applied: the managed EMEA job deleted, the rotation a new
        # authorization that the main job moved onto, the description edited in place
        assert jobs[self.emea_job].status is JobStatus.DELETED
        main = auths["Facebook Ads main (prod)"]
        assert main.id != self.before["Facebook Ads main (prod)"]
        assert self.before["Facebook Ads main (prod)"] not in {a.id for a in auths.values()}
        (main_job,) = [j for j in jobs.values() if j.name == "fb-audiences-main"]
        assert main_job.auth_ids == (main.id,) and main_job.status is JobStatus.RUNNABLE
        assert auths["Pinterest Conversions"].description == "Conversion events (web and app)"


def test_the_deploy_recipe_applies_the_rest_and_exits_3_when_a_delete_is_blocked(tmp_path: Path) -> None:
    world = BlockedWorld(tmp_path)
    script = deploy_script()
    assert "authctl apply plan.json" in script
    result = subprocess.run(["bash", "-e", "-c", script], cwd=world.root, env=world.env, capture_output=True,
                            text=True, timeout=300, check=False)
    both = result.stdout + result.stderr
    assert result.returncode == 3, both
    assert "BLOCKED" in result.stdout and "Authorization/fb-ads-emea" in result.stdout, both
    assert "emea-lookalikes-manual" in result.stdout  # the plan names what blocks it
    world.assert_rest_applied()


def test_the_deploy_recipe_stops_on_an_error(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    (workspace / "broken.yaml").write_text("apiVersion: authctl/v1\nkind: Authorization\nmetadata: {name: x}\n",
                                           encoding="utf-8")
    result = subprocess.run(["bash", "-e", "-c", deploy_script()], cwd=workspace, env=_env(tmp_path),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert not (workspace / "plan.json").exists()
    assert "Apply complete" not in result.stdout


def test_the_tour_apply_asks_first(tmp_path: Path) -> None:
    """Answering no at the prompt changes nothing (the tour's `apply` shows the plan and asks)."""
    workspace = _workspace(tmp_path)
    (workspace / "secrets").mkdir()
    (workspace / "secrets" / "gcp-pubsub-sa.json").write_text(GCP_KEY, encoding="utf-8")
    result = _run("authctl apply", workspace, _env(tmp_path, **SECRETS), terminal_answer="n\n")
    assert result.returncode == 1 and "Apply cancelled" in result.stdout, result.stdout + result.stderr
    assert "Plan: 8 to create" in result.stdout
