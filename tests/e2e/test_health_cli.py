"""`authctl health`, `authctl refresh`, revocation on delete and request counts, as a person runs them.

The CLI runs as a real subprocess against the test OAuth provider (authlib's Flask server,
a subprocess) on both backends: ``local`` (the checks run in the CLI process, beside the
embedded platform) and ``http`` (``authctl platform serve``: the checks run server-side,
where the credentials are). Grants are real (authorization code + PKCE), stored on the
platform as login would and adopted with `authctl import`.

Covered: healthy, the JSON shape and the results shown by `status`/`show`; an expired
token refreshed (rotation stored, the old refresh token refused afterwards); a revoked
grant -> unhealthy -> `plan` shows the reauthorize; a missing scope; an unreachable
provider -> unknown, exit 0 unless ``--fail-on unknown``; `refresh`; revocation when
apply deletes (and a failing revocation: a warning, deleted anyway); request counts and
the hourly series; and the canary client secret and tokens never in any output, the
state, a plan file or the served API's answers and logs.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from apply_support import auth_doc
from backend_modes import BACKENDS, BackendMode, use_backend
from health_support import (
    add_pinterest_auth,
    expire_recorded_token,
    grant,
    pinterest_manifest,
    stored_credentials,
    workspace_settings,
)
from oauth_support import CANARY_SECRET, SECRET_ENV, ProviderProcess, start_provider

JSON_KEYS = {"id", "name", "label", "health", "reason", "checked_at", "scopes_missing"}


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderProcess]:
    with start_provider(tmp_path_factory.mktemp("provider"), auto_consent=True) as running:
        yield running


@pytest.fixture
def env(provider: ProviderProcess, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The client secret in the environment: for the CLI (local) and the served platform (http) alike."""
    monkeypatch.setenv(SECRET_ENV, provider.client_secret)
    provider.reset()
    return {SECRET_ENV: provider.client_secret, "AUTHCTL_USER": "tester", "CAPI_TOKEN": "capi-token-not-a-canary"}


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def managed_workspace(make_workspace, run_cli, provider: ProviderProcess, env: dict[str, str], *,  # type: ignore[no-untyped-def]
                      provider_url: str | None = None, scope: str = "ads:read ads:write",
                      name: str = "ws") -> tuple[Path, str, dict[str, Any]]:
    """A workspace managing Authorization/pin (a real Pinterest grant); returns (root, id, token)."""
    root = make_workspace({"auths.yaml": pinterest_manifest()},
                          workspace_settings("health-cli", provider_url or provider.url), name=name)
    token = grant(provider, scope=scope)
    auth_id = add_pinterest_auth(root, token)
    imported = run_cli("import", "pin", auth_id, cwd=root, env=env)
    assert imported.returncode == 0, imported.stderr
    return root, auth_id, token


def drop_pinterest_oauth(root: Path) -> None:
    """The OAuth authorization leaves the manifests (apply deletes it); a token authorization takes its place."""
    (root / "auths.yaml").write_text(auth_doc("capi", "Pinterest CAPI", "CAPI_TOKEN"), encoding="utf-8")


