"""The credential worker against the real test OAuth provider (a subprocess) and a real SQLite platform.

Each test makes real grants (authorization code + PKCE), stores them on the platform as
login would, and lets the worker (reconciler/oauth/worker.py) or the local backend check,
refresh and revoke them. Covered: healthy; an expired access token refreshed first (the
rotated refresh token stored, the old one refused by the provider afterwards); a token the
provider says expired while the platform thought it valid; a revoked refresh token; a
missing scope; an unreachable provider; a workspace without an OAuth app; checks in
parallel; request counts; revocation on delete (and a failing revocation as a warning, the
authorization deleted anyway); no revocation when a guarded delete is refused.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from health_support import grant, workspace_settings
from oauth_support import SECRET_ENV, ProviderProcess, overrides_yaml, start_provider

from reconciler.backends.local import LocalBackend
from reconciler.catalog import load_catalog
from reconciler.errors import DeleteRefusedError
from reconciler.oauth.worker import ProviderWorker
from reconciler.platform import Platform, open_platform
from reconciler.vocabulary import Health
from reconciler.workspace import Workspace, load_workspace

CATALOG = load_catalog()


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderProcess]:
    with start_provider(tmp_path_factory.mktemp("provider"), auto_consent=True) as running:
        yield running


@pytest.fixture
def secret_env(provider: ProviderProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, provider.client_secret)
    provider.reset()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def make_workspace(root: Path, text: str) -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    (root / "authctl.yaml").write_text(text, encoding="utf-8")
    return load_workspace(root)


@pytest.fixture
def setup(tmp_path: Path, provider: ProviderProcess, secret_env: None) -> Iterator[tuple[Workspace, Platform]]:
    workspace = make_workspace(tmp_path / "ws", workspace_settings("worker", provider.url))
    platform = open_platform(f"sqlite:///{tmp_path / 'platform.db'}")
    try:
        yield workspace, platform
    finally:
        platform.close()


def store(platform: Platform, token: dict, *, label: str = "Pinterest Ads", expires_at: datetime | None = None,
          scopes: tuple[str, ...] | None = None) -> str:
    credentials = {"access_token": token["access_token"], "refresh_token": token["refresh_token"]}
    expiry = expires_at or datetime.fromtimestamp(float(token["expires_at"]), UTC)
    granted = scopes if scopes is not None else tuple(token["scope"].split())
    return platform.create_authorization(provider="pinterest", method="oauth", label=label, credentials=credentials,
                                         token_expires_at=expiry, scopes=granted).id


def refresh_directly(provider: ProviderProcess, refresh_token: str) -> httpx2.Response:
    return httpx2.post(f"{provider.url}/oauth/token", data={"grant_type": "refresh_token",
                                                            "refresh_token": refresh_token},
                       auth=(provider.client_id, provider.client_secret), timeout=10)


def test_a_valid_grant_is_healthy_and_its_request_is_counted(setup, provider: ProviderProcess) -> None:
    workspace, platform = setup
    auth_id = store(platform, grant(provider))
    [report] = ProviderWorker(platform, CATALOG, workspace).check_health([auth_id])
    assert (report.status, report.reason, report.refreshed, report.requests) == (Health.HEALTHY, "", False, 1)
    record = platform.get_authorization(auth_id)
    assert record.health is Health.HEALTHY and record.health_checked_at is not None
    assert platform.request_counts(auth_id).hour == 1
    assert provider.stats()["me"] == 1


def test_an_expired_access_token_is_refreshed_first_and_the_rotated_refresh_token_stored(setup, provider) -> None:
    workspace, platform = setup
    token = grant(provider)
    auth_id = store(platform, token, expires_at=datetime.now(UTC) - timedelta(minutes=5))
    [report] = ProviderWorker(platform, CATALOG, workspace).check_health([auth_id])
    assert (report.status, report.refreshed, report.requests) == (Health.HEALTHY, True, 2)
    stored = platform.stored_secrets(auth_id)["credentials"]
    assert stored["refresh_token"] != token["refresh_token"] and stored["access_token"] != token["access_token"]
    record = platform.get_authorization(auth_id)
    assert record.token_expires_at is not None and record.token_expires_at > datetime.now(UTC)
    assert record.scopes == ("ads:read", "ads:write")  # kept through the refresh
    assert platform.request_counts(auth_id).hour == 2  # the token exchange and the check
    assert refresh_directly(provider, token["refresh_token"]).json()["error"] == "invalid_grant"  # rotated away
    assert refresh_directly(provider, stored["refresh_token"]).status_code == 200  # the stored one works


def test_a_token_the_provider_says_expired_is_refreshed_and_checked_again(setup, provider) -> None:
    workspace, platform = setup
    auth_id = store(platform, grant(provider))
    provider.expire_access_tokens()
    [report] = ProviderWorker(platform, CATALOG, workspace).check_health([auth_id])
    assert (report.status, report.refreshed, report.requests) == (Health.HEALTHY, True, 3)
    assert platform.request_counts(auth_id).hour == 3


def test_a_revoked_refresh_token_makes_the_authorization_unhealthy(setup, provider) -> None:
    workspace, platform = setup
    token = grant(provider)
    auth_id = store(platform, token)
    provider.revoke(refresh_token=token["refresh_token"])  # the user removed the app: the whole grant
    [report] = ProviderWorker(platform, CATALOG, workspace).check_health([auth_id])
    assert (report.status, report.reason) == (Health.UNHEALTHY, "refresh token revoked or expired")
    record = platform.get_authorization(auth_id)
    assert (record.health, record.health_reason) == (Health.UNHEALTHY, "refresh token revoked or expired")
    assert platform.request_counts(auth_id).hour == 2  # the refused check and the refused refresh


def test_a_missing_scope_is_unhealthy_with_the_scope_named(setup, provider) -> None:
    workspace, platform = setup
    auth_id = store(platform, grant(provider, scope="ads:read"))
    [report] = ProviderWorker(platform, CATALOG, workspace).check_health([auth_id])
    assert (report.status, report.reason, report.scopes_missing) == (Health.UNHEALTHY, "missing scope ads:write",
                                                                     ("ads:write",))
    assert platform.get_authorization(auth_id).scopes == ("ads:read",)


def test_an_unreachable_provider_is_unknown(tmp_path: Path, provider, secret_env) -> None:
    workspace = make_workspace(tmp_path / "ws", workspace_settings("worker", closed_port_url()))
    platform = open_platform(f"sqlite:///{tmp_path / 'platform.db'}")
    try:
        auth_id = store(platform, grant(provider))
        [report] = ProviderWorker(platform, CATALOG, workspace).check_health([auth_id])
        assert (report.status, report.reason) == (Health.UNKNOWN, "provider unreachable (cannot connect)")
        assert platform.get_authorization(auth_id).health is Health.UNKNOWN
        # An expired token cannot be refreshed either: still unknown, never a crash.
        expired = store(platform, grant(provider), label="Expired", expires_at=datetime.now(UTC) - timedelta(hours=1))
        [report] = ProviderWorker(platform, CATALOG, workspace).check_health([expired])
        assert report.status is Health.UNKNOWN and report.reason.startswith("provider unreachable")
    finally:
        platform.close()


def test_without_an_oauth_app_an_expired_token_says_why_it_was_not_refreshed(tmp_path: Path, provider,
                                                                               secret_env) -> None:
    text = workspace_settings("worker", provider.url).replace("oauth_clients:", "unused_clients:", 1)
    text = "\n".join(line for line in text.splitlines() if not line.startswith(("unused_clients", "  pinterest: {cl")))
    workspace = make_workspace(tmp_path / "ws", text + "\n")
    platform = open_platform(f"sqlite:///{tmp_path / 'platform.db'}")
    try:
        auth_id = store(platform, grant(provider))
        provider.expire_access_tokens()
        [report] = ProviderWorker(platform, CATALOG, workspace).check_health([auth_id])
        assert report.status is Health.UNHEALTHY
        assert report.reason == "expired (cannot refresh: no usable OAuth app for pinterest (oauth_clients.pinterest " \
                                "in authctl.yaml))"
    finally:
        platform.close()


def test_checks_run_in_parallel_and_each_is_recorded(setup, provider) -> None:
    workspace, platform = setup
    token = grant(provider)
    ids = [store(platform, token, label=f"Pinterest {n}") for n in range(30)]
    reports = ProviderWorker(platform, CATALOG, workspace).check_health(ids, concurrency=10)
    assert [r.auth_id for r in reports] == ids and {r.status for r in reports} == {Health.HEALTHY}
    assert provider.stats()["me"] == 30
    assert {platform.get_authorization(i).health for i in ids} == {Health.HEALTHY}


def test_two_workers_refreshing_one_grant_never_mark_it_unhealthy(setup, provider) -> None:
    """Rotation: the loser of a refresh race finds the winner's tokens in the store and uses them."""
    workspace, platform = setup
    auth_id = store(platform, grant(provider), expires_at=datetime.now(UTC) - timedelta(minutes=1))
    workers = [ProviderWorker(platform, CATALOG, workspace) for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda w: w.check_health([auth_id])[0], workers))
    assert {r.status for r in reports} == {Health.HEALTHY}
    assert platform.get_authorization(auth_id).health is Health.HEALTHY


