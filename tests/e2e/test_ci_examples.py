"""The CI examples in examples/ci/, checked as their CI systems read them and run as they run them.

Static: both GitHub workflows and the GitLab pipeline parse; which jobs each event starts;
least-privilege permissions; secrets only where they are needed and never on the fork path;
no ``${{ }}`` inside a script (script injection); GitLab's stages, rules and needs.

Running: each job's ``run:`` steps (GitHub) or script (GitLab) run with bash against a checkout
of the demo workspace (manifests/), with the variables the CI would set, this checkout's authctl
on PATH, and tests/ci_support.FakeForge on 127.0.0.1 standing in for the GitHub and GitLab APIs
and for the providers ``authctl health`` calls. STEP_TESTS names, for every ``run:`` step and
every GitLab job, the test that runs it (each such test checks that it did); a step missing
from it, and not skipped with a reason in SKIPPED, fails test_every_step_is_run_by_a_test, so
a new step cannot escape testing.

Secrets are canaries: no job output, step summary, artifact or comment may contain one.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from apply_support import open_platform_of
from ci_config import github_jobs_for, gitlab_job, gitlab_job_names, gitlab_pipeline, workflow_triggers
from ci_forge import FORK, PROJECT_ID, REPOSITORY, FakeForge, zip_bytes
from ci_support import GitHubRun, JobResult, Relay, Repo, authctl_shim, base_environment, run_github_job, run_gitlab_job

from reconciler.vocabulary import JobStatus

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "examples" / "ci"
GITHUB, FORK_COMMENT, GITLAB = "github-actions.yml", "github-actions-fork-comment.yml", "gitlab-ci.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
INSTALLED = {GITHUB: ".github/workflows/authctl.yml", FORK_COMMENT: ".github/workflows/authctl-fork-comment.yml",
             GITLAB: ".gitlab-ci.yml", "authctl_ci.py": "ci/authctl_ci.py"}

SKIPPED = {
    "pip install authctl": "installs authctl from PyPI; the test puts this checkout's authctl on PATH",
    "pip install --quiet authctl": "installs authctl from PyPI; the test puts this checkout's authctl on PATH",
}

_PR_CHANGES = "test_github_pull_request_posts_one_plan_comment_and_edits_it_on_the_next_push"
_PR_ERROR = "test_github_pull_request_with_invalid_manifests_fails_and_the_comment_says_why"
_BLOCKED = "test_github_blocked_pull_request_fails_its_check_and_apply_after_merge_does_the_rest"
_SCHEDULE = "test_github_schedule_publishes_a_snapshot_that_a_fork_pull_request_plans_against"
_MR = "test_gitlab_merge_request_keeps_one_note_edited_in_place"
_GITLAB_LIFE = "test_gitlab_operator_applies_the_saved_plan_then_schedule_and_a_fork"

# Every `run:` step (file, job, step name) and every GitLab job's script -> the test that runs it.
STEP_TESTS = {
    (GITHUB, "plan", "Plan"): _PR_CHANGES,
    (GITHUB, "plan", "Comment on the pull request"): _PR_CHANGES,
    (GITHUB, "plan", "Verdict"): _PR_ERROR,
    (GITHUB, "plan-fork", "Fetch the live snapshot"): _SCHEDULE,
    (GITHUB, "plan-fork", "Plan against the snapshot"): _SCHEDULE,
    (GITHUB, "plan-fork", "Verdict"): _SCHEDULE,
    (GITHUB, "apply", "Write file credentials"): _BLOCKED,
    (GITHUB, "apply", "Plan"): _BLOCKED,
    (GITHUB, "apply", "Apply the saved plan"): _BLOCKED,
    (GITHUB, "snapshot", "Snapshot live state"): _SCHEDULE,
    (GITHUB, "drift", "Drift"): _SCHEDULE,
    (GITHUB, "health", "Health"): _SCHEDULE,
    (FORK_COMMENT, "comment", "Fetch the fork's plan"): _SCHEDULE,
    (FORK_COMMENT, "comment", "Comment on the pull request"): _SCHEDULE,
    (GITLAB, "plan", "script"): _MR,
    (GITLAB, "plan-fork", "script"): _GITLAB_LIFE,
    (GITLAB, "plan-main", "script"): _GITLAB_LIFE,
    (GITLAB, "apply", "script"): _GITLAB_LIFE,
    (GITLAB, "snapshot", "script"): _GITLAB_LIFE,
    (GITLAB, "drift", "script"): _GITLAB_LIFE,
    (GITLAB, "health", "script"): _GITLAB_LIFE,
}

CANARY = "canary-5e1d"
GCP_KEY = json.dumps({"type": "service_account", "client_email": "sa@acme.iam", "private_key": f"{CANARY}-gcp"})
CREDENTIALS = {"FB_MAIN_SYSTEM_USER_TOKEN": f"{CANARY}-fb-main", "FB_EMEA_SYSTEM_USER_TOKEN": f"{CANARY}-fb-emea",
               "PINTEREST_CAPI_TOKEN": f"{CANARY}-pinterest"}
GITHUB_SECRETS = {**CREDENTIALS, "GCP_PUBSUB_SA_JSON": GCP_KEY, "LYTICS_API_TOKEN": f"{CANARY}-write",
                  "LYTICS_READ_TOKEN": f"{CANARY}-read", "AUTHCTL_STATE_PASSWORD": f"{CANARY}-pg"}
READ_SECRETS = {"LYTICS_READ_TOKEN", "AUTHCTL_STATE_PASSWORD"}
WRITE_TOKEN, READ_TOKEN = "ghs_write_token_1", "ghs_fork_read_token"
MARKER = "<!-- authctl-plan:prod -->"
HEAD = "a" * 40


def load(name: str) -> dict[Any, Any]:
    return yaml.safe_load((CI / name).read_text(encoding="utf-8"))


def ci_module() -> ModuleType:
    """examples/ci/authctl_ci.py, imported from its file (it is shipped as a script, not a package)."""
    if "authctl_ci" not in sys.modules:
        spec = importlib.util.spec_from_file_location("authctl_ci", CI / "authctl_ci.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["authctl_ci"] = module
        spec.loader.exec_module(module)
    return sys.modules["authctl_ci"]


def github_context(event_name: str, event: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"event_name": event_name, "event": dict(event or {}), "repository": REPOSITORY}


def pr_event(number: int = 7, *, fork: bool = False, head: str = HEAD) -> dict[str, Any]:
    return {"pull_request": {"number": number, "head": {"sha": head, "repo": {"full_name": FORK if fork else REPOSITORY}}},
            "repository": {"full_name": REPOSITORY, "default_branch": "main"}}


def workflow_run_event(*, fork: bool, event: str = "pull_request", run_id: int = 777) -> dict[str, Any]:
    return {"workflow_run": {"id": run_id, "event": event, "head_sha": HEAD,
                             "head_repository": {"full_name": FORK if fork else REPOSITORY},
                             "html_url": f"https://github.example/{REPOSITORY}/actions/runs/{run_id}"}}


# -- the world the jobs run in -----------------------------------------------------------------

@dataclass
class World:
    """A checkout of the demo workspace (providers sent to the forge), the forge, a runner's environment."""

    tmp: Path
    forge: FakeForge
    repo: Repo
    relay: Relay

    @classmethod
    def make(cls, tmp: Path, forge: FakeForge, relay: Relay, name: str = "repo") -> World:
        repo = Repo(ROOT / "manifests", tmp, name)
        repo.write("authctl.yaml", (repo.committed / "authctl.yaml").read_text(encoding="utf-8") + (
            "provider_overrides:   # the test's stand-in providers, on 127.0.0.1\n"
            f"  facebook: {{api_base_url: \"{forge.provider_url}\"}}\n"
            f"  pinterest: {{api_base_url: \"{forge.provider_url}\"}}\n"))
        for source, installed in INSTALLED.items():  # where the CI files' headers say to copy them
            repo.write(installed, (CI / source).read_text(encoding="utf-8"))
        repo.checkout()
        return cls(tmp, forge, repo, relay)

    def environment(self) -> dict[str, str]:
        return base_environment(authctl_shim(self.tmp / "bin", self.relay), self.tmp / "home")

    def github(self, workflow: str, job: str, event_name: str, event: Mapping[str, Any], *,
               secrets: Mapping[str, str] = GITHUB_SECRETS, token: str = WRITE_TOKEN, run_id: int = 1000) -> JobResult:
        temp = self.tmp / "runner"
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir()
        run = GitHubRun(event_name, dict(event), secrets, token, self.forge, self.environment(), temp, run_id,
                        SKIPPED)
        result = run_github_job(load(workflow), job, run, self.repo.checkout())
        result.source = workflow
        return result

    def gitlab(self, job: str, variables: Mapping[str, str], *, keep: Mapping[str, bytes] | None = None) -> JobResult:
        """Run GitLab job ``job`` in a fresh checkout (plus the artifacts ``keep`` of the jobs it needs)."""
        temp = self.tmp / "runner"
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir()
        root = self.repo.checkout()
        for name, content in (keep or {}).items():
            (root / name).write_bytes(content)
        result = run_gitlab_job(load(GITLAB), job, root, variables, self.environment(), temp, SKIPPED)
        result.source = GITLAB
        return result

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """authctl in the checkout, with the credentials: the world's own setup, not a CI step."""
        env = {**self.environment(), **CREDENTIALS}
        (self.repo.root / "secrets").mkdir(exist_ok=True)
        (self.repo.root / "secrets" / "gcp-pubsub-sa.json").write_text(GCP_KEY, encoding="utf-8")
        done = subprocess.run(["authctl", *args], cwd=self.repo.root, env=env, capture_output=True, text=True,
                              timeout=180, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def assert_no_canary(self, *results: JobResult) -> None:
        for result in results:
            assert CANARY not in result.text(), result.describe()
        for request in self.forge.requests:
            if request.path.startswith(("/github", "/gitlab")):
                assert CANARY not in json.dumps(request.body), request


@pytest.fixture(scope="module")
def relay() -> Iterator[Relay]:
    running = Relay()
    yield running
    running.close()


@pytest.fixture
def forge() -> Iterator[FakeForge]:
    with FakeForge().running() as running:
        running.github_tokens.update({WRITE_TOKEN: "write", READ_TOKEN: "read"})
        running.gitlab_tokens["glpat-note-writer"] = {"id": 99, "username": "project_41_bot"}
        yield running


def assert_ran_its_steps(request: pytest.FixtureRequest, *results: JobResult) -> None:
    """Every step STEP_TESTS gives to the calling test ran (a bash script, not skipped)."""
    mine = {key for key, test in STEP_TESTS.items() if test == request.node.originalname}
    ran = {(result.source, result.job, step) for result in results for step in result.executed}
    assert mine <= ran, f"STEP_TESTS says these run here, but they did not: {sorted(mine - ran)}"


def comments_with(forge: FakeForge, number: int, marker: str = MARKER) -> list[dict[str, Any]]:
    return [c for c in forge.comments.get(number, []) if c["user"]["login"] == "github-actions[bot]"
            and c["body"].startswith(marker)]


# -- static: the files as their CI systems read them -------------------------------------------

@pytest.mark.parametrize(("event_name", "event", "jobs"), [
    ("pull_request", pr_event(), {"plan"}),
    ("pull_request", pr_event(fork=True), {"plan-fork"}),
    ("push", {"ref": "refs/heads/main"}, {"apply"}),
    ("schedule", {}, {"snapshot", "drift", "health"}),
    ("workflow_dispatch", {}, {"snapshot", "drift", "health"}),
], ids=["pull-request", "fork-pull-request", "push-main", "schedule", "by-hand"])
def test_github_each_event_starts_its_jobs(event_name: str, event: dict[str, Any], jobs: set[str]) -> None:
    workflow = load(GITHUB)
    triggers = workflow_triggers(workflow)
    assert set(triggers) == {"pull_request", "push", "schedule", "workflow_dispatch"}
    assert triggers["push"] == {"branches": ["main"]}
    assert github_jobs_for(workflow, github_context(event_name, event)) == jobs


@pytest.mark.parametrize(("event", "jobs"), [
    (workflow_run_event(fork=True), {"comment"}),
    (workflow_run_event(fork=False), set()),
    (workflow_run_event(fork=False, event="schedule"), set()),
], ids=["fork-pull-request", "own-pull-request", "schedule"])
def test_github_fork_comment_runs_only_after_a_fork_pull_request(event: dict[str, Any], jobs: set[str]) -> None:
    workflow = load(FORK_COMMENT)
    assert workflow_triggers(workflow) == {"workflow_run": {"workflows": [load(GITHUB)["name"]],
                                                            "types": ["completed"]}}
    assert github_jobs_for(workflow, github_context("workflow_run", event)) == jobs


def test_github_permissions_are_least_privilege() -> None:
    """Read by default; pull-requests: write only where a comment is posted; actions: read only to fetch artifacts."""
    plan, fork = load(GITHUB), load(FORK_COMMENT)
    assert plan["permissions"] == {"contents": "read"}
    assert fork["permissions"] == {}
    read = {"contents": "read"}
    assert {name: job["permissions"] for name, job in plan["jobs"].items()} == {
        "plan": {**read, "pull-requests": "write"}, "plan-fork": {**read, "actions": "read"}, "apply": read,
        "snapshot": read, "drift": read, "health": read}
    assert fork["jobs"]["comment"]["permissions"] == {**read, "actions": "read", "pull-requests": "write"}
    for workflow in (plan, fork):
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False  # no token left in .git/config


def _secrets(value: Any) -> set[str]:
    return set(re.findall(r"secrets\.(\w+)", yaml.safe_dump(value)))


def test_github_secrets_only_where_needed_and_none_on_the_fork_path() -> None:
    plan, fork = load(GITHUB), load(FORK_COMMENT)
    jobs = plan["jobs"]
    assert _secrets(jobs["plan-fork"]) == set() and _secrets(fork) == set()  # a fork's run gets none
    for name in ("plan", "snapshot", "drift"):
        assert _secrets(jobs[name]) <= READ_SECRETS, name  # a read token is enough
    for name, job in jobs.items():
        if _secrets(job) - READ_SECRETS:  # the write token or credentials: the protected environment only
            assert job.get("environment") == "production", name
    assert _secrets(jobs["apply"]) == set(GITHUB_SECRETS) - {"LYTICS_READ_TOKEN"}
    for workflow in (plan, fork):
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                # expressions go through env:, never into a script (script injection) or an action's inputs
                assert "${{" not in str(step.get("run", "")), step
                assert _secrets(step.get("with", {})) == set(), step
                assert not _secrets(step) or "run" in step, step


def test_github_uses_only_pinned_well_known_actions() -> None:
    used = {step["uses"] for name in (GITHUB, FORK_COMMENT) for job in load(name)["jobs"].values()
            for step in job["steps"] if "uses" in step}
    assert used <= {"actions/checkout@v4", "actions/setup-python@v5", "actions/upload-artifact@v4"}, used


def gitlab_variables(source: str, **extra: str) -> dict[str, str]:
    return {"CI_PIPELINE_SOURCE": source, "CI_DEFAULT_BRANCH": "main", "CI_PROJECT_ID": PROJECT_ID, **extra}


def merge_request(*, fork: bool = False) -> dict[str, str]:
    return gitlab_variables("merge_request_event", CI_MERGE_REQUEST_IID="5", CI_MERGE_REQUEST_PROJECT_ID=PROJECT_ID,
                            CI_MERGE_REQUEST_SOURCE_PROJECT_ID="77" if fork else PROJECT_ID,
                            CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main")


@pytest.mark.parametrize(("variables", "jobs"), [
    (merge_request(), {"plan": "on_success"}),
    (merge_request(fork=True), {"plan-fork": "on_success"}),
    (gitlab_variables("push", CI_COMMIT_BRANCH="main"), {"plan-main": "on_success", "apply": "manual"}),
    (gitlab_variables("push", CI_COMMIT_BRANCH="feature"), {}),
    (gitlab_variables("schedule", CI_COMMIT_BRANCH="main"), {"snapshot": "on_success", "drift": "on_success",
                                                               "health": "on_success"}),
], ids=["merge-request", "fork-merge-request", "push-main", "push-branch", "schedule"])
def test_gitlab_each_pipeline_gets_its_jobs(variables: dict[str, str], jobs: dict[str, str]) -> None:
    assert gitlab_pipeline(load(GITLAB), variables) == jobs


def test_gitlab_stages_needs_and_failure_rules() -> None:
    config = load(GITLAB)
    stages = config["stages"]
    jobs = {name: gitlab_job(config, name) for name in gitlab_job_names(config)}
    for name, job in jobs.items():
        assert job["stage"] in stages, name
        for needed in job.get("needs", []):  # an earlier stage, in the same pipelines
            assert stages.index(jobs[needed]["stage"]) < stages.index(job["stage"]), name
            assert jobs[needed]["rules"][0]["if"] == job["rules"][0]["if"], name
    assert jobs["apply"]["needs"] == ["plan-main"] and jobs["apply"]["environment"]["name"] == "production"
    assert "allow_failure" not in jobs["apply"] and jobs["apply"]["resource_group"]
    assert jobs["plan-main"]["allow_failure"] == {"exit_codes": [3]}  # blocked: apply still does the rest
    for name in ("plan", "plan-fork"):  # the check fails on 1 and on 3
        assert "allow_failure" not in jobs[name] and jobs[name]["artifacts"]["when"] == "always"
    assert {jobs[n]["environment"]["name"] for n in ("apply", "health")} == {"production"}
    project_variables = ("AUTHCTL_GITLAB_TOKEN", "LYTICS", "PGPASSWORD", "GCP_PUBSUB", "SYSTEM_USER", "PINTEREST")
    script = json.dumps(jobs["plan-fork"])
    assert not [v for v in project_variables if v in script]  # the fork's pipeline has none of them


def test_every_step_is_run_by_a_test() -> None:
    """Each `run:` step and GitLab job is in STEP_TESTS (naming a test here) or its script is in SKIPPED."""
    steps: set[tuple[str, str, str]] = set()
    skipped: set[str] = set()
    for name in (GITHUB, FORK_COMMENT):
        for job_name, job in load(name)["jobs"].items():
            for step in job["steps"]:
                if "run" not in step:
                    continue
                assert step.get("name"), f"{name} {job_name}: every run step needs a name"
                if step["run"].strip() in SKIPPED:
                    skipped.add(step["run"].strip())
                else:
                    steps.add((name, job_name, step["name"]))
    config = load(GITLAB)
    for job_name in gitlab_job_names(config):
        steps.add((GITLAB, job_name, "script"))
        job = gitlab_job(config, job_name)
        skipped |= {line.strip() for line in job.get("before_script", []) if line.strip() in SKIPPED}
    assert set(STEP_TESTS) == steps, (sorted(steps - set(STEP_TESTS)), sorted(set(STEP_TESTS) - steps))
    assert skipped == set(SKIPPED)  # no stale skip
    assert set(STEP_TESTS.values()) <= set(globals()), "STEP_TESTS names a test that does not exist"


# -- authctl_ci.py in-process: the comment's text, unpacking, verdicts, errors -----------------

def test_a_long_plan_is_cut_to_a_github_comment_with_blocks_closed_and_a_pointer_to_the_artifact() -> None:
    ci = ci_module()
    block = ["<details><summary><code>+</code> <code>Job/x</code> create</summary>", "", "```diff",
             *[f"+ config.value_{n}: \"{'😀' * 20}\"" for n in range(40)], "```", "", "</details>"]
    plan = "\n".join(["### authctl plan", "", "**Plan: 500 to create.**", "", *block * 500])
    body = ci.compose("authctl-plan:prod", plan, 2, limit=ci.GITHUB_COMMENT_LIMIT, commit=HEAD,
                      artifact="authctl-plan-prod")
    assert ci.text_size(body) <= ci.GITHUB_COMMENT_LIMIT < len(plan)
    assert body.startswith(f"{MARKER}\n:memo: **Changes to review.**")
    assert "The whole plan is in the artifact `authctl-plan-prod`" in body
    assert body.rstrip().endswith("the whole plan: artifact `authctl-plan-prod`</sub>")
    assert ci.close_open_blocks(body.splitlines()) == []  # no fence or <details> left open
    short = ci.compose("authctl-plan:prod", "### authctl plan\n\nNo changes.\n", 0, limit=ci.GITHUB_COMMENT_LIMIT)
    assert "cut here" not in short and ":white_check_mark: **No changes.**" in short


@pytest.mark.parametrize(("members", "message"), [
    ({"../escape.json": b"{}"}, "would land outside"),
    ({"/etc/passwd": b"x"}, "would land outside"),
    ({"link.json": None}, "symbolic link"),
    ({"other.json": b"{}"}, "holds no live.json"),
], ids=["climbs-out", "absolute", "symlink", "missing"])
def test_unpack_refuses_what_could_write_elsewhere(tmp_path: Path, members: dict[str, bytes | None],
                                                   message: str) -> None:
    ci = ci_module()
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, content in members.items():
            if content is None:
                info = zipfile.ZipInfo(name)
                info.external_attr = (0o120777 << 16)
                zipped.writestr(info, "/etc/passwd")
            else:
                zipped.writestr(name, content)
    with pytest.raises(ci.Failure, match=message):
        ci.unpack(archive.read_bytes(), tmp_path / "into", ["live.json"])
    assert not (tmp_path / "escape.json").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "planted").write_text("x")
    with pytest.raises(ci.Failure, match="new or empty folder"):
        ci.unpack(zip_bytes({"live.json": b"{}"}), tmp_path / "full", ["live.json"])


@pytest.mark.parametrize(("code", "verdict"), [(0, 0), (2, 0), (3, 3), (1, 1), (127, 1)])
def test_verdict_passes_changes_and_fails_blocked_and_errors(code: int, verdict: int,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert ci_module().main(["verdict", str(code)], {"GITHUB_ACTIONS": "true"}) == verdict
    out = capsys.readouterr().out
    assert ("::error title=authctl plan%3A BLOCKED::" in out) == (code == 3)
    assert ("::error title=authctl plan failed::" in out) == (verdict == 1)


def test_an_api_error_is_one_line_without_the_token(forge: FakeForge, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "plan.md").write_text("### authctl plan\n")
    environ = {"GITHUB_TOKEN": f"{CANARY}-not-a-token", "GITHUB_API_URL": forge.github_url,
               "GITHUB_REPOSITORY": REPOSITORY}
    code = ci_module().main(["comment", "github", "--number", "7", "--marker", "authctl-plan:prod", "--body-file",
                             str(tmp_path / "plan.md"), "--exit-code", "2"], environ)
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert err == "authctl_ci: error: GET /github/repos/acme/authz/issues/7/comments: HTTP 401 (Bad credentials)\n"
    assert CANARY not in err


# -- running the GitHub workflows --------------------------------------------------------------

def test_github_pull_request_posts_one_plan_comment_and_edits_it_on_the_next_push(
        tmp_path: Path, forge: FakeForge, relay: Relay, request: pytest.FixtureRequest) -> None:
    world = World.make(tmp_path, forge, relay)
    # 120 comments first (the bot's lands on page 2), one of them a person's that quotes the marker,
    # and the bot's comment for another environment: neither is ever edited
    human = {"id": 1, "body": f"{MARKER}\nlooks good", "user": {"login": "mallory", "type": "User"}}
    staging = {"id": 2, "body": "<!-- authctl-plan:staging -->\nstaging plan",
               "user": {"login": "github-actions[bot]", "type": "Bot"}}
    forge.comments[7] = [human, staging] + [{"id": 10 + n, "body": f"comment {n}",
                                             "user": {"login": "dev", "type": "User"}} for n in range(118)]
    first = world.github(GITHUB, "plan", "pull_request", pr_event())
    assert first.status == "success", first.describe()
    assert "changes to review (exit 2)" in first.step("Verdict").stdout
    (posted,) = comments_with(forge, 7)
    assert posted["body"].startswith(f"{MARKER}\n:memo: **Changes to review.** Merging applies them.")
    assert "**Plan: 8 to create, 0 to update, 0 to replace, 0 to delete.**" in posted["body"]
    assert f"commit `{HEAD[:12]}`" in posted["body"] and "artifact `authctl-plan-prod`" in posted["body"]
    assert "https://github.example/acme/authz/actions/runs/1000" in posted["body"]
    artifact = first.artifacts["authctl-plan-prod"]
    assert set(artifact) == {"plan.json", "plan.md"}
    assert json.loads(artifact["plan.json"])["summary"]["create"] == 8
    assert "### authctl plan" in first.summary
    # the next push: a new plan, the same comment edited
    world.repo.edit("partners/pinterest.yaml", "description: Conversion events to Pinterest",
                    "description: Conversion events (web and app)")
    second = world.github(GITHUB, "plan", "pull_request", pr_event(head="b" * 40))
    assert second.status == "success", second.describe()
    assert [c["id"] for c in comments_with(forge, 7)] == [posted["id"]]
    assert "Conversion events (web and app)" in comments_with(forge, 7)[0]["body"]
    writes = [(r.method, r.path) for r in forge.writes()]
    assert writes == [("POST", f"/github/repos/{REPOSITORY}/issues/7/comments"),
                      ("PATCH", f"/github/repos/{REPOSITORY}/issues/comments/{posted['id']}")]
    assert human["body"] == f"{MARKER}\nlooks good" and staging["body"].endswith("staging plan")
    world.assert_no_canary(first, second)
    assert_ran_its_steps(request, first, second)


def test_github_pull_request_with_invalid_manifests_fails_and_the_comment_says_why(
        tmp_path: Path, forge: FakeForge, relay: Relay, request: pytest.FixtureRequest) -> None:
    world = World.make(tmp_path, forge, relay)
    world.repo.write("partners/broken.yaml", "apiVersion: authctl/v1\nkind: Authorization\nmetadata: {name: x}\n")
    result = world.github(GITHUB, "plan", "pull_request", pr_event())
    assert result.status == "failure"
    assert result.step("Plan").outcome == "success"  # the plan's exit code goes on to the comment and the verdict
    verdict = result.step("Verdict")
    assert verdict.exit_code == 1 and "::error title=authctl plan failed::exit 1" in verdict.stdout
    (posted,) = comments_with(forge, 7)
    assert posted["body"].startswith(f"{MARKER}\n:x: **The plan failed: this check fails.**")
    assert "### authctl plan failed" in posted["body"] and "partners/broken.yaml:" in posted["body"]
    assert_ran_its_steps(request, result)


def test_github_blocked_pull_request_fails_its_check_and_apply_after_merge_does_the_rest(
        tmp_path: Path, forge: FakeForge, relay: Relay, request: pytest.FixtureRequest) -> None:
    world = World.make(tmp_path, forge, relay)
    world.cli("apply", "--auto-approve")
    world.cli("platform", "jobs", "create", "--name", "emea-lookalikes-manual", "--workflow",
              "facebook-audience-populate", "--auth", "Facebook Ads EMEA (prod)")  # someone, in the UI
    world.repo.drop_document("facebook/authorizations.yaml", "fb-ads-emea")
    world.repo.drop_document("facebook/jobs.yaml", "fb-audiences-emea")
    checked = world.github(GITHUB, "plan", "pull_request", pr_event())
    assert checked.status == "failure"
    assert checked.step("Verdict").exit_code == 3
    assert "::error title=authctl plan%3A BLOCKED::" in checked.step("Verdict").stdout
    (posted,) = comments_with(forge, 7)
    assert posted["body"].startswith(f"{MARKER}\n:no_entry: **BLOCKED: this check fails.**")
    assert "emea-lookalikes-manual" in posted["body"]  # the comment names what blocks it
    # merged anyway: the apply job makes every other change and fails with 3
    applied = world.github(GITHUB, "apply", "push", {"ref": "refs/heads/main"})
    assert applied.status == "failure", applied.describe()
    assert applied.step("Plan").outcome == "success" and applied.step("Apply the saved plan").exit_code == 3
    assert "BLOCKED" in applied.step("Apply the saved plan").stdout
    assert "Authorization/fb-ads-emea" in applied.summary
    assert "plan.json" in applied.artifacts["authctl-applied-plan-prod"]
    platform = open_platform_of(world.repo.root)
    try:
        assert {a.label for a in platform.list_authorizations()} >= {"Facebook Ads EMEA (prod)"}  # not deleted
        jobs = {j.name: j.status for j in platform.snapshot(include_deleted=True).jobs}
    finally:
        platform.close()
    assert jobs["emea-lookalikes-manual"] is JobStatus.RUNNABLE and jobs["fb-audiences-emea"] is JobStatus.DELETED
    world.assert_no_canary(checked, applied)
    assert_ran_its_steps(request, checked, applied)


def test_github_schedule_publishes_a_snapshot_that_a_fork_pull_request_plans_against(
        tmp_path: Path, forge: FakeForge, relay: Relay, request: pytest.FixtureRequest) -> None:
    world = World.make(tmp_path, forge, relay)
    world.cli("apply", "--auto-approve")
    world.cli("platform", "jobs", "create", "--name", "main-manual", "--workflow", "facebook-audience-populate",
              "--auth", "Facebook Ads main (prod)")  # a change outside authctl: drift
    forge.provider_status["pinterest"] = 401  # the Pinterest token was revoked
    schedule = {}
    snapshot = world.github(GITHUB, "snapshot", "schedule", schedule)
    drift = world.github(GITHUB, "drift", "schedule", schedule)
    health = world.github(GITHUB, "health", "schedule", schedule)
    assert snapshot.status == "success", snapshot.describe()
    assert drift.status == "failure" and drift.step("Drift").exit_code == 2, drift.describe()
    assert "::error title=authctl drift::" in drift.step("Drift").stdout
    report = json.loads(drift.artifacts["authctl-drift-prod"]["drift.json"])
    assert report["has_drift"] and report["summary"]["unmanaged_job"] == 1
    assert health.status == "failure" and health.step("Health").exit_code == 1
    assert "Pinterest Conversions" in health.step("Health").stdout and "Unhealthy" in health.step("Health").stdout
    # the scheduled run's artifact, and a newer one of the same name uploaded by a fork's run (ignored)
    forge.add_github_artifact("authctl-snapshot-prod", snapshot.artifacts["authctl-snapshot-prod"], run_id=555,
                              branch="main", created_at="2026-01-02T00:00:00Z")
    forge.add_github_artifact("authctl-snapshot-prod", {"live.json": b"{}"}, run_id=556, branch="main",
                              from_fork=True, created_at="2026-01-03T00:00:00Z")
    # the fork: its own checkout, a changed description, no secrets, a read-only token
    fork = World(tmp_path, forge, Repo(world.repo.committed, tmp_path, "fork"), relay)
    fork.repo.edit("partners/pinterest.yaml", "description: Conversion events to Pinterest",
                   "description: Conversion events (web and app)")
    planned = fork.github(GITHUB, "plan-fork", "pull_request", pr_event(fork=True), secrets={}, token=READ_TOKEN,
                          run_id=777)
    assert planned.status == "success", planned.describe()
    assert "unpacked live.json into snapshot: artifact 'authctl-snapshot-prod' of run 555" in \
        planned.step("Fetch the live snapshot").stdout
    artifact = planned.artifacts["authctl-plan-prod"]
    assert artifact["exit-code"] == b"2\n" and artifact["pull-request"] == b"7\n"
    assert b"Planned against a snapshot taken" in artifact["plan.md"]
    assert forge.writes() == []  # the fork's run comments nowhere (its token could not)
    blobs = [r for r in forge.requests if r.path.startswith("/blob/")]
    assert blobs and all("authorization" not in r.headers for r in blobs)  # the token stays with the API
    # then, in the base repository: the fork comment workflow posts it
    forge.add_github_artifact("authctl-plan-prod", artifact, run_id=777, branch="fork-branch", from_fork=True)
    forge.pulls[7] = HEAD
    commented = world.github(FORK_COMMENT, "comment", "workflow_run", workflow_run_event(fork=True), secrets={})
    assert commented.status == "success", commented.describe()
    (posted,) = comments_with(forge, 7)
    assert posted["body"].startswith(f"{MARKER}\n:memo: **Changes to review.**")
    assert "_Planned in the fork's own CI run against the scheduled snapshot" in posted["body"]
    assert "Conversion events (web and app)" in posted["body"]
    assert f"https://github.example/{REPOSITORY}/actions/runs/777" in posted["body"]
    # a pull request that moved on (or an artifact naming another one) gets nothing
    forge.pulls[7] = "c" * 40
    moved = world.github(FORK_COMMENT, "comment", "workflow_run", workflow_run_event(fork=True), secrets={})
    assert moved.status == "success" and "not posted: pull request 7 is at cccccccccccc" in \
        moved.step("Comment on the pull request").stdout
    assert len(forge.writes()) == 1
    world.assert_no_canary(snapshot, drift, health, planned, commented)
    assert_ran_its_steps(request, snapshot, drift, health, planned, commented)


# -- running the GitLab pipeline ---------------------------------------------------------------

GITLAB_PROJECT = {"LYTICS_API_TOKEN": f"{CANARY}-read", "AUTHCTL_GITLAB_TOKEN": "glpat-note-writer",
                  "PGPASSWORD": f"{CANARY}-pg"}


def gitlab_run(forge: FakeForge, variables: Mapping[str, str], **extra: str) -> dict[str, str]:
    return {**variables, "CI_API_V4_URL": forge.gitlab_url, "CI_COMMIT_SHA": "c" * 40,
            "CI_JOB_URL": "https://gitlab.example/acme/authz/-/jobs/1", **extra}


def test_gitlab_merge_request_keeps_one_note_edited_in_place(tmp_path: Path, forge: FakeForge, relay: Relay,
                                                             request: pytest.FixtureRequest) -> None:
    world = World.make(tmp_path, forge, relay)
    person = {"id": 1, "body": f"{MARKER}\nquoted", "system": False, "author": {"id": 3, "username": "dev"}}
    forge.notes[5] = [person] + [{"id": 10 + n, "body": "added a commit", "system": True,
                                  "author": {"id": 99, "username": "project_41_bot"}} for n in range(30)]
    variables = gitlab_run(forge, merge_request(), **GITLAB_PROJECT)
    first = world.gitlab("plan", variables)
    assert first.status == "success", first.describe()
    world.repo.edit("partners/pinterest.yaml", "description: Conversion events to Pinterest",
                    "description: Conversion events (web and app)")
    second = world.gitlab("plan", variables)
    assert second.status == "success", second.describe()
    ours = [n for n in forge.notes[5] if n["author"]["id"] == 99 and not n["system"]]
    assert len(ours) == 1 and ours[0]["body"].startswith(f"{MARKER}\n:memo: **Changes to review.**")
    assert "Conversion events (web and app)" in ours[0]["body"] and person["body"].endswith("quoted")
    notes = f"/gitlab/api/v4/projects/{PROJECT_ID}/merge_requests/5/notes"
    assert [(r.method, r.path) for r in forge.writes()] == [("POST", notes), ("PUT", f"{notes}/{ours[0]['id']}")]
    assert set(first.artifacts["artifacts"]) == {"plan.json", "plan.md"}
    world.assert_no_canary(first, second)
    assert_ran_its_steps(request, first, second)


def test_gitlab_operator_applies_the_saved_plan_then_schedule_and_a_fork(
        tmp_path: Path, forge: FakeForge, relay: Relay, request: pytest.FixtureRequest) -> None:
    world = World.make(tmp_path, forge, relay)
    key_file = tmp_path / "gcp-file-variable"
    key_file.write_text(GCP_KEY, encoding="utf-8")
    protected = {**GITLAB_PROJECT, **CREDENTIALS, "GCP_PUBSUB_SA_JSON": str(key_file),
                 "LYTICS_API_TOKEN": f"{CANARY}-write"}
    push = gitlab_run(forge, gitlab_variables("push", CI_COMMIT_BRANCH="main"), **protected)
    planned = world.gitlab("plan-main", push)
    assert planned.status == "success", planned.describe()
    assert "Plan: 8 to create" in planned.steps[-1].stdout
    saved = planned.artifacts["artifacts"]
    applied = world.gitlab("apply", push, keep={"plan.json": saved["plan.json"]})  # the operator presses play
    assert applied.status == "success", applied.describe()
    assert "Apply complete: 8 applied." in applied.steps[-1].stdout
    schedule = gitlab_run(forge, gitlab_variables("schedule", CI_COMMIT_BRANCH="main"), **protected)
    snapshot, drift, health = (world.gitlab(name, schedule) for name in ("snapshot", "drift", "health"))
    for job in (snapshot, drift, health):
        assert job.status == "success", job.describe()
    assert json.loads(drift.artifacts["artifacts"]["drift.json"])["has_drift"] is False
    # the snapshot job's artifacts, as the project's job list shows them (newer jobs of other names or refs too)
    forge.add_gitlab_job("snapshot", "main", snapshot.artifacts["artifacts"])
    forge.add_gitlab_job("snapshot", "feature", {"live.json": b"{}"})
    forge.add_gitlab_job("plan-main", "main", {"plan.json": b"{}"})
    fork = World(tmp_path, forge, Repo(world.repo.committed, tmp_path, "fork"), relay)
    fork.repo.edit("partners/pinterest.yaml", "description: Conversion events to Pinterest",
                   "description: Conversion events (web and app)")
    fork_variables = gitlab_run(forge, merge_request(fork=True), CI_PROJECT_ID="77")  # the fork's: no project's
    from_fork = fork.gitlab("plan-fork", fork_variables)
    assert from_fork.status == "success", from_fork.describe()
    out = from_fork.steps[-1].stdout
    assert "Planned against a snapshot taken" in out and "Conversion events (web and app)" in out
    assert "changes to review (exit 2)" in out
    assert forge.writes() == []
    world.assert_no_canary(planned, applied, snapshot, drift, health, from_fork)
    assert_ran_its_steps(request, planned, applied, snapshot, drift, health, from_fork)


# -- .pre-commit-hooks.yaml ----------------------------------------------------------------------

# pre-commit's documented keys of a hook in .pre-commit-hooks.yaml (pre-commit.com, "Creating new hooks")
HOOK_KEYS = {"id", "name", "entry", "language", "files", "exclude", "types", "types_or", "exclude_types",
             "always_run", "fail_fast", "verbose", "pass_filenames", "require_serial", "description",
             "language_version", "minimum_pre_commit_version", "args", "stages"}
HOOK_LANGUAGES = {"conda", "coursier", "dart", "docker", "docker_image", "dotnet", "fail", "golang", "haskell",
                  "lua", "node", "perl", "python", "python_venv", "r", "ruby", "rust", "swift", "pygrep", "script",
                  "system", "unsupported", "unsupported_script"}


def test_pre_commit_hooks_file_is_a_hook_manifest_for_authctl_validate() -> None:
    hooks = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert isinstance(hooks, list) and hooks
    for hook in hooks:
        assert {"id", "name", "entry", "language"} <= set(hook) <= HOOK_KEYS, hook
        assert all(isinstance(hook[k], str) for k in ("id", "name", "entry", "language", "files") if k in hook)
        assert all(isinstance(hook[k], bool) for k in ("always_run", "pass_filenames", "require_serial") if k in hook)
        assert hook["language"] in HOOK_LANGUAGES
    (hook,) = hooks
    assert hook["id"] == "authctl-validate" and hook["language"] == "python"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert shlex.split(hook["entry"]) == ["authctl", "validate"] and "authctl" in scripts  # pip install . gives it
    assert hook["pass_filenames"] is False  # validate checks the whole workspace (references span files)
    files = re.compile(hook["files"])
    for path in ("authctl.yaml", "manifests/facebook/jobs.yaml", "infra/authctl/partners/pinterest.yml"):
        assert files.search(path), path
    for path in ("README.md", "ci/authctl_ci.py", "manifests/secrets/gcp.json"):
        assert not files.search(path), path


def test_pre_commit_hook_entry_passes_a_valid_workspace_and_fails_a_broken_one(tmp_path: Path, relay: Relay) -> None:
    """What pre-commit runs: ``entry`` in the repository's root, no file names; exit 1 names the file and line."""
    entry = shlex.split(yaml.safe_load(HOOKS.read_text(encoding="utf-8"))[0]["entry"])
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "manifests", repo, ignore=shutil.ignore_patterns(".authctl", "secrets"))
    env = base_environment(authctl_shim(tmp_path / "bin", relay), tmp_path / "home")
    valid = subprocess.run(entry, cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert valid.returncode == 0 and "Valid: 4 authorizations and 4 jobs" in valid.stdout, valid.stderr
    (repo / "facebook" / "jobs.yaml").write_text("apiVersion: authctl/v1\nkind: Job\nmetadata: {name: j}\n"
                                                 "spec: {workflow: no-such-workflow, authorizations: [nope]}\n")
    broken = subprocess.run(entry, cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert broken.returncode == 1
    assert "facebook/jobs.yaml:4" in broken.stdout + broken.stderr and "Traceback" not in broken.stderr
