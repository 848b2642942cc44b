"""`authctl plan` as a real subprocess over a real workspace, platform and state store.

There is no apply here: the test process seeds the workspace's embedded platform (as
an earlier apply or the platform's UI would) and records what the workspace manages in
its state store, with fingerprints made with the state's own HMAC key, exactly as
planning computes them. Then the CLI runs against the same files.
"""

from __future__ import annotations

import json
import stat
import textwrap
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.backends.local import open_local_platform
from reconciler.vocabulary import Access, ObjectKind
from reconciler.catalog import load_catalog
from reconciler.manifest import load_desired
from reconciler.manifest.fingerprints import fingerprint_authorization
from reconciler.state.access import open_state_store
from reconciler.state.records import ManagedObject
from reconciler.workspace import load_workspace

CANARY_OLD = f"CANARY-{uuid.uuid4()}"  # the token the last "apply" used
CANARY_NEW = f"CANARY-{uuid.uuid4()}"  # a rotated token
BASE_ENV: dict[str, str | None] = {"AUTHCTL_PLATFORM_KEY": None, "FB_TOKEN": None, "AUTHCTL_USER": "ci"}

FB_AUTH = textwrap.dedent("""\
    apiVersion: authctl/v1
    kind: Authorization
    metadata: {name: fb-ads}
    spec:
      provider: facebook
      method: system_user
      label: LABEL
      description: Audience sync
      config: {ads_account_id: act_1234567890}
      credentials: {access_token: {env: FB_TOKEN}}
    """)


def fb_auth(label: str) -> str:
    return FB_AUTH.replace("LABEL", label)
FB_JOB = textwrap.dedent("""\
    apiVersion: authctl/v1
    kind: Job
    metadata: {name: fb-audiences}
    spec:
      workflow: facebook-audience-populate
      authorizations: [fb-ads]
      config: {segment_ids: [high_value]}
    """)
OTHER_AUTH = textwrap.dedent("""\
    apiVersion: authctl/v1
    kind: Authorization
    metadata: {name: tiktok-events}
    spec:
      provider: tiktok
      method: events_token
      label: TikTok events
      credentials: {token: {env: TIKTOK_TOKEN}}
    """)
SETTINGS = "name: plan-e2e\n"


class Seeded:
    """A workspace whose platform holds fb-ads + fb-audiences, both managed in state."""

    def __init__(self, root: Path) -> None:
        self.root = root
        ws = load_workspace(root)
        catalog = load_catalog()
        desired = load_desired(ws, catalog).desired
        auth = desired.authorizations["fb-ads"]
        platform = open_local_platform(ws, catalog, Access.WRITE)
        try:
            rec = platform.create_authorization(
                provider=auth.provider, method=auth.method, type="fb-system-user", label=auth.label,
                description=auth.description, config=auth.config, credentials={"access_token": CANARY_OLD},
                owner="ops")
            job = platform.create_job(name="fb-audiences", workflow="facebook-audience-populate",
                                      auth_ids=[rec.id], config={"segment_ids": ["high_value"]})
        finally:
            platform.close()
        self.auth_id, self.job_id = rec.id, job.id
        state = open_state_store(ws, Access.WRITE)
        assert state is not None
        try:
            fps = fingerprint_authorization(auth, state.hmac_key(), ws.root, {"FB_TOKEN": CANARY_OLD})
            now = datetime.now(UTC)
            state.put(ManagedObject(ObjectKind.AUTHORIZATION, "fb-ads", rec.id, fps.recorded(), now,
                                    {"config": dict(auth.config)}))
            state.put(ManagedObject(ObjectKind.JOB, "fb-audiences", job.id, {}, now, {}))
            self.serial = state.meta().serial
        finally:
            state.close()

    def unmanaged_job(self, name: str, status: str = "runnable") -> str:
        platform = open_local_platform(load_workspace(self.root), load_catalog(), Access.WRITE)
        try:
            return platform.create_job(name=name, workflow="facebook-audience-populate", auth_ids=[self.auth_id],
                                       status=status).id
        finally:
            platform.close()

    def write(self, name: str, text: str) -> None:
        (self.root / name).write_text(text, encoding="utf-8")


@pytest.fixture
def seeded(make_workspace) -> Seeded:  # type: ignore[no-untyped-def]
    root = make_workspace({"fb.yaml": fb_auth("Facebook Ads") + "---\n" + FB_JOB}, settings=SETTINGS)
    return Seeded(root)