def health_json(run_cli, root: Path, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:  # type: ignore[no-untyped-def]
    result = run_cli("health", *args, "--format", "json", cwd=root, env=env)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.mark.parametrize("backend", BACKENDS)
def test_health_reports_records_and_fails_on_unhealthy(make_workspace, run_cli, provider, env, backend) -> None:
    root, auth_id, token = managed_workspace(make_workspace, run_cli, provider, env)
    with use_backend(root, backend):
        code, data = health_json(run_cli, root, env)
        assert code == 0 and data["format_version"] == "1"
        [row] = data["authorizations"]
        assert JSON_KEYS <= set(row)
        assert (row["id"], row["name"], row["label"], row["health"], row["reason"], row["scopes_missing"]) == (
            auth_id, "pin", "Pinterest Ads", "healthy", "", [])
        assert row["checked_at"] and data["summary"] == {"healthy": 1, "unhealthy": 0, "unknown": 0}
        shown = json.loads(run_cli("show", "pin", "--format", "json", cwd=root, env=env).stdout)
        assert shown["health"] == "healthy" and shown["health_checked_at"] == row["checked_at"]

        provider.revoke(refresh_token=token["refresh_token"])  # the user removed the app
        failed = run_cli("health", "pin", "--fail-on", "unhealthy", cwd=root, env=env)
        assert failed.returncode == 1, failed.stderr
        assert "Unhealthy (refresh token revoked or expired)" in failed.stdout
        status = run_cli("status", cwd=root, env=env)
        assert "Unhealthy (refresh token revoked or expired)" in status.stdout
        plan = run_cli("plan", cwd=root, env=env)
        assert "authctl reauth pin" in plan.stdout and "refresh token revoked or expired" in plan.stdout, plan.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_expired_token_is_refreshed_and_the_rotated_refresh_token_kept(make_workspace, run_cli, provider, env,
                                                                          backend) -> None:
    root, auth_id, token = managed_workspace(make_workspace, run_cli, provider, env)
    with use_backend(root, backend):
        expire_recorded_token(root, auth_id)
        code, data = health_json(run_cli, root, env)
        [row] = data["authorizations"]
        assert (code, row["health"], row["refreshed"]) == (0, "healthy", True)
        stored = stored_credentials(root, auth_id)
    assert stored["refresh_token"] != token["refresh_token"]
    old = httpx2.post(f"{provider.url}/oauth/token", data={"grant_type": "refresh_token",
                                                           "refresh_token": token["refresh_token"]},
                      auth=(provider.client_id, provider.client_secret), timeout=10)
    assert old.json()["error"] == "invalid_grant"  # the provider refuses the old one: it was rotated


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_missing_scope_is_named(make_workspace, run_cli, provider, env, backend) -> None:
    root, _, _ = managed_workspace(make_workspace, run_cli, provider, env, scope="ads:read")
    with use_backend(root, backend):
        code, data = health_json(run_cli, root, env)
    [row] = data["authorizations"]
    assert (code, row["health"], row["reason"], row["scopes_missing"]) == (0, "unhealthy", "missing scope ads:write",
                                                                           ["ads:write"])


def test_an_unreachable_provider_is_unknown_and_fails_only_on_unknown(make_workspace, run_cli, provider, env) -> None:
    root, _, _ = managed_workspace(make_workspace, run_cli, provider, env, provider_url=closed_port_url())
    code, data = health_json(run_cli, root, env)
    [row] = data["authorizations"]
    assert (code, row["health"], row["reason"]) == (0, "unknown", "provider unreachable (cannot connect)")
    assert run_cli("health", "--fail-on", "unhealthy", cwd=root, env=env).returncode == 0
    text = run_cli("health", "--fail-on", "unknown", cwd=root, env=env)
    assert text.returncode == 1 and "Unknown (provider unreachable (cannot connect))" in text.stdout


def test_scope_of_a_run_names_all_and_refuses_both(make_workspace, run_cli, provider, env) -> None:
    root, auth_id, token = managed_workspace(make_workspace, run_cli, provider, env)
    add_pinterest_auth(root, grant(provider), label="Unmanaged Pinterest")
    _, managed = health_json(run_cli, root, env)
    assert [r["id"] for r in managed["authorizations"]] == [auth_id]
    _, every = health_json(run_cli, root, env, "--all")
    assert sorted(r["label"] for r in every["authorizations"]) == ["Pinterest Ads", "Unmanaged Pinterest"]
    assert {r["name"] for r in every["authorizations"]} == {"pin", None}
    both = run_cli("health", "pin", "--all", cwd=root, env=env)
    assert both.returncode == 1 and "not both" in both.stderr


@pytest.mark.parametrize("backend", BACKENDS)
def test_refresh_command_rotates_and_reports(make_workspace, run_cli, provider, env, backend) -> None:
    root, auth_id, token = managed_workspace(make_workspace, run_cli, provider, env)
    with use_backend(root, backend):
        result = run_cli("refresh", "--format", "json", cwd=root, env=env)
        assert result.returncode == 0, result.stderr
        [row] = json.loads(result.stdout)["authorizations"]
        assert (row["id"], row["outcome"], row["rotated"]) == (auth_id, "refreshed", True)
        lazy = json.loads(run_cli("refresh", "pin", "--if-expiring", "--format", "json", cwd=root, env=env).stdout)
        assert lazy["authorizations"][0]["outcome"] == "not_needed"
        provider.revoke(all=True)
        refused = run_cli("refresh", "pin", cwd=root, env=env)
        assert refused.returncode == 1 and "refresh token revoked or expired" in refused.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_apply_revokes_the_tokens_of_an_oauth_authorization_it_deletes(make_workspace, run_cli, provider, env,
                                                                       backend) -> None:
    root, auth_id, token = managed_workspace(make_workspace, run_cli, provider, env)
    drop_pinterest_oauth(root)
    with use_backend(root, backend):
        applied = run_cli("apply", "--auto-approve", cwd=root, env=env)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert "warning" not in applied.stderr.lower()
    assert provider.stats()["revoke"] == 2
    probe = httpx2.get(f"{provider.url}/v5/user_account", headers={"Authorization": f"Bearer {token['access_token']}"},
                       timeout=10)
    assert probe.status_code == 401


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failed_revocation_is_a_warning_and_the_delete_goes_on(make_workspace, run_cli, provider, env,
                                                                 backend) -> None:
    root, auth_id, token = managed_workspace(make_workspace, run_cli, provider, env)
    settings = root / "authctl.yaml"
    settings.write_text(settings.read_text().replace(f"{provider.url}/oauth/revoke", f"{closed_port_url()}/revoke"))
    drop_pinterest_oauth(root)
    with use_backend(root, backend):
        applied = run_cli("apply", "--auto-approve", cwd=root, env=env)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert f"authorization {auth_id} deleted, but the pinterest tokens were not revoked" in applied.stderr
        status = json.loads(run_cli("status", "--format", "json", cwd=root, env=env).stdout)
        assert [a["label"] for a in status["authorizations"]] == ["Pinterest CAPI"]
    assert token["access_token"] not in applied.stderr and token["refresh_token"] not in applied.stderr


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_provider_request_is_counted_and_show_gives_the_hourly_series(make_workspace, run_cli, provider, env,
                                                                            backend) -> None:
    root, auth_id, _ = managed_workspace(make_workspace, run_cli, provider, env)
    with use_backend(root, backend):
        before = json.loads(run_cli("show", "pin", "--format", "json", cwd=root, env=env).stdout)["requests"]
        expire_recorded_token(root, auth_id)  # the next check refreshes first: two requests
        run_cli("health", cwd=root, env=env)
        after = json.loads(run_cli("show", "pin", "--format", "json", cwd=root, env=env).stdout)["requests"]
    assert after["hour"] == before["hour"] + 2 and after["month"] == before["month"] + 2
    hourly = after["hourly"]
    assert len(hourly) == 720 and hourly[-1]["count"] == after["hour"]  # zero-filled, oldest first
    assert sum(h["count"] for h in hourly) == after["month"]


def test_canary_secret_and_tokens_never_leave_the_platform(make_workspace, run_cli, provider, env) -> None:
    assert provider.client_secret == CANARY_SECRET
    root, auth_id, token = managed_workspace(make_workspace, run_cli, provider, env)
    secrets = [CANARY_SECRET, token["access_token"], token["refresh_token"]]
    seen: list[str] = []
    with use_backend(root, "http") as where:
        expire_recorded_token(root, auth_id)
        for args in (("health",), ("health", "--format", "json"), ("refresh",), ("refresh", "--format", "json"),
                     ("show", "pin", "--format", "json"), ("show", "pin"), ("status", "--format", "json"),
                     ("plan", "-o", "plan.json"), ("plan", "--format", "json"), ("health", "--debug")):
            result = run_cli(*args, cwd=root, env=env)
            seen += [result.stdout, result.stderr]
        current = stored_credentials(root, auth_id)
        secrets += [current["access_token"], current["refresh_token"]]
        with where.served.client() as api:  # type: ignore[union-attr]
            seen += [api.get("/v2/auth").text, api.get(f"/v2/_authctl/auth/{auth_id}/requests").text,
                     api.post("/v2/_authctl/health-check", json={"auth_ids": [auth_id]}).text,
                     api.post("/v2/_authctl/refresh", json={"auth_ids": [auth_id], "force": True}).text]
        final = stored_credentials(root, auth_id)
        secrets += [final["access_token"], final["refresh_token"]]
        seen.append(where.server_output())
    seen += [(root / "plan.json").read_text(), (root / ".authctl" / "state.db").read_bytes().decode("latin-1")]
    seen += [p.read_bytes().decode("latin-1") for p in (root / ".authctl").glob("state.db*")]
    seen.append(provider.logs())
    for secret in secrets:
        assert len(secret) > 16
        assert not any(secret in text for text in seen), "a secret leaked"
    assert os.environ[SECRET_ENV] == CANARY_SECRET


def test_served_platform_checks_on_a_schedule(make_workspace, run_cli, provider, env) -> None:
    root, auth_id, _ = managed_workspace(make_workspace, run_cli, provider, env)
    with use_backend(root, "http", extra_args=("--health-interval", "1s")) as where:
        assert isinstance(where, BackendMode) and where.served is not None
        with where.served.client() as api:
            for _ in range(200):
                [auth] = api.get("/v2/auth").json()["data"]
                if auth["health_checked_at"] and provider.stats()["me"] >= 2:
                    break
                import time

                time.sleep(0.05)
        assert auth["status"] == "healthy" and auth["health_checked_at"]
        assert provider.stats()["me"] >= 2  # at start, then again a second later
