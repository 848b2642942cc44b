"""`authctl snapshot` and `authctl plan --snapshot` as a pull request from a fork lives them: real subprocesses.

The trusted side (one module fixture): a workspace on the ``lytics`` backend, served by a real
`authctl platform serve` on 127.0.0.1, is applied with canary tokens; someone starts a job in
the platform's UI; a scheduled job runs `authctl snapshot -o live.json`. Then the server stops,
so its port is closed.

The fork: the same repository checked out elsewhere, with no token, no secret, the backend's URL
pointing at that closed port and the team's state store at a PostgreSQL URL whose port is closed
too. Any connection to either would fail the command (exit 1): a plan that succeeds opened neither.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from apply_support import auth_doc, documents, job_doc, read_world, settings
from backend_modes import use_backend
from cli_runner import _run_cli, write_workspace

from reconciler.state.access import open_state_store
from reconciler.vocabulary import Access
from reconciler.workspace import load_workspace

SECRETS = {"SNAP_ADS": "CANARY-ads-7d0c2f", "SNAP_CRM": "CANARY-crm-51e9aa"}
NO_CREDENTIALS: dict[str, str | None] = {"SNAP_ADS": None, "SNAP_CRM": None, "LYTICS_API_TOKEN": None}
SENTENCE = "Planned against a snapshot taken"
UI_JOB_CONFIG = ("--config", "segment_id=all_converters", "--config", "identifier_mapping=[{lytics: email, pinterest: em}]",
                 "--config", "required_mapping=[{lytics: event_time, pinterest: event_time}]")


def _manifests(*, crm: bool = True, ads_account: str = "549755885175") -> str:
    docs = [auth_doc("ads", "Ads account", "SNAP_ADS", account=ads_account), job_doc("ads-export", "ads")]
    if crm:
        docs += [auth_doc("crm", "CRM account", "SNAP_CRM", account="549755885170"), job_doc("crm-export", "crm")]
    return documents(*docs)


def _closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Published:
    trusted: Path  # the trusted job's workspace (back on the local backend, as the fixture left it)
    snapshot: Path
    lytics_settings: dict[str, Any]  # authctl.yaml as the snapshot was taken (backend: the served URL)
    api_token: str
    snapshot_stderr: str


def _cli(root: Path, *args: str | Path, codes: tuple[int, ...] = (0,), env: dict[str, str | None] | None = None) -> Any:
    result = _run_cli(*args, "-w", root, cwd=root, env=env)
    both = result.stdout + result.stderr
    assert result.returncode in codes, (args, result.returncode, both)
    assert "Traceback" not in both and "internal error" not in both, both
    for secret in SECRETS.values():
        assert secret not in both, (args, "a secret value was printed")
    return result


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    root = write_workspace(tmp_path_factory.mktemp("snapshot") / "trusted", {"main.yaml": _manifests()},
                           settings=settings("snapshot-e2e"))
    with use_backend(root, "http") as where:
        assert where.token is not None
        _cli(root, "apply", "--auto-approve", env=SECRETS)
        _cli(root, "platform", "jobs", "create", "--name", "made-in-the-ui", "--workflow", "pinterest-capi-export",
             "--auth", "CRM account", *UI_JOB_CONFIG)
        taken = _cli(root, "snapshot", "-o", root / "live.json", env=SECRETS)
        assert taken.stdout == ""
        lytics_settings = yaml.safe_load((root / "authctl.yaml").read_text(encoding="utf-8"))
        token = where.token
    return Published(root, root / "live.json", lytics_settings, token, taken.stderr)


def _fork(published: Published, where: Path, manifests: str | None = None,
          environments: dict[str, Any] | None = None) -> Path:
    """The repository checked out by the fork's CI: no .authctl/, the team's state unreachable."""
    data = dict(published.lytics_settings)
    data["state"] = {"url": f"postgresql+psycopg://authctl@127.0.0.1:{_closed_port()}/authctl_state"}
    if environments is not None:
        data["environments"] = environments
    root = write_workspace(where, {"main.yaml": manifests or _manifests()}, settings=yaml.safe_dump(data))
    shutil.copy(published.snapshot, root / "live.json")
    return root


def test_the_snapshot_holds_no_secret_and_says_what_it_took(published: Published) -> None:
    text = published.snapshot.read_text(encoding="utf-8")
    workspace = load_workspace(published.trusted)
    state = open_state_store(workspace, Access.READ)
    assert state is not None
    try:
        key = state.hmac_key()
        digests = [d for obj in state.managed().values() for p, d in obj.fingerprints.items()
                   if p.startswith("credentials.")]
    finally:
        state.close()
    assert len(digests) == 2
    for forbidden in (*SECRETS.values(), published.api_token, key.hex(), base64.b64encode(key).decode(), *digests):
        assert forbidden not in text
    data = json.loads(text)
    assert (data["kind"], data["format_version"]) == ("authctl-snapshot", "1")
    assert data["workspace"]["name"] == "snapshot-e2e" and data["backend"]["kind"] == "lytics"
    assert {a["label"] for a in data["authorizations"]} == {"Ads account", "CRM account"}
    assert {j["name"] for j in data["jobs"]} == {"ads-export", "crm-export", "made-in-the-ui"}
    said = " ".join(published.snapshot_stderr.split())
    assert "for workspace 'snapshot-e2e': 2 authorizations, 3 jobs, 0 experiences, 4 managed objects" in said
    assert "no secret values" in said and f"Wrote {published.snapshot}" in said


def test_a_fork_without_credentials_plans_offline(published: Published, tmp_path: Path) -> None:
    fork = _fork(published, tmp_path / "fork")
    unreachable = _cli(fork, "plan", codes=(1,), env=NO_CREDENTIALS)  # what the fork could do before
    assert "state store" in unreachable.stderr

    same = _cli(fork, "plan", "--snapshot", "live.json", "--detailed-exitcode", env=NO_CREDENTIALS)
    lines = same.stdout.splitlines()
    assert lines[0] == "No changes. Live state matches the manifests."
    assert lines[1].startswith(SENTENCE) and lines[1].endswith("UTC); secrets not compared.")
    assert "2 credentials were not compared" in same.stdout
    assert not (fork / ".authctl").exists()  # nothing was opened, so nothing was created


def test_a_pull_request_is_planned_against_the_snapshot(published: Published, tmp_path: Path) -> None:
    """The PR drops crm (a job started in the UI still uses it) and moves ads to another ad account."""
    fork = _fork(published, tmp_path / "fork", _manifests(crm=False, ads_account="549755885999"))
    planned = _cli(fork, "plan", "--snapshot", "live.json", "--format", "json", codes=(3,), env=NO_CREDENTIALS)
    data = json.loads(planned.stdout)
    assert {k: data["summary"][k] for k in ("replace", "delete", "blocked")} == {"replace": 1, "delete": 2,
                                                                               "blocked": 1}
    actions = {a["address"]: a for a in data["actions"]}
    assert actions["Authorization/crm"]["blocked_by"][0]["name"] == "made-in-the-ui"
    assert {c["path"]: (c["before"], c["after"]) for c in actions["Authorization/ads"]["changes"]} == \
        {"config.account_id": ("549755885175", "549755885999")}
    origin = data["context"]["snapshot"]
    assert origin["source"] == f"lytics {published.lytics_settings['backend']['url']}"
    assert (origin["secrets_compared"], origin["file"]) == (False, "live.json")
    assert data["context"]["state_serial"] == 1 and data["context"]["backend"] == "lytics"

    comment = _cli(fork, "plan", "--snapshot", "live.json", "--format", "markdown", codes=(3,), env=NO_CREDENTIALS)
    assert f"_{SENTENCE}" in comment.stdout and "made-in-the-ui" in comment.stdout


def test_a_plan_saved_from_a_snapshot_is_never_applied(published: Published, tmp_path: Path) -> None:
    fork = _fork(published, tmp_path / "fork", _manifests(ads_account="549755885999"))
    saved = tmp_path / "plan.json"
    said = _cli(fork, "plan", "--snapshot", "live.json", "-o", saved, env=NO_CREDENTIALS).stdout
    assert f"Saved the plan to {saved} for review; a plan against a snapshot cannot be applied." in said

    before = read_world(published.trusted)  # the trusted job, with every credential, applies the artifact
    refused = _cli(published.trusted, "apply", saved, codes=(1,), env=SECRETS)
    assert f"Error: plan file {saved} was made against the snapshot live.json taken " in refused.stderr
    assert "not against the platform, so it is not applied" in refused.stderr
    after = read_world(published.trusted)
    assert (after.auths, after.all_jobs, after.managed, after.pending) == \
        (before.auths, before.all_jobs, before.managed, before.pending)


def test_a_snapshot_that_does_not_fit_is_refused(published: Published, tmp_path: Path) -> None:
    fork = _fork(published, tmp_path / "fork", environments={"staging": {}})
    other_env = _cli(fork, "plan", "--snapshot", "live.json", "--env", "staging", codes=(1,), env=NO_CREDENTIALS)
    assert "was taken for workspace 'snapshot-e2e', no environment, and this plan is for workspace " \
           "'snapshot-e2e', environment 'staging'" in " ".join(other_env.stderr.split())

    old = json.loads((fork / "live.json").read_text(encoding="utf-8"))
    taken = datetime.now(UTC) - timedelta(days=10, hours=2)
    old["taken_at"] = taken.strftime("%Y-%m-%dT%H:%M:%SZ")
    (fork / "old.json").write_text(json.dumps(old), encoding="utf-8")
    too_old = _cli(fork, "plan", "--snapshot", "old.json", codes=(1,), env=NO_CREDENTIALS)
    assert f"snapshot file old.json was taken 10 days ago ({taken:%Y-%m-%d %H:%M} UTC), more than " \
           "--max-snapshot-age 7d allows" in " ".join(too_old.stderr.split())
    allowed = _cli(fork, "plan", "--snapshot", "old.json", "--max-snapshot-age", "11d", env=NO_CREDENTIALS)
    assert "Planned against a snapshot taken 10 days ago" in allowed.stdout

    (fork / "cut.json").write_text((fork / "live.json").read_text(encoding="utf-8")[:300], encoding="utf-8")
    cut = _cli(fork, "plan", "--snapshot", "cut.json", "--format", "markdown", codes=(1,), env=NO_CREDENTIALS)
    assert "snapshot file cut.json is not a valid authctl snapshot: line " in cut.stderr
    assert cut.stdout.startswith("### authctl plan failed")  # the PR comment says what is wrong
    as_json = json.loads(_cli(fork, "plan", "--snapshot", "cut.json", "--format", "json", codes=(1,),
                              env=NO_CREDENTIALS).stdout)
    assert as_json["error"]["type"] == "SnapshotFileError"