def plan(run_cli, root: Path, *args: str, env: dict[str, str | None] | None = None) -> Any:  # type: ignore[no-untyped-def]
    result = run_cli("plan", "-w", root, *args, env={**BASE_ENV, **(env or {})})
    assert "Traceback" not in result.stdout + result.stderr
    return result


def _remove_fb_ads(seeded: Seeded) -> None:
    """Drop fb-ads and its job from the manifests (another document keeps the workspace non-empty)."""
    seeded.write("fb.yaml", OTHER_AUTH)


# -- exit codes -------------------------------------------------------------------------------------

def test_no_changes_exit_zero(run_cli, seeded: Seeded) -> None:
    # the secret as applied: its fingerprint (with the state's key) matches what state recorded
    result = plan(run_cli, seeded.root, "--detailed-exitcode", env={"FB_TOKEN": CANARY_OLD})
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("No changes. Live state matches the manifests.")
    assert "not compared" not in result.stdout
    # without the secret (PR CI): still no change, said to be not compared
    result = plan(run_cli, seeded.root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("No changes.")
    assert "not compared" in result.stdout and "FB_TOKEN is not set" in result.stdout


def test_changes_exit_two_only_with_detailed_exitcode(run_cli, seeded: Seeded) -> None:
    seeded.write("fb.yaml", fb_auth("Facebook Ads (prod)") + "---\n" + FB_JOB)
    plain = plan(run_cli, seeded.root, env={"FB_TOKEN": CANARY_OLD})
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines()[0] == "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete."
    assert '~ Authorization/fb-ads will be updated in place' in plain.stdout
    assert 'label: "Facebook Ads" -> "Facebook Ads (prod)"' in plain.stdout
    detailed = plan(run_cli, seeded.root, "--detailed-exitcode", env={"FB_TOKEN": CANARY_OLD})
    assert detailed.returncode == 2, detailed.stderr


def test_blocked_exit_three_even_without_detailed_exitcode(run_cli, seeded: Seeded) -> None:
    job_id = seeded.unmanaged_job("someone-elses-sync", status="sleeping")
    seeded.unmanaged_job("finished-long-ago", status="completed")  # not active: does not block
    _remove_fb_ads(seeded)
    result = plan(run_cli, seeded.root)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "(1 BLOCKED)" in result.stdout.splitlines()[0]
    assert f"blocked by job someone-elses-sync (id {job_id}, sleeping, unmanaged)" in result.stdout
    as_json = plan(run_cli, seeded.root, "--format", "json", "--detailed-exitcode")
    assert as_json.returncode == 3, as_json.stderr
    data = json.loads(as_json.stdout)
    (blocked,) = [a for a in data["actions"] if a["blocked"]]
    assert blocked["address"] == "Authorization/fb-ads" and blocked["action"] == "delete"
    assert blocked["blocked_by"] == [{"kind": "job", "name": "someone-elses-sync", "id": job_id,
                                      "status": "sleeping", "managed": False}]
    job_delete = next(a for a in data["actions"] if a["address"] == "Job/fb-audiences")
    assert job_delete["action"] == "delete" and not job_delete["blocked"]


def test_invalid_manifests_exit_one_with_the_validation_errors(run_cli, seeded: Seeded) -> None:
    seeded.write("fb.yaml", fb_auth("Facebook Ads").replace("system_user", "sytem_user"))
    result = plan(run_cli, seeded.root)
    assert result.returncode == 1
    assert 'fb.yaml:6: Authorization/fb-ads: spec.method: unknown method "sytem_user" for facebook; ' \
           'did you mean "system_user"?' in result.stderr
    as_json = plan(run_cli, seeded.root, "--format", "json")
    assert as_json.returncode == 1
    error = json.loads(as_json.stdout)["error"]
    assert error["type"] == "ManifestError"
    assert any(d["field"] == "spec.method" and d["line"] == 6 for d in error["diagnostics"])


def test_corrupt_state_database_exit_one(run_cli, seeded: Seeded) -> None:
    (seeded.root / ".authctl" / "state.db").write_bytes(b"this is not a database\x00" * 200)
    result = plan(run_cli, seeded.root, "--format", "json")
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "StateError"
    assert error["message"].startswith("the state store") and "cannot be used" in error["message"]


def test_state_of_another_workspace_exit_one(run_cli, seeded: Seeded) -> None:
    (seeded.root / "authctl.yaml").write_text("name: some-other-workspace\n", encoding="utf-8")
    result = plan(run_cli, seeded.root)
    assert result.returncode == 1
    assert "belongs to workspace 'plan-e2e'" in result.stderr and "'some-other-workspace'" in result.stderr


# -- the JSON contract and the plan file --------------------------------------------------------------

def test_json_contract(run_cli, seeded: Seeded) -> None:
    seeded.unmanaged_job("their-job")
    result = plan(run_cli, seeded.root, "--format", "json", env={"FB_TOKEN": CANARY_NEW})
    assert result.returncode == 3, result.stderr  # rotation: the old one is still used by their-job
    data = json.loads(result.stdout)
    assert data["format_version"] == "1"
    assert data["summary"] == {"create": 0, "update": 1, "replace": 1, "delete": 0, "blocked": 1,
                               "reauthorize": 0, "noop": 0}
    assert isinstance(data["warnings"], list)
    for action in data["actions"]:
        assert {"address", "action", "blocked", "blocked_by", "changes", "warnings"} <= set(action)
        for change in action["changes"]:
            assert {"path", "before", "after", "sensitive"} <= set(change)
    replace = next(a for a in data["actions"] if a["address"] == "Authorization/fb-ads")
    assert replace["action"] == "replace" and replace["blocked"] is True
    assert replace["changes"] == [{"path": "credentials.access_token", "before": "(sensitive)",
                                   "after": "(sensitive, rotated)", "sensitive": True}]
    (blocker,) = replace["blocked_by"]
    assert set(blocker) == {"kind", "name", "id", "status", "managed"}
    assert (blocker["name"], blocker["status"], blocker["managed"]) == ("their-job", "running", False)
    rebind = next(a for a in data["actions"] if a["address"] == "Job/fb-audiences")
    assert rebind["action"] == "update" and rebind["depends_on"] == ["Authorization/fb-ads"]


def test_plan_file(run_cli, seeded: Seeded) -> None:
    seeded.write("fb.yaml", fb_auth("Facebook Ads (prod)") + "---\n" + FB_JOB)
    out = seeded.root / "out" / "plan.json"
    result = plan(run_cli, seeded.root, "-o", out, env={"FB_TOKEN": CANARY_OLD})
    assert result.returncode == 0, result.stderr
    assert f"Saved the plan to {out}" in result.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["kind"] == "authctl-plan" and data["format_version"] == "1"
    desired = load_desired(load_workspace(seeded.root), load_catalog()).desired
    assert data["context"]["manifest_digest"] == desired.digest
    assert data["context"]["state_serial"] == seeded.serial
    assert data["context"]["state_lineage"]
    (action,) = data["actions"]
    assert action["address"] == "Authorization/fb-ads"
    assert action["preconditions"] == [{"kind": "authorization", "id": seeded.auth_id,
                                        "version": action["preconditions"][0]["version"]}]
    assert len(action["preconditions"][0]["version"]) == 16
    assert not list(out.parent.glob(".plan-*"))  # no temporary file left behind


# -- the canary ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_canary_secret_never_in_any_output_or_plan_file(run_cli, seeded: Seeded, fmt: str) -> None:
    seeded.unmanaged_job("their-job")  # a blocked replace: the richest output
    out = seeded.root / f"plan-{fmt}.json"
    result = plan(run_cli, seeded.root, "--format", fmt, "-o", out, "--debug", env={"FB_TOKEN": CANARY_NEW})
    assert result.returncode == 3, result.stdout + result.stderr
    assert "(sensitive, rotated)" in result.stdout
    saved = out.read_text(encoding="utf-8")
    for text in (result.stdout, result.stderr, saved):
        assert "CANARY" not in text
        assert "hmac-sha256" not in text
    if fmt == "json":  # what is printed and what is saved describe the same plan
        printed, kept = json.loads(result.stdout), json.loads(saved)
        assert printed["summary"] == kept["summary"]
        assert [a["address"] for a in printed["actions"]] == [a["address"] for a in kept["actions"]]


def test_canary_not_in_validation_errors(run_cli, seeded: Seeded) -> None:
    literal = fb_auth("Facebook Ads").replace("{env: FB_TOKEN}", f'"{CANARY_NEW}"')
    seeded.write("fb.yaml", literal)
    result = plan(run_cli, seeded.root, env={"FB_TOKEN": CANARY_NEW})
    assert result.returncode == 1
    assert "spec.credentials.access_token" in result.stderr
    assert "CANARY" not in result.stdout + result.stderr
