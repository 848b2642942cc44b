"""The ``lytics`` backend against ``authctl platform serve``: real HTTP on 127.0.0.1, no mocks.

Round trips of authorizations and jobs through the Backend protocol, the delete guard in
guarded and cascade mode, creates adopted by marker when the server drops their answer,
and `authctl apply`/`plan` with ``backend: {kind: lytics}`` end to end (the canary
credential reaches the platform and nothing prints it).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from served_support import Served, serve_platform

from reconciler.backends import AuthorizationRequest, Backend, JobRequest
from reconciler.backends.http_client import HttpClient
from reconciler.backends.lytics import LyticsBackend
from reconciler.catalog import load_catalog
from reconciler.errors import DeleteRefusedError, PermanentBackendError
from reconciler.live import HealthResult, LiveAuthorization, LiveJob
from reconciler.lytics_wire import split_marker
from reconciler.manifest.secrets import SecretValue
from reconciler.vocabulary import Health, JobStatus

TOKEN = "lytics-backend-test-token-3c9a"
CANARY = "CANARY-lytics-backend-0b7e"
SERVER_SETTINGS = "name: served\nbackend: {kind: local, path: .authctl/platform.db}\n"
WORKFLOW = "facebook-audience-populate"
CATALOG = load_catalog()


@pytest.fixture
def server_root(make_workspace: Callable[..., Path]) -> Path:
    return make_workspace({}, settings=SERVER_SETTINGS, name="server")


@pytest.fixture
def served(server_root: Path) -> Iterator[Served]:
    with serve_platform(server_root, token=TOKEN) as running:
        yield running


def backend_on(served: Served, *, page_size: int | None = None, token: str = TOKEN) -> LyticsBackend:
    return LyticsBackend(HttpClient(served.url, SecretValue(token)), CATALOG, page_size=page_size)


def fb(label: str, marker: str | None = None) -> AuthorizationRequest:
    return AuthorizationRequest(provider="facebook", method="system_user", type="fb-system-user", label=label,
                                description="Audience sync", config={"ads_account_id": "act_1234567890"},
                                credentials={"access_token": SecretValue(CANARY)}, marker=marker)


def test_authorizations_round_trip(served: Served) -> None:
    backend = backend_on(served)
    assert isinstance(backend, Backend)
    created = backend.create_authorization(fb("FB prod", marker="authctl-a1"))
    assert (created.provider, created.method, created.type, created.description) == (
        "facebook", "system_user", "fb-system-user", "Audience sync")
    snapshot = backend.snapshot()
    assert snapshot.authorizations == {created.id: created} and snapshot.calls == 3
    found = backend.find_authorization_by_marker("authctl-a1")
    assert found is not None and found.id == created.id
    edited = backend_on(served).update_authorization(created.id, label="FB prod (EU)", description="EU sync")
    assert (edited.id, edited.label, edited.description) == (created.id, "FB prod (EU)", "EU sync")
    with served.client() as api:  # the marker line survives the edit: the object stays provably ours
        raw = api.get("/v2/auth").json()["data"][0]["description"]
    assert split_marker(raw) == ("EU sync", "authctl-a1")
    checked = backend.record_health(created.id, HealthResult(Health.UNHEALTHY, "token revoked"))
    assert (checked.health, checked.health_reason) == (Health.UNHEALTHY, "token revoked")
    counts = backend.request_counts(created.id)
    assert counts is not None and counts.hour >= 1
    assert backend.delete_authorization(created.id) == []
    assert backend.snapshot().authorizations == {}
    with pytest.raises(PermanentBackendError, match="AUTH-NOTFOUND-006"):
        backend.delete_authorization(created.id)
    assert backend.requests_by_auth[created.id] == 4  # health, counts, two deletes: calls that name it
    assert CANARY not in "".join(served.output())


def test_jobs_round_trip(served: Served) -> None:
    backend = backend_on(served)
    first = backend.create_authorization(fb("One"))
    second = backend.create_authorization(fb("Two"))
    job = backend.create_job(JobRequest(name="aud", workflow=WORKFLOW, auth_ids=(first.id,), description="vip",
                                        config={"audiences": ["vip"]}, status=JobStatus.PAUSED, marker="authctl-j1"))
    assert (job.status, job.description, job.config) == (JobStatus.PAUSED, "vip", {"audiences": ["vip"]})
    fresh = backend_on(served)  # knows no ids yet: reads what it needs
    moved = fresh.update_job(job.id, JobRequest(name="aud2", workflow=WORKFLOW, auth_ids=(second.id,)))
    assert (moved.name, moved.auth_ids, moved.config, moved.status) == ("aud2", (second.id,), {}, JobStatus.PAUSED)
    assert fresh.resume_job(job.id).status is JobStatus.RUNNABLE
    found = fresh.find_job_by_marker("authctl-j1")
    assert found is not None and found.id == job.id  # the replace kept the marker line
    assert [r.id for r in fresh.references(second.id)] == [job.id] and fresh.references(first.id) == []
    fresh.delete_job(job.id)
    gone = backend_on(served).get_job(job.id)
    assert gone is not None and gone.status is JobStatus.DELETED
    assert backend.snapshot().jobs == {} and backend.find_job_by_marker("authctl-j1") is None
    assert backend.get_job("no-such-job") is None


def test_paging_reads_everything(served: Served) -> None:
    backend = backend_on(served)
    made = {backend.create_authorization(fb(f"FB {n}")).id for n in range(5)}
    snapshot = backend_on(served, page_size=2).snapshot()
    assert set(snapshot.authorizations) == made and snapshot.calls == 5  # 3 pages of auths, jobs, experiences


def test_the_guarded_platform_refuses_a_delete_in_use(served: Served) -> None:
    backend = backend_on(served)
    used = backend.create_authorization(fb("Used by a job"))
    imported = backend.create_authorization(fb("Used by an experience"))
    job = backend.create_job(JobRequest(name="aud", workflow=WORKFLOW, auth_ids=(used.id,)))
    experience = backend.create_experience("Lookalikes", [imported.id])
    snapshot = backend.snapshot()
    assert [r.id for r in snapshot.active_references(used.id)] == [job.id]
    assert [r.id for r in snapshot.active_references(imported.id)] == [experience.id]
    assert [(r.kind, r.id) for r in backend.references(imported.id)] == [("experience", experience.id)]
    for auth_id in (used.id, imported.id):
        with pytest.raises(DeleteRefusedError, match=rf"DELETE /v2/auth/{auth_id}: 409 .*in use"):
            backend.delete_authorization(auth_id)
    assert set(backend.snapshot().authorizations) == {used.id, imported.id}


def test_the_cascade_platform_reports_the_jobs_it_stopped(server_root: Path) -> None:
    with serve_platform(server_root, token=TOKEN, extra_args=["--cascade"]) as served:
        backend = backend_on(served)
        auth = backend.create_authorization(fb("Cascade"))
        job = backend.create_job(JobRequest(name="aud", workflow=WORKFLOW, auth_ids=(auth.id,)))
        assert backend.delete_authorization(auth.id) == [job.id]
        stopped = backend.get_job(job.id)
        assert stopped is not None and stopped.status is JobStatus.KILLED


def test_creates_whose_answers_are_dropped_are_adopted_not_duplicated(server_root: Path) -> None:
    """Half the creates are done and then answered by a dropped connection: each is found by marker."""
    with serve_platform(server_root, token=TOKEN, extra_args=["--drop-create-rate", "0.5", "--seed", "7"]) as served:
        backend = backend_on(served)
        auths = [backend.create_authorization(fb(f"FB {n}", marker=f"authctl-a{n}")) for n in range(8)]
        jobs = [backend.create_job(JobRequest(name=f"aud{n}", workflow=WORKFLOW, auth_ids=(auths[n].id,),
                                              marker=f"authctl-j{n}")) for n in range(8)]
    lookups = backend.requests_by_kind["GET /v2/auth"] + backend.requests_by_kind["GET /v2/job"]
    assert lookups > 0  # some answers were lost, and looked for
    assert backend.requests_by_kind["POST /v2/auth/{type}"] == 8  # never sent twice: found by marker
    assert backend.requests_by_kind["POST /v2/job/{workflow}"] == 8
    held_auths, held_jobs = read_back(server_root)
    assert sorted(a.id for a in held_auths) == sorted(a.id for a in auths)
    assert sorted(j.id for j in held_jobs) == sorted(j.id for j in jobs)


def read_back(server_root: Path) -> tuple[list[LiveAuthorization], list[LiveJob]]:
    """What the platform holds, read through a fresh fault-free server on the same database."""
    with serve_platform(server_root, token=TOKEN) as served:
        snapshot = backend_on(served).snapshot()
    return list(snapshot.authorizations.values()), list(snapshot.jobs.values())


def test_a_wrong_token_is_refused_without_being_shown(served: Served) -> None:
    with pytest.raises(PermanentBackendError) as caught:
        backend_on(served, token="not-the-token-4411").snapshot()
    assert "the platform refused the API token (401 UNAUTHORIZED-017); check backend.token" in caught.value.message
    assert "not-the-token-4411" not in caught.value.message and TOKEN not in caught.value.message


MANIFESTS = """\
apiVersion: authctl/v1
kind: Authorization
metadata: {name: fb-prod}
spec:
  provider: facebook
  method: system_user
  label: "Facebook Ads (prod)"
  description: "Audience sync"
  config: {ads_account_id: "act_1234567890"}
  credentials: {access_token: {env: FB_TOKEN}}