def test_refresh_on_demand_rotates_and_reports(setup, provider) -> None:
    workspace, platform = setup
    token = grant(provider)
    auth_id = store(platform, token)
    worker = ProviderWorker(platform, CATALOG, workspace)
    [lazy] = worker.refresh_tokens([auth_id])
    assert lazy.outcome == "not_needed"
    [forced] = worker.refresh_tokens([auth_id], force=True)
    assert (forced.outcome, forced.rotated) == ("refreshed", True)
    provider.revoke(all=True)
    [refused] = worker.refresh_tokens([auth_id], force=True)
    assert (refused.outcome, refused.reason) == ("failed", "refresh token revoked or expired")
    assert platform.get_authorization(auth_id).health is Health.UNHEALTHY


# -- revocation on delete (the local backend) ----------------------------------------------------------
def test_deleting_an_oauth_authorization_revokes_its_tokens_first(setup, provider) -> None:
    workspace, platform = setup
    token = grant(provider)
    auth_id = store(platform, token)
    backend = LocalBackend(platform, workspace=workspace, catalog=CATALOG)
    assert backend.delete_authorization(auth_id) == []
    stats = provider.stats()
    assert stats["revoke"] == 2 and stats["live_tokens"] == 0 and stats["live_refresh_tokens"] == 0
    assert refresh_directly(provider, token["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_revocation_that_fails_is_a_warning_and_the_authorization_is_deleted(
        tmp_path: Path, provider, secret_env, caplog: pytest.LogCaptureFixture) -> None:
    text = workspace_settings("worker", provider.url).replace(f"{provider.url}/oauth/revoke",
                                                              f"{closed_port_url()}/oauth/revoke")
    workspace = make_workspace(tmp_path / "ws", text)
    platform = open_platform(f"sqlite:///{tmp_path / 'platform.db'}")
    try:
        token = grant(provider)
        auth_id = store(platform, token)
        with caplog.at_level(logging.WARNING, logger="reconciler.backends"):
            LocalBackend(platform, workspace=workspace, catalog=CATALOG).delete_authorization(auth_id)
        assert auth_id not in {r.id for r in platform.list_authorizations()}
        [warning] = [r.getMessage() for r in caplog.records if r.name == "reconciler.backends"]
        assert "were not revoked (provider unreachable (cannot connect))" in warning and "revoke the grant" in warning
        assert token["access_token"] not in warning and token["refresh_token"] not in warning
    finally:
        platform.close()


def test_a_refused_guarded_delete_revokes_nothing(setup, provider) -> None:
    workspace, platform = setup
    auth_id = store(platform, grant(provider))
    platform.create_job(name="export", workflow="pinterest-export-audience", auth_ids=[auth_id])
    backend = LocalBackend(platform, workspace=workspace, catalog=CATALOG)
    with pytest.raises(DeleteRefusedError):
        backend.delete_authorization(auth_id)
    assert provider.stats()["revoke"] == 0
    [report] = backend.check_health([auth_id])
    assert report.status is Health.HEALTHY  # its tokens still work


def test_overrides_yaml_is_what_the_worker_reads(provider: ProviderProcess) -> None:
    """A guard on the helper the tests share: every endpoint goes to the test provider."""
    text = overrides_yaml("pinterest", provider.url)
    assert f"{provider.url}/oauth/revoke" in text and f"api_base_url: \"{provider.url}\"" in text


# -- the platform's batch reads and writes the worker uses (SQLite, and PostgreSQL where `make test` runs one) --
def test_batch_reads_and_records_count_requests_and_skip_deleted_ones(p: Platform) -> None:
    first = p.create_authorization(provider="pinterest", method="oauth", label="One",
                                   credentials={"access_token": "a1", "refresh_token": "r1"})
    second = p.create_authorization(provider="pinterest", method="oauth", label="Two", config={"k": "v"})
    loaded = p.stored_authorizations([second.id, "0" * 32, first.id])
    assert [(r.id, s["credentials"], s["config"]) for r, s in loaded] == [
        (second.id, {}, {"k": "v"}), (first.id, {"access_token": "a1", "refresh_token": "r1"}, {})]
    now = datetime.now(UTC).replace(microsecond=0)
    p.record_request(first.id, 1, now)  # an existing bucket is added to, a new one created
    recorded = p.record_health_many([
        {"auth_id": first.id, "status": Health.UNHEALTHY, "reason": "revoked", "checked_at": now, "requests": 2},
        {"auth_id": second.id, "status": Health.HEALTHY, "checked_at": now, "scopes": ("ads:read",),
         "token_expires_at": now + timedelta(hours=1), "requests": 1},
        {"auth_id": "0" * 32, "status": Health.HEALTHY, "checked_at": now, "requests": 1},
    ])
    assert recorded == 2
    one, two = p.get_authorization(first.id), p.get_authorization(second.id)
    assert (one.health, one.health_reason, one.health_checked_at) == (Health.UNHEALTHY, "revoked", now)
    assert (two.health, two.scopes, two.token_expires_at) == (Health.HEALTHY, ("ads:read",), now + timedelta(hours=1))
    assert (p.request_counts(first.id, now).hour, p.request_counts(second.id, now).hour) == (3, 1)
    assert p.request_series(first.id, now) == [(now.replace(minute=0, second=0), 3)]
