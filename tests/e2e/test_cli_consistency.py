"""Issue 11, a consistent CLI, as a user meets it: real subprocesses (``run_cli``), a real terminal for the prompt.

- one vocabulary in every ``--help``: ``--format text|json`` (``table`` only as an old name),
  ``-o/--output FILE``, ``--no-color``;
- every JSON output carries ``format_version`` (the JSON Schema document excepted);
- ``-o FILE`` writes exactly what stdout would have shown, atomically, or fails in one line;
- colour follows ``--no-color``, NO_COLOR and FORCE_COLOR, and never reaches a file;
- ``apply --format json`` is a machine-readable report and never prompts;
- anything that names an authorization takes its manifest name, id or label; a job its
  manifest name, id or unique name; an ambiguous name is an error listing ids;
- ``show`` shows jobs too, and an authorization's applied (non-secret) config;
- an interactive apply applies only on the word ``yes``.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click
import pytest
from apply_support import (PINTEREST_CAPI_VALUES, auth_doc, cli_env, documents, job_doc, open_platform_of,
                           read_world, settings)
from cli_runner import _run_cli, write_workspace

from reconciler.cli.app import _register_commands, cli

ENV = {"CC_ALPHA": "alpha-secret-token", "CC_BETA": "beta-secret-token"}
SECRETS = tuple(ENV.values())
COLOUR = {"NO_COLOR": None, "FORCE_COLOR": "1", "TERM": "xterm-256color"}
PRINTING = {("validate",), ("providers",), ("schema",), ("plan",), ("apply",), ("status",), ("show",),
            ("platform", "auths", "list"), ("platform", "jobs", "list"), ("state", "show")}


def _manifests(*, with_beta: bool = True) -> str:
    docs = [auth_doc("alpha", "Alpha Ads", "CC_ALPHA"), job_doc("sync", "alpha")]
    if with_beta:
        docs.append(auth_doc("beta", "Beta", "CC_BETA"))
    return documents(*docs)


def _cli(root: Path, *args: str, codes: tuple[int, ...] = (0,), env: dict[str, str | None] | None = None) -> Any:
    result = _run_cli(*args, "-w", root, cwd=root, env={**ENV, **(env or {})})
    both = result.stdout + result.stderr
    assert result.returncode in codes, (args, result.returncode, both)
    assert "Traceback" not in both and "internal error" not in both, both
    for secret in SECRETS:
        assert secret not in both, (args, "a secret value was printed")
    return result


def _applied(root: Path) -> Path:
    write_workspace(root, {"main.yaml": _manifests()}, settings=settings("consistency"))
    _cli(root, "apply", "--auto-approve")
    return root


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """alpha (+ job sync) and beta applied: for the commands that only read."""
    return _applied(tmp_path_factory.mktemp("consistency") / "ws")


@pytest.fixture
def own_world(tmp_path: Path) -> Path:
    """The same world, for a test that changes it."""
    return _applied(tmp_path / "ws")


def _json(result: Any) -> Any:
    return json.loads(result.stdout)


# -- one vocabulary in every --help -----------------------------------------------------------------------
def _command_paths() -> list[tuple[str, ...]]:
    """Every command and subcommand, found by walking the click group (so a new one is checked too)."""
    _register_commands()
    paths: list[tuple[str, ...]] = []

    def walk(group: click.Group, prefix: tuple[str, ...]) -> None:
        for name, command in sorted(group.commands.items()):
            paths.append((*prefix, name))
            if isinstance(command, click.Group):
                walk(command, (*prefix, name))

    walk(cli, ())
    return paths


COMMAND_PATHS = _command_paths()


def test_the_walk_finds_every_printing_command() -> None:
    assert PRINTING <= set(COMMAND_PATHS)
    assert len(COMMAND_PATHS) >= 17


def _format_choices(help_text: str) -> list[str]:
    """The choices of ``--format [a|b]`` in a help text ([] when the command has no --format)."""
    flat = " ".join(help_text.split())
    start = flat.find("--format [")
    if start < 0:
        return []
    return flat[start + len("--format ["):flat.index("]", start)].replace(" ", "").split("|")


@pytest.mark.parametrize("path", [(), *COMMAND_PATHS], ids=lambda p: " ".join(p) or "authctl")
def test_every_command_offers_the_same_vocabulary(path: tuple[str, ...]) -> None:
    result = _run_cli(*path, "--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "--no-color" in text, "every command accepts --no-color"
    choices = _format_choices(text)
    assert "table" not in choices, "text is the canonical name (table is only accepted)"
    if path not in PRINTING:
        return
    assert any(line.lstrip().startswith("-o, --output") and "FILE" in line for line in text.splitlines()), \
        "a printing command writes to a file with -o/--output FILE (plan: its plan file)"
    if path == ("schema",):  # a JSON Schema document has one form
        assert choices == ["json"]
    else:
        assert choices[:1] == ["text"] and "json" in choices, choices
        assert "[default: text]" in " ".join(text.split())


def test_table_is_an_old_name_for_text(world: Path) -> None:
    for command in (("status",), ("platform", "auths", "list"), ("platform", "jobs", "list")):
        text = _cli(world, *command, "--format", "text").stdout
        assert _cli(world, *command, "--format", "table").stdout == text
        assert _cli(world, *command).stdout == text
    wrong = _run_cli("status", "--format", "yaml", "-w", world)
    assert wrong.returncode == 1
    assert "'yaml' is not one of 'text', 'json'" in wrong.stderr  # (the old name is not advertised)


# -- format_version in every JSON -----------------------------------------------------------------------------
def test_every_json_output_carries_format_version(world: Path) -> None:
    for command in (("status",), ("show", "alpha"), ("show", "sync"), ("validate",), ("providers",),
                    ("providers", "pinterest"), ("platform", "auths", "list"), ("platform", "jobs", "list"),
                    ("state", "show"), ("plan",)):
        data = _json(_cli(world, *command, "--format", "json"))
        assert isinstance(data, dict) and data["format_version"] == "1", command
    status = _json(_cli(world, "status", "--format", "json"))
    assert [a["label"] for a in status["authorizations"]] == ["Alpha Ads", "Beta"]
    assert {p["name"] for p in _json(_cli(world, "providers", "--format", "json"))["providers"]} >= {"pinterest"}
    assert _json(_cli(world, "providers", "pinterest", "--format", "json"))["name"] == "pinterest"
    assert len(_json(_cli(world, "platform", "jobs", "list", "--format", "json"))["jobs"]) == 1
    error = _json(_cli(world, "show", "nothing-here", "--format", "json", codes=(1,)))
    assert error["format_version"] == "1" and error["error"]["type"] == "NotFoundError"
    schema = _json(_cli(world, "schema"))  # the JSON Schema document, exactly: editors read it as a schema
    assert "format_version" not in schema and schema["$schema"].startswith("https://json-schema.org/")


# -- -o/--output FILE ---------------------------------------------------------------------------------------
WRITERS = [("status",), ("show", "alpha"), ("show", "sync"), ("validate", "--format", "json"), ("providers",),
           ("schema",), ("platform", "auths", "list"), ("platform", "jobs", "list", "--format", "json"),
           ("state", "show")]


@pytest.mark.parametrize("command", WRITERS, ids=" ".join)
def test_output_file_holds_exactly_what_stdout_shows(world: Path, tmp_path: Path, command: tuple[str, ...]) -> None:
    shown = _cli(world, *command).stdout
    target = tmp_path / "out" / "result.txt"  # (a missing folder is created, as plan -o does)
    written = _cli(world, *command, "-o", target, env=COLOUR)  # colour on: still none in a file
    assert written.stdout == ""
    assert f"Wrote {target}" in written.stderr
    assert target.read_text(encoding="utf-8") == shown
    assert not [p.name for p in target.parent.iterdir() if p.name != "result.txt"], "a temporary file was left"


def test_output_file_errors_are_one_line_and_change_nothing(world: Path, tmp_path: Path) -> None:
    def one_line_error(result: Any) -> str:
        assert result.returncode == 1 and result.stdout == "", result.stdout + result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        return result.stderr.strip()

    folder = tmp_path / "a-folder"
    folder.mkdir()
    assert one_line_error(_cli(world, "status", "-o", folder, codes=(1,))) == \
        f"Error: {folder} cannot be written: it is a folder"
    under_a_file = tmp_path / "plain-file" / "status.txt"
    under_a_file.parent.write_text("x", encoding="utf-8")
    assert one_line_error(_cli(world, "status", "--output", under_a_file, codes=(1,))) == \
        f"Error: {under_a_file} cannot be written: {under_a_file.parent} is not a folder"
    if os.geteuid() != 0:  # (root writes anywhere)
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert one_line_error(_cli(world, "status", "-o", locked / "s.txt", codes=(1,))).endswith(
            "cannot be written: permission denied")
    kept = tmp_path / "kept.json"
    kept.write_text("old", encoding="utf-8")
    failed = _cli(world, "show", "nothing-here", "-o", kept, codes=(1,))
    assert "no authorization with manifest name, id or label 'nothing-here'" in failed.stderr
    as_json = _cli(world, "show", "nothing-here", "--format", "json", "-o", kept, codes=(1,))
    assert _json(as_json)["error"]["type"] == "NotFoundError"  # the error goes to stdout, not into the file
    assert kept.read_text(encoding="utf-8") == "old"


# -- colour -------------------------------------------------------------------------------------------------
def test_colour_follows_no_color_force_color_and_the_flag(world: Path) -> None:
    def coloured(*args: str, **env: str | None) -> bool:
        result = _cli(world, *args, env={**COLOUR, **env}, codes=(0, 1))
        return "\x1b[" in result.stdout + result.stderr

    assert coloured("status")  # FORCE_COLOR: colour although stdout is a pipe
    assert not coloured("status", "--no-color")
    assert not coloured("--no-color", "status")  # the group's option
    assert not coloured("status", NO_COLOR="1")  # https://no-color.org: any non-empty value ...
    assert coloured("status", NO_COLOR="")  # ... an empty one does not count
    assert not coloured("status", FORCE_COLOR=None)  # a pipe: never colour by itself
    assert coloured("show", "nothing-here")  # errors on stderr too
    assert not coloured("show", "nothing-here", "--no-color")
    assert not coloured("--no-color", "platform", "jobs", "list")


# -- apply --format json ------------------------------------------------------------------------------------
def test_apply_json_is_a_report_and_never_prompts(tmp_path: Path) -> None:
    root = write_workspace(tmp_path / "ws", {"main.yaml": _manifests()}, settings=settings("apply-json"))
    refused = _cli(root, "apply", "--format", "json", codes=(1,))
    error = _json(refused)["error"]
    assert error["type"] == "UsageError" and "--auto-approve" in error["message"]
    assert read_world(root).auths == {}

    applied = _cli(root, "apply", "--format", "json", "--auto-approve")
    report = _json(applied)  # stdout is the report alone: no plan, no progress
    assert report["format_version"] == "1" and report["exit_code"] == 0 and report["converged"] is True
    assert report["summary"] == {"applied": 3, "failed": 0, "skipped": 0, "blocked": 0, "needs_person": 0,
                                 "disrupted": 0}
    assert report["serial"] == 1 and report["recovered"] == [] and report["apply_id"]
    world = read_world(root)
    steps = {s["address"]: s for s in report["steps"]}
    assert set(steps) == {"Authorization/alpha", "Authorization/beta", "Job/sync"}
    for address, step in steps.items():
        assert set(step) == {"address", "operation", "result", "message", "live_id", "seconds"}
        assert (step["operation"], step["result"]) == ("create", "applied")
        kind, name = address.split("/")
        assert step["live_id"] == world.managed_ids(kind)[name]
    assert "Plan: 3 to create" in applied.stderr and "create Job/sync ... ok" in applied.stderr

    again = _json(_cli(root, "apply", "--format", "json", "--auto-approve"))
    assert (again["steps"], again["exit_code"], again["serial"]) == ([], 0, None)


def test_apply_json_reports_a_blocked_delete_and_writes_reports_to_files(own_world: Path) -> None:
    root = own_world
    # Someone starts a job on beta, naming it by its manifest name, then beta leaves the manifests.
    _cli(root, "platform", "jobs", "create", "--name", "ui-job", "--workflow", "pinterest-capi-export",
         "--auth", "beta")
    (root / "main.yaml").write_text(_manifests(with_beta=False), encoding="utf-8")
    report_file = root / "reports" / "apply.json"
    blocked = _cli(root, "apply", "--format", "json", "--auto-approve", "-o", report_file, codes=(3,))
    assert blocked.stdout == "" and f"Wrote {report_file}" in blocked.stderr
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert (report["exit_code"], report["summary"]["blocked"], report["converged"]) == (3, 1, False)
    [step] = report["steps"]
    assert (step["address"], step["result"]) == ("Authorization/beta", "blocked")
    assert "ui-job" in step["message"]

    text_file = root / "apply.txt"
    again = _cli(root, "apply", "--auto-approve", "-o", text_file, codes=(3,))
    assert "BLOCKED" in again.stdout  # the person still sees the plan and the steps
    written = text_file.read_text(encoding="utf-8")
    assert "delete Authorization/beta ... BLOCKED" in written and "Apply complete: 0 applied, 1 blocked." in written
    assert "\x1b" not in written


def test_apply_json_of_a_saved_plan_needs_no_auto_approve(tmp_path: Path) -> None:
    root = write_workspace(tmp_path / "ws", {"main.yaml": _manifests()}, settings=settings("apply-json-plan"))
    saved = root / "plan.json"  # (an absolute path: _cli runs in the test's folder, with -w)
    _cli(root, "plan", "-o", saved)
    report = _json(_cli(root, "apply", saved, "--format", "json"))
    assert report["summary"]["applied"] == 3 and report["exit_code"] == 0


# -- names ----------------------------------------------------------------------------------------------------
def _job_id(root: Path, *args: str) -> str:
    return _cli(root, "platform", "jobs", "create", "--workflow", "pinterest-capi-export", *args).stdout.strip()


def test_authorizations_are_named_by_manifest_name_id_or_label_everywhere(own_world: Path) -> None:
    root = own_world
    world = read_world(root)
    alpha = world.managed_ids("Authorization")["alpha"]
    for ref in ("alpha", alpha, "ALPHA ADS"):
        job_id = _job_id(root, "--name", f"by-{ref}", "--auth", ref)
        assert read_world(root).jobs[job_id].auth_ids == (alpha,), ref
    said = _cli(root, "platform", "auths", "set-health", "alpha", "unhealthy", "--reason", "revoked").stdout
    assert "Alpha Ads: unhealthy (revoked)" in said
    exp = _cli(root, "platform", "experiences", "create", "--name", "Lookalikes", "--auth", "beta").stdout.strip()
    assert exp
    missing = _cli(root, "platform", "jobs", "create", "--name", "x", "--workflow", "w", "--auth", "nobody",
                   codes=(1,))
    assert "no authorization with manifest name, id or label 'nobody'" in missing.stderr


def test_import_takes_the_live_object_by_label(own_world: Path) -> None:
    root = own_world
    platform = open_platform_of(root)
    try:
        made = platform.create_authorization(provider="pinterest", method="capi_token", label="Made In The UI",
                                             config={"account_id": "549755885175"}, credentials={"token": "t"})
    finally:
        platform.close()
    write_workspace(root, {"ui.yaml": auth_doc("from-ui", "Made In The UI", "CC_BETA")}, settings=None)
    said = _cli(root, "import", "from-ui", "made in the ui").stdout
    assert f"Imported {made.id} as Authorization/from-ui" in said
    assert read_world(root).managed_ids("Authorization")["from-ui"] == made.id


def test_jobs_are_named_by_unique_name_and_an_ambiguous_name_lists_the_ids(own_world: Path) -> None:
    root = own_world
    first = _job_id(root, "--name", "manual", "--auth", "alpha")
    assert "manual" in _cli(root, "platform", "jobs", "set-status", "manual", "paused").stdout
    assert "sync" in _cli(root, "platform", "jobs", "set-status", "sync", "paused").stdout  # its manifest name
    assert read_world(root).jobs[first].status == "paused"

    second = _job_id(root, "--name", "manual", "--auth", "beta")
    for command in (("platform", "jobs", "set-status", "manual", "running"), ("show", "manual")):
        err = _cli(root, *command, codes=(1,)).stderr
        assert "'manual' is ambiguous: it names 2 objects" in err, err
        assert first in err and second in err and "by its id" in err
    assert read_world(root).jobs[first].status == "paused"  # nothing was changed
    _cli(root, "platform", "jobs", "set-status", second, "paused")  # by id always
    assert _json(_cli(root, "show", first, "--format", "json"))["id"] == first


def test_show_takes_a_kind_when_a_name_fits_an_authorization_and_a_job(own_world: Path) -> None:
    root = own_world
    job_id = _job_id(root, "--name", "Beta", "--auth", "alpha")  # a job named like beta's label
    err = _cli(root, "show", "Beta", codes=(1,)).stderr
    assert "'Beta' is ambiguous" in err and job_id in err and "Authorization/Beta or Job/Beta" in err
    assert _json(_cli(root, "show", "Job/Beta", "--format", "json"))["id"] == job_id
    assert "Config: none." in _cli(root, "show", "Job/Beta").stdout  # started without config
    auth = _json(_cli(root, "show", "authorization/Beta", "--format", "json"))
    assert (auth["kind"], auth["name"]) == ("authorization", "beta")


# -- show -------------------------------------------------------------------------------------------------
def test_show_a_job(world: Path) -> None:
    ids = read_world(world)
    sync, alpha = ids.managed_ids("Job")["sync"], ids.managed_ids("Authorization")["alpha"]
    data = _json(_cli(world, "show", "sync", "--format", "json"))
    assert data == {**data, "format_version": "1", "kind": "job", "id": sync, "name": "sync", "managed_name": "sync",
                    "managed": True, "workflow": "pinterest-capi-export", "status": "running",
                    "config": PINTEREST_CAPI_VALUES}
    assert data["created"] and data["updated"] and "owner" in data
    assert data["authorizations"] == [{"id": alpha, "label": "Alpha Ads", "managed_name": "alpha",
                                       "provider": "pinterest", "method": "capi_token"}]
    text = _cli(world, "show", sync).stdout
    for fact in ("sync", "Kind", "Job", sync, "pinterest-capi-export", "running", "Authorizations", "Alpha Ads",
                 alpha, "\nConfig\n", "segment_id          all_converters"):
        assert fact in text, fact


def test_show_an_authorization_with_its_applied_config(world: Path) -> None:
    data = _json(_cli(world, "show", "Alpha Ads", "--format", "json"))
    assert (data["format_version"], data["kind"], data["name"]) == ("1", "authorization", "alpha")
    assert data["config"] == {"account_id": "549755885175"}
    assert data["credentials"] == {"token": "(sensitive)"}
    text = _cli(world, "show", "alpha").stdout
    assert "Config (as last applied by authctl)" in text
    assert "account_id  549755885175" in text and "token       (sensitive)" in text


def test_show_an_unmanaged_authorization_says_its_config_is_unknown(own_world: Path) -> None:
    platform = open_platform_of(own_world)  # made in the platform's UI: no manifest, no applied record
    try:
        platform.create_authorization(provider="pinterest", method="capi_token", label="Gamma",
                                      config={"account_id": "1"}, credentials={"token": "ui-secret-token"})
    finally:
        platform.close()
    data = _json(_cli(own_world, "show", "gamma", "--format", "json"))
    assert (data["managed"], data["config"], data["credentials"]) == (False, None, None)
    text = _cli(own_world, "show", "Gamma").stdout
    assert "Config (as last applied by authctl): not known" in text and "ui-secret-token" not in text


# -- the prompt ---------------------------------------------------------------------------------------------
def _apply_on_a_terminal(root: Path, answer: str) -> tuple[int, str]:
    """``authctl apply`` on a pseudo-terminal (pty.fork); types ``answer`` at the prompt."""
    env = cli_env({**ENV, "TERM": "dumb", "COLUMNS": "200"})
    pid, fd = pty.fork()
    if pid == 0:  # the child: authctl on the terminal
        os.chdir(root)
        os.execve(sys.executable, [sys.executable, "-m", "reconciler", "apply"], env)
    seen, answered = b"", False
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # the terminal closed: authctl is done
                    break
                if not chunk:
                    break
                seen += chunk
            if not answered and b"Enter a value:" in seen:
                os.write(fd, answer.encode() + b"\r")
                answered = True
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode("utf-8", "replace")


@pytest.mark.parametrize("answer", ["y", "Y", "", "no", "yes please"])
def test_only_yes_applies(tmp_path: Path, answer: str) -> None:
    root = write_workspace(tmp_path / "ws", {"main.yaml": _manifests()}, settings=settings("prompt"))
    code, text = _apply_on_a_terminal(root, answer)
    assert code == 1, text
    assert "Only 'yes' will be accepted to approve." in text
    assert "Apply cancelled; nothing was changed." in text
    assert read_world(root).auths == {}


def test_yes_applies(tmp_path: Path) -> None:
    root = write_workspace(tmp_path / "ws", {"main.yaml": _manifests()}, settings=settings("prompt-yes"))
    code, text = _apply_on_a_terminal(root, "yes")
    assert code == 0, text
    assert "Apply complete: 3 applied." in text
    assert set(read_world(root).managed_ids("Authorization")) == {"alpha", "beta"}