---
apiVersion: authctl/v1
kind: Job
metadata: {name: fb-audiences}
spec:
  workflow: facebook-audience-populate
  authorizations: [fb-prod]
  state: paused
"""


def test_apply_and_plan_with_the_lytics_backend(served: Served, make_workspace: Callable[..., Path],
                                                run_cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    settings = f"name: client\nbackend: {{kind: lytics, url: '{served.url}', token: {{env: MY_LYTICS_TOKEN}}}}\n"
    root = make_workspace({"fb.yaml": MANIFESTS}, settings=settings, name="client")
    env = {"MY_LYTICS_TOKEN": TOKEN, "FB_TOKEN": CANARY}
    applied = run_cli("apply", "--auto-approve", "-w", root, env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    planned = run_cli("plan", "--detailed-exitcode", "-w", root, env=env)
    assert planned.returncode == 0 and "No changes" in planned.stdout, planned.stdout + planned.stderr
    snapshot = backend_on(served).snapshot()
    (auth,) = snapshot.authorizations.values()
    (job,) = snapshot.jobs.values()
    assert (auth.label, job.status, job.auth_ids) == ("Facebook Ads (prod)", JobStatus.PAUSED, (auth.id,))
    everything = applied.stdout + applied.stderr + planned.stdout + planned.stderr + "".join(served.output())
    assert CANARY not in everything and TOKEN not in everything


def test_an_unreachable_platform_is_one_error_and_exit_1(make_workspace: Callable[..., Path],
                                                         run_cli: Callable[..., subprocess.CompletedProcess[str]]
                                                         ) -> None:
    root = make_workspace({"fb.yaml": MANIFESTS}, settings="backend: {kind: lytics, url: 'http://127.0.0.1:9'}\n")
    result = run_cli("plan", "-w", root, env={"LYTICS_API_TOKEN": TOKEN, "FB_TOKEN": CANARY})
    assert result.returncode == 1
    assert "cannot reach the platform at http://127.0.0.1:9: connection refused" in result.stderr
    assert "Traceback" not in result.stderr and TOKEN not in result.stdout + result.stderr
    missing = run_cli("plan", "-w", root, env={"LYTICS_API_TOKEN": None, "FB_TOKEN": CANARY})
    assert missing.returncode == 1 and "environment variable LYTICS_API_TOKEN is not set" in missing.stderr

