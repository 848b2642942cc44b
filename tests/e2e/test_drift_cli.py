"""`authctl plan --refresh-only`: drift made outside authctl, found by the real CLI against a real platform.

The workspace is applied with `authctl apply`; then the world changes the way it does in
practice: a label edited in the UI (through the platform's own store, as the UI would),
a job paused and an unmanaged job started with `authctl platform jobs ...`, an
authorization deleted and a job moved by hand. The scheduled drift job's command
(``--format json --detailed-exitcode``) must report each with its stable kind and exit 2;
text and markdown show the same, hostile text escaped; nothing is changed; the token
(a canary) appears nowhere. The last test runs the drift job over HTTP (the `lytics`
backend against `authctl platform serve`).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from apply_support import AUTH, JOB, PINTEREST_CAPI_VALUES, auth_doc, documents, job_doc, read_world, settings
from backend_modes import open_platform_of, use_backend

CANARY = f"CANARY-{uuid.uuid4()}"
ENV = {"DRIFT_TOKEN": CANARY}
HOSTILE_LABEL = "Alpha \x1b]0;owned\x07[bold]\u202e <b>@channel</b>"
DRIFT_JOB = ("plan", "--refresh-only", "--format", "json", "--detailed-exitcode")


def _manifests(ja_state: str = "running") -> str:
    return documents(auth_doc("alpha", "Alpha", "DRIFT_TOKEN"), auth_doc("beta", "Beta", "DRIFT_TOKEN"),
                     auth_doc("gamma", "Gamma", "DRIFT_TOKEN"), job_doc("ja", "alpha", state=ja_state),
                     job_doc("jb", "beta"))


def _applied_workspace(make_workspace, run_cli, name: str) -> Path:
    root = make_workspace({"main.yaml": _manifests()}, settings=settings(name))
    applied = run_cli("apply", "--auto-approve", cwd=root, env=ENV)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    return root


def _drift(run_cli, root: Path, *extra: str) -> tuple[int, dict]:
    result = run_cli(*DRIFT_JOB, *extra, cwd=root, env=ENV)
    assert result.returncode in (0, 2), result.stdout + result.stderr
    assert CANARY not in result.stdout + result.stderr
    return result.returncode, json.loads(result.stdout)


def _start_unmanaged_job(run_cli, root: Path, auth: str) -> str:
    config = [a for key, value in PINTEREST_CAPI_VALUES.items() for a in ("--config", f"{key}={json.dumps(value)}")]
    started = run_cli("platform", "jobs", "create", "--name", "made-in-the-ui", "--workflow", "pinterest-capi-export",
                      "--auth", auth, *config, cwd=root)
    assert started.returncode == 0, started.stdout + started.stderr
    return started.stdout.strip()


def test_drift_made_outside_authctl_is_reported_in_every_format_and_changes_nothing(make_workspace, run_cli) -> None:
    root = _applied_workspace(make_workspace, run_cli, "drift-local")
    code, data = _drift(run_cli, root)
    assert (code, data["has_drift"], data["summary"]["checked_authorizations"], data["summary"]["checked_jobs"]) == (
        0, False, 3, 2)

    world = read_world(root)
    alpha, beta, gamma = (world.managed_ids(AUTH)[n] for n in ("alpha", "beta", "gamma"))
    ja, jb = world.managed_ids(JOB)["ja"], world.managed_ids(JOB)["jb"]
    platform = open_platform_of(root)
    try:  # what a person does in the platform's UI
        platform.update_authorization(alpha, label=HOSTILE_LABEL)
        platform.delete_authorization(gamma)
        platform.update_job(jb, auth_ids=[alpha])
    finally:
        platform.close()
    paused = run_cli("platform", "jobs", "set-status", "ja", "paused", cwd=root)
    assert paused.returncode == 0, paused.stdout + paused.stderr
    manual = _start_unmanaged_job(run_cli, root, "Beta")

    code, data = _drift(run_cli, root)
    assert code == 2 and data["has_drift"] and data["kind"] == "authctl-drift"
    found = {(d["kind"], d["address"], d["field"]): (d["id"], d["recorded"], d["live"]) for d in data["drift"]}
    assert found == {
        ("authorization_edited", "Authorization/alpha", "label"): (alpha, "Alpha", HOSTILE_LABEL),
        ("authorization_deleted", "Authorization/gamma", None): (
            gamma, {"label": "Gamma", "provider": "pinterest", "method": "capi_token"}, None),
        ("job_state_changed", "Job/ja", "state"): (ja, "running", "paused"),
        ("job_rebound", "Job/jb", "authorizations"): (jb, [beta], [alpha]),
        ("unmanaged_job", "Authorization/beta", "jobs"): (beta, None, manual),
    }
    assert data["summary"]["drift"] == 5 and data["summary"]["accepted"] == 0

    # Without --detailed-exitcode drift is not an exit code; text and markdown say the same, data as data.
    text = run_cli("plan", "--refresh-only", cwd=root, env=ENV)
    assert text.returncode == 0, text.stdout + text.stderr
    assert text.stdout.startswith("Drift: 5 changes outside authctl")
    assert "\x1b" not in text.stdout and "\u202e" not in text.stdout and "\\u202e" in text.stdout
    assert f"+ Authorization/beta (id {beta}): used by a job no manifest manages" in text.stdout
    markdown = run_cli("plan", "--refresh-only", "--format", "markdown", "--detailed-exitcode", cwd=root, env=ENV)
    assert markdown.returncode == 2 and markdown.stdout.startswith("### authctl drift")
    html = MarkdownIt("commonmark").render(markdown.stdout)
    assert "<b>" not in html and "\x07" not in html  # the label is shown in a code span, not rendered
    assert "@channel" not in re.sub(r"<code>.*?</code>", "", html, flags=re.S)  # and notifies nobody
    assert CANARY not in text.stdout + text.stderr + markdown.stdout + markdown.stderr

    # A report is not a plan to apply: -o is refused and writes nothing.
    saved = run_cli(*DRIFT_JOB, "-o", "drift.json", cwd=root, env=ENV)
    assert saved.returncode == 1 and not (root / "drift.json").exists()
    error = json.loads(saved.stdout)["error"]  # the scheduled job's errors are JSON too
    assert error["type"] == "UsageError" and "--refresh-only reports drift and makes no plan" in error["message"]

    # Nothing was changed by any of it: the label is still the UI's, the job still paused, state as it was.
    after = read_world(root)
    assert after.auths[alpha].label == HOSTILE_LABEL and after.jobs[ja].status == "paused"
    assert after.managed == world.managed

    # The team keeps the pause: a manifest that asks for it makes it accepted, not drift.
    (root / "main.yaml").write_text(_manifests(ja_state="paused"), encoding="utf-8")
    code, data = _drift(run_cli, root)
    assert "job_state_changed" not in {d["kind"] for d in data["drift"]}
    assert [d["kind"] for d in data["accepted"]] == ["job_state_changed"]

    # Apply restores the rest; the unmanaged job stays drift until it is stopped (or imported).
    applied = run_cli("apply", "--auto-approve", cwd=root, env=ENV)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    code, data = _drift(run_cli, root)
    assert (code, [d["kind"] for d in data["drift"]]) == (2, ["unmanaged_job"])
    stopped = run_cli("platform", "jobs", "set-status", manual, "completed", cwd=root)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    code, data = _drift(run_cli, root)
    assert (code, data["drift"]) == (0, [])
    # The apply rewrote the kept pause into ja's record (a no-op for the platform): nothing is left
    # accepted, and resuming it by hand is drift again, where the stale record would have hidden it.
    assert data["accepted"] == []
    resumed = run_cli("platform", "jobs", "set-status", "ja", "running", cwd=root)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    code, data = _drift(run_cli, root)
    assert (code, [(d["kind"], d["recorded"]) for d in data["drift"]]) == (2, [("job_state_changed", "paused")])


def test_a_no_change_apply_records_a_kept_edit_so_editing_it_back_is_drift(make_workspace, run_cli) -> None:
    """A label edited in the UI, then matched in the manifest: apply has nothing to change, yet records it."""
    root = _applied_workspace(make_workspace, run_cli, "drift-kept")
    alpha = read_world(root).managed_ids(AUTH)["alpha"]
    platform = open_platform_of(root)
    try:
        platform.update_authorization(alpha, label="Alpha (renamed in the UI)")
    finally:
        platform.close()
    (root / "main.yaml").write_text(_manifests().replace('"Alpha"', '"Alpha (renamed in the UI)"'), encoding="utf-8")
    code, data = _drift(run_cli, root)
    assert (code, [d["kind"] for d in data["accepted"]]) == (0, ["authorization_edited"])
    applied = run_cli("apply", "--auto-approve", cwd=root, env=ENV)
    assert applied.returncode == 0 and "No changes" in applied.stdout, applied.stdout + applied.stderr
    code, data = _drift(run_cli, root)
    assert (code, data["drift"], data["accepted"]) == (0, [], [])
    platform = open_platform_of(root)
    try:  # and back again, by hand: the stale record ("Alpha") would have called this no drift
        platform.update_authorization(alpha, label="Alpha")
    finally:
        platform.close()
    code, data = _drift(run_cli, root)
    assert (code, [(d["kind"], d["recorded"], d["live"]) for d in data["drift"]]) == (
        2, [("authorization_edited", "Alpha (renamed in the UI)", "Alpha")])


def test_nothing_applied_yet_is_no_drift_and_leaves_no_state_behind(make_workspace, run_cli) -> None:
    root = make_workspace({"main.yaml": _manifests()}, settings=settings("drift-empty"))
    result = run_cli("plan", "--refresh-only", "--detailed-exitcode", cwd=root, env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("No drift: nothing has been applied yet (no state store)")
    assert not (root / ".authctl" / "state.db").exists()


@pytest.mark.parametrize("backend", ["http"])
def test_the_scheduled_drift_job_over_http(make_workspace, run_cli, backend: str) -> None:
    root = make_workspace({"main.yaml": _manifests()}, settings=settings("drift-http"))
    with use_backend(root, backend):
        applied = run_cli("apply", "--auto-approve", cwd=root, env=ENV)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        world = read_world(root)
        platform = open_platform_of(root)  # the served database: what the UI of that platform changes
        try:
            platform.update_authorization(world.managed_ids(AUTH)["alpha"], description="typed in the UI")
            platform.pause_job(world.managed_ids(JOB)["jb"])
        finally:
            platform.close()
        code, data = _drift(run_cli, root)
    assert code == 2 and data["context"]["backend"] != "local"
    assert {(d["kind"], d["address"], d["recorded"], d["live"]) for d in data["drift"]} == {
        ("authorization_edited", "Authorization/alpha", "", "typed in the UI"),
        ("job_state_changed", "Job/jb", "running", "paused")}
