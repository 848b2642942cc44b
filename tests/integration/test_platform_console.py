"""The PlatformConsole protocol (what `authctl platform ...` does that apply never does), both implementations.

Every test runs twice, through the protocol only: on ``LocalBackend`` over a real embedded
platform (SQLite under ``tmp_path``), and on ``LyticsBackend`` against a real ``authctl
platform serve`` subprocess (HTTP on 127.0.0.1, the ``/v2/_authctl/`` endpoints). Both are
guarded platforms, so an imported experience refuses the delete of what it uses.
A platform without the served endpoints (a real Lytics) refuses the console clearly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import httpx2
import pytest
from served_support import serve_platform

from reconciler.backends import AuthorizationRequest, Backend, JobRequest, PlatformConsole, open_backend
from reconciler.backends.http_client import HttpClient
from reconciler.backends.local import LocalBackend
from reconciler.backends.lytics import LyticsBackend
from reconciler.catalog import load_catalog
from reconciler.errors import DeleteRefusedError, PermanentBackendError, TemporaryBackendError
from reconciler.live import LiveAuthorization
from reconciler.manifest.secrets import SecretValue
from reconciler.platform import Platform
from reconciler.vocabulary import Access, JobStatus
from reconciler.workspace import load_workspace

TOKEN = "platform-console-test-token-71d4"
SERVER_SETTINGS = "name: served\nbackend: {kind: local, path: .authctl/platform.db}\n"
WORKFLOW = "facebook-audience-populate"
CATALOG = load_catalog()


class Console(Backend, PlatformConsole, Protocol):
    """What the fixture yields: both protocols (as `authctl platform ...` will need)."""


@pytest.fixture(params=["local", "served"])
def console(request: pytest.FixtureRequest, make_workspace: Callable[..., Path]) -> Iterator[Console]:
    """The same console on the embedded platform (in process) and on ``authctl platform serve`` (over HTTP)."""
    if request.param == "local":
        platform: Platform = request.getfixturevalue("platform")
        yield LocalBackend(platform)  # the platform fixture closes it
        return
    root = make_workspace({}, settings=SERVER_SETTINGS, name="server")
    with serve_platform(root, token=TOKEN) as served:
        backend = LyticsBackend(HttpClient(served.url, SecretValue(TOKEN)), CATALOG)
        try:
            yield backend
        finally:
            backend.close()


def fb(console: Backend, label: str) -> LiveAuthorization:
    return console.create_authorization(AuthorizationRequest(
        provider="facebook", method="system_user", type="fb-system-user", label=label,
        config={"ads_account_id": "act_1234567890"}, credentials={"access_token": SecretValue("tok")}))


def test_both_backends_are_consoles(console: Console) -> None:
    assert isinstance(console, Backend) and isinstance(console, PlatformConsole)


def test_set_job_status_takes_every_status_word(console: Console) -> None:
    auth = fb(console, "FB prod")
    job = console.create_job(JobRequest(name="aud", workflow=WORKFLOW, auth_ids=(auth.id,)))
    assert JobStatus.parse("running") is JobStatus.RUNNABLE  # the word people use is the API's runnable
    for word in ("running", *(s.value for s in JobStatus), "running"):
        status = JobStatus.parse(word)
        changed = console.set_job_status(job.id, status)
        assert (changed.id, changed.name, changed.auth_ids, changed.status) == (job.id, "aud", (auth.id,), status)
        now = console.get_job(job.id)
        assert now is not None and now.status is status, word
    assert console.snapshot().jobs[job.id].status is JobStatus.RUNNABLE  # back from deleted: listed again


def test_an_experience_is_listed_and_counted_as_a_reference(console: Console) -> None:
    first, second = fb(console, "One"), fb(console, "Two")
    experience = console.create_experience("Lookalikes", (first.id, second.id, first.id))
    assert (experience.name, experience.auth_ids, experience.status) == ("Lookalikes", (first.id, second.id),
                                                                          "imported")
    snapshot = console.snapshot()
    assert snapshot.experiences == {experience.id: experience}
    for auth_id in (first.id, second.id):
        assert [r.id for r in snapshot.active_references(auth_id)] == [experience.id]
        assert [(r.kind, r.id, r.name) for r in console.references(auth_id)] == [
            ("experience", experience.id, "Lookalikes")]


def test_a_guarded_delete_is_refused_because_of_the_experience(console: Console) -> None:
    used, free = fb(console, "Used"), fb(console, "Free")
    experience = console.create_experience("Lookalikes", [used.id])
    with pytest.raises(DeleteRefusedError, match=rf"in use .*experience Lookalikes \({experience.id}\)"):
        console.delete_authorization(used.id)
    assert console.delete_authorization(free.id) == []
    assert set(console.snapshot().authorizations) == {used.id}


def test_unknown_ids_are_permanent_errors_naming_the_id(console: Console) -> None:
    auth = fb(console, "Known")
    with pytest.raises(PermanentBackendError, match="no-such-job") as job_error:
        console.set_job_status("no-such-job", JobStatus.PAUSED)
    with pytest.raises(PermanentBackendError, match="no-such-auth") as auth_error:
        console.create_experience("Lookalikes", [auth.id, "no-such-auth"])
    for caught in (job_error, auth_error):
        assert not isinstance(caught.value, (TemporaryBackendError, DeleteRefusedError))
        assert "has no" not in caught.value.message  # an unknown id, not a missing endpoint
    assert console.snapshot().experiences == {}  # the refused import left nothing behind


def test_a_platform_without_the_served_endpoints_refuses_the_console() -> None:
    """A real Lytics answers /v2/_authctl/... 404 NOTFOUND-003: said as such, never as an unknown id."""

    def lytics(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(404, json={"errors": [{"code": "NOTFOUND-003", "message": "not found"}],
                                          "status": 404, "request_id": "r"})

    backend = LyticsBackend(HttpClient("http://127.0.0.1:8765", SecretValue(TOKEN),
                                       transport=httpx2.MockTransport(lytics)), CATALOG)
    with pytest.raises(PermanentBackendError, match=r"^this platform has no job status endpoint \(authctl's served "
                                                    r"platform has\): PUT /v2/_authctl/job/j1/status: 404"):
        backend.set_job_status("j1", JobStatus.PAUSED)
    with pytest.raises(PermanentBackendError, match=r"^this platform has no experience endpoint"):
        backend.create_experience("Lookalikes", ["a1"])


@pytest.mark.parametrize("settings", ["backend: {kind: local}\n",
                                      "backend: {kind: lytics, url: 'http://127.0.0.1:8765'}\n"])
def test_the_configured_backend_is_a_console(settings: str, make_workspace: Callable[..., Path],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """What `authctl platform ...` will open: the workspace's backend, whichever kind."""
    monkeypatch.setenv("LYTICS_API_TOKEN", TOKEN)
    backend = open_backend(load_workspace(make_workspace({}, settings=settings)), CATALOG, Access.WRITE)
    try:
        assert isinstance(backend, PlatformConsole)
    finally:
        backend.close()
