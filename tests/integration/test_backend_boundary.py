"""The backend boundary the OAuth, health, import and HTTP work builds on, on the real embedded platform.

- ``open_backend`` imports a kind's module only when that kind is configured;
- the local backend implements the whole protocol: reauthorize in place, record a
  health result, read request counts, and find what it created by creation marker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.backends import AuthorizationRequest, Backend, JobRequest, Reauthorization
from reconciler.backends.local import LocalBackend
from reconciler.live import HealthResult
from reconciler.manifest.secrets import SecretValue
from reconciler.platform import Platform
from reconciler.vocabulary import Health, JobStatus

CANARY = "canary-9f2b7d-oauth-token"


def _request(label: str, marker: str | None = None) -> AuthorizationRequest:
    return AuthorizationRequest(provider="facebook", method="user_oauth", type=None, label=label,
                                credentials={"access_token": SecretValue("tok")}, marker=marker)


def test_the_local_backend_is_a_backend(platform: Platform) -> None:
    assert isinstance(LocalBackend(platform), Backend)


def test_an_http_only_workspace_does_not_import_the_embedded_platform(tmp_path: Path) -> None:
    """A plan-like snapshot over HTTP (a stdlib server answering empty lists) loads no SQLAlchemy."""
    code = textwrap.dedent(f"""
        import json, sys, threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Empty(BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({{"data": [], "status": 200, "request_id": "r"}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Empty)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        with open({str(tmp_path / "authctl.yaml")!r}, "w") as f:
            f.write("backend: {{kind: lytics, url: 'http://127.0.0.1:%d'}}" % server.server_port)
        from reconciler.backends import open_backend
        from reconciler.catalog import load_catalog
        from reconciler.vocabulary import Access
        from reconciler.workspace import load_workspace
        backend = open_backend(load_workspace({str(tmp_path)!r}), load_catalog(), Access.READ)
        snapshot = backend.snapshot()
        backend.close()
        print(snapshot.calls, sorted(m for m in ("sqlalchemy", "cryptography", "reconciler.platform",
                                                 "reconciler.backends.local") if m in sys.modules))
    """)
    env = {**os.environ, "LYTICS_API_TOKEN": "t0k"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env)
    assert out.stdout.strip() == "3 []", out.stdout + out.stderr


def test_version_imports_nothing_but_the_launcher() -> None:
    code = ("import sys\nfrom reconciler.cli import main\nmain(['--version'])\n"
            "print(sorted(m for m in ('click', 'rich', 'pydantic', 'yaml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["authctl 0.1.0", "[]"]


def test_reauthorize_keeps_the_id_and_the_jobs(platform: Platform) -> None:
    backend = LocalBackend(platform)
    auth = backend.create_authorization(_request("Facebook (Jane)"))
    job = backend.create_job(JobRequest(name="aud", workflow="facebook-audience-populate", auth_ids=(auth.id,)))
    backend.record_health(auth.id, HealthResult(Health.UNHEALTHY, "password changed"))
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    fixed = backend.reauthorize(auth.id, Reauthorization({"access_token": SecretValue(CANARY)},
                                                         scopes=("ads_management",), token_expires_at=expires))
    assert (fixed.id, fixed.health, fixed.health_reason) == (auth.id, Health.HEALTHY, "")
    assert fixed.scopes == ("ads_management",) and fixed.token_expires_at == expires
    assert platform.stored_secrets(auth.id)["credentials"] == {"access_token": CANARY}
    assert backend.snapshot().jobs[job.id].auth_ids == (auth.id,)
    assert CANARY not in repr(fixed)


def test_record_health_keeps_what_the_check_did_not_learn(platform: Platform) -> None:
    backend = LocalBackend(platform)
    auth = backend.create_authorization(_request("Facebook (Jane)"))
    when = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    first = backend.record_health(auth.id, HealthResult(Health.HEALTHY, checked_at=when, scopes=("a", "b"),
                                                        token_expires_at=when + timedelta(days=60)))
    assert (first.health, first.health_checked_at, first.scopes) == (Health.HEALTHY, when, ("a", "b"))
    second = backend.record_health(auth.id, HealthResult(Health.UNHEALTHY, "missing scope ads_management"))
    assert second.health == Health.UNHEALTHY and second.health_reason == "missing scope ads_management"
    assert second.scopes == ("a", "b") and second.token_expires_at == when + timedelta(days=60)
    counts = backend.request_counts(auth.id)
    # each check is a request made with the credential, counted when it was made
    assert counts is not None and (counts.hour, counts.month) == (1, 2)


def test_find_by_creation_marker(platform: Platform) -> None:
    backend = LocalBackend(platform)
    auth = backend.create_authorization(_request("Facebook (Jane)", marker="authctl-m1"))
    backend.create_authorization(_request("Facebook (John)"))  # made without a marker (in the UI)
    job = backend.create_job(JobRequest(name="aud", workflow="facebook-audience-populate", auth_ids=(auth.id,),
                                        marker="authctl-m2"))
    found = backend.find_authorization_by_marker("authctl-m1")
    assert found is not None and found.id == auth.id
    found_job = backend.find_job_by_marker("authctl-m2")
    assert found_job is not None and found_job.id == job.id and found_job.status is JobStatus.RUNNABLE
    assert backend.find_authorization_by_marker("authctl-m2") is None
    assert backend.find_job_by_marker("authctl-nope") is None
    backend.delete_job(job.id)
    assert backend.find_job_by_marker("authctl-m2") is None  # a deleted job is gone


def test_a_marker_is_unique(platform: Platform) -> None:
    from reconciler.errors import PermanentBackendError

    backend = LocalBackend(platform)
    backend.create_authorization(_request("One", marker="authctl-same"))
    with pytest.raises(PermanentBackendError):
        backend.create_authorization(_request("Two", marker="authctl-same"))


def test_plan_on_sqlite_reads_state_and_platform_without_sqlalchemy(tmp_path: Path) -> None:
    """`plan` reads an existing SQLite platform and state store with the stdlib driver only."""
    root = tmp_path / "ws"
    root.mkdir()
    (root / "authctl.yaml").write_text("name: ws\n", encoding="utf-8")
    (root / "a.yaml").write_text(textwrap.dedent("""
        apiVersion: authctl/v1
        kind: Authorization
        metadata: {name: tt}
        spec: {provider: tiktok, method: events_token, label: TikTok,
               credentials: {token: {env: TT_TOKEN}}}
    """), encoding="utf-8")
    env = {"TT_TOKEN": "t0k", "PATH": "/usr/bin:/bin"}
    apply = subprocess.run([sys.executable, "-m", "reconciler", "apply", "--auto-approve", "-w", str(root)],
                           capture_output=True, text=True, env=env)
    assert apply.returncode == 0, apply.stdout + apply.stderr
    code = textwrap.dedent(f"""
        import sys
        from reconciler.cli import main
        code = main(['plan', '--detailed-exitcode', '-w', {str(root)!r}, '--format', 'json'])
        print('exit', code, sorted(m for m in ('sqlalchemy', 'reconciler.state.store', 'reconciler.platform.store')
                                   if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "exit 0 []", out.stdout + out.stderr


def test_the_sqlite_readers_answer_as_the_stores_do(tmp_path: Path) -> None:
    from reconciler.platform import open_platform
    from reconciler.platform.crypto import Sealer, load_or_create_key
    from reconciler.platform.snapshot import SqliteSnapshotReader
    from reconciler.state.records import ManagedObject
    from reconciler.state.sqlite_reader import SqliteStateReader
    from reconciler.state.store import StateStore
    from reconciler.vocabulary import ObjectKind

    db = tmp_path / "platform.db"
    platform = open_platform(f"sqlite:///{db}")
    backend = LocalBackend(platform)
    auth = backend.create_authorization(_request("One", marker="authctl-1"))
    job = backend.create_job(JobRequest(name="aud", workflow="facebook-audience-populate", auth_ids=(auth.id,)))
    backend.pause_job(job.id)
    platform.create_experience(name="exp", auth_ids=[auth.id])
    expected = platform.snapshot()
    key = db.with_name(db.name + ".key")
    reader = SqliteSnapshotReader.open(db, str(db), lambda check: Sealer(load_or_create_key(key)).verify(check, "x"),
                                       lambda: platform)
    assert reader is not None
    assert reader.snapshot() == expected
    assert reader.request_counts(auth.id) == platform.request_counts(auth.id)  # anything else: the full platform
    reader.close()

    state = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}", workspace="ws")
    state.put(ManagedObject(ObjectKind.AUTHORIZATION, "one", auth.id, {"config": "hmac-sha256:x"},
                            datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), {"label": "One"}))
    view = SqliteStateReader.open(tmp_path / "state.db", "state.db", "ws")
    assert view is not None
    assert (view.meta(), view.hmac_key(), view.managed()) == (state.meta(), state.hmac_key(), state.managed())
    with pytest.raises(Exception, match="belongs to workspace 'ws'"):
        SqliteStateReader.open(tmp_path / "state.db", "state.db", "other")
    view.close()
    state.close()
