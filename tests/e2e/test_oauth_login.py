"""`authctl login` and `authctl reauth` as a person runs them, against a real OAuth server, on both backends.

The CLI runs as a real subprocess (``--no-browser``: it prints the authorization URL on
stderr and waits on its loopback listener); the test plays the browser with
oauth_support.consent/follow against the test provider (authlib's Flask server, a real
subprocess). ``local`` is the embedded platform, ``http`` the same platform served over
the Lytics API shape (backend_modes.use_backend), where login and reauth use the served
platform's OAuth token hand-off endpoints.

Covered: the happy path (the authorization exists with its scopes and expiry, state
manages it, the next plan shows no change for it); a redirect with another state is
refused and nothing is stored; consent denied; a grant missing a scope (a loud warning);
a method that is not OAuth; a workspace without ``oauth_clients`` (the error shows the
lines to add); ``--manual`` with the redirect address pasted on stdin; reauth after the
provider revoked the grant (same id, the job bound to it untouched and still running,
health back to healthy); login refused for a connected name; a changed OAuth config makes
login connect a new one and depose the old (as the plan says). The canary client secret
and the tokens never appear in output, the state database, a plan file or an API answer.
"""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx2
import pytest

from apply_support import cli_env, read_world, settings
from backend_modes import BACKENDS, use_backend
from oauth_support import CANARY_SECRET, consent, follow, overrides_yaml, start_provider

LOGIN_TIMEOUT = 60
URL_LINE = re.compile(r"^(https?://\S+)$")


def pinterest_auth(name: str = "pin", label: str = "Pinterest Ads", description: str = "audiences") -> str:
    return (f"apiVersion: authctl/v1\nkind: Authorization\nmetadata:\n  name: {name}\nspec:\n"
            f"  provider: pinterest\n  method: oauth\n  label: \"{label}\"\n  description: {description}\n")


def pinterest_job(name: str = "pin-export", auth: str = "pin") -> str:
    return (f"apiVersion: authctl/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n"
            f"  workflow: pinterest-export-audience\n  authorizations: [{auth}]\n  state: running\n"
            f"  config: {{pinterest_account_id: '549755885175', segment_id: high_value}}\n")


def workspace_settings(name: str, provider_url: str | None, providers: tuple[str, ...] = ("pinterest",)) -> str:
    return settings(name) + (overrides_yaml(providers, provider_url) if provider_url else "")


class Login:
    """A running `authctl login|reauth ... --no-browser` (or --manual): its URL, then its result.

    stdout and stderr are read by threads from the start (a pipe read partly by the test and
    partly by ``communicate`` would lose what a buffered reader already took).
    """

    def __init__(self, root: Path, *args: str, env: dict[str, str], manual: bool = False) -> None:
        command = [sys.executable, "-m", "reconciler", *args, "--manual" if manual else "--no-browser"]
        self.process = subprocess.Popen(command, cwd=root, env=cli_env(env), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
        self._out: list[str] = []
        self._err: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._readers = [threading.Thread(target=self._read, args=(self.process.stdout, self._out, False)),
                         threading.Thread(target=self._read, args=(self.process.stderr, self._err, True))]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, into: list[str], announce: bool) -> None:  # type: ignore[no-untyped-def]
        for line in iter(stream.readline, ""):
            into.append(line)
            if announce:
                self._lines.put(line)
        if announce:
            self._lines.put(None)

    def url(self) -> str:
        """The authorization URL the command printed on stderr."""
        while True:
            line = self._lines.get(timeout=LOGIN_TIMEOUT)
            if line is None:
                code, out, err = self.finish()
                raise AssertionError(f"no authorization URL printed (exit {code}):\n{err}\n{out}")
            match = URL_LINE.match(line.strip())
            if match:
                return match.group(1)

    def finish(self, stdin: str | None = None) -> tuple[int, str, str]:
        assert self.process.stdin is not None
        try:
            if stdin:
                self.process.stdin.write(stdin)
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        code = self.process.wait(timeout=LOGIN_TIMEOUT)
        for reader in self._readers:
            reader.join(timeout=LOGIN_TIMEOUT)
        return code, "".join(self._out), "".join(self._err)


def run_login(root: Path, *args: str, env: dict[str, str], approve: bool = True,
              grant_scope: str | None = None) -> tuple[int, str, str]:
    """login/reauth NAME with a scripted consent; returns (exit code, stdout, stderr)."""
    login = Login(root, *args, env=env)
    location = consent(login.url(), approve=approve, grant_scope=grant_scope)
    answer = follow(location)
    page = "close this tab" if approve else "did not grant the authorization"
    assert answer.status_code == 200 and page in answer.text and "code=" not in answer.text, answer.text
    return login.finish()


@contextmanager
def provider_and_workspace(make_workspace, tmp_path: Path, name: str, docs: str, *,
                           providers: tuple[str, ...] = ("pinterest",), with_clients: bool = True,
                           **provider_options) -> Iterator[tuple[object, Path, dict[str, str]]]:
    with start_provider(tmp_path / f"provider-{name}", **provider_options) as provider:
        root = make_workspace({"main.yaml": docs},
                              settings=workspace_settings(name, provider.url if with_clients else None, providers),
                              name=name)
        yield provider, root, dict(provider.env)


def cli(run_cli, root: Path, env: dict[str, str], *args: str, expect: int = 0) -> str:
    result = run_cli(*args, cwd=root, env=env, input="")
    assert result.returncode == expect, f"authctl {' '.join(args)} -> {result.returncode}\n{result.stdout}" \
                                        f"{result.stderr}"
    return result.stdout + result.stderr


def tokens_of(root: Path, auth_id: str) -> dict[str, str]:
    return read_world(root, with_secrets=True).secrets[auth_id]["credentials"]


def assert_nothing_stored(root: Path) -> None:
    world = read_world(root)
    assert world.auths == {} and world.managed == {} and world.pending == [], world


def assert_absent(secrets: list[str], *places: tuple[str, str | bytes]) -> None:
    for where, text in places:
        blob = text.encode("utf-8", "replace") if isinstance(text, str) else text
        for secret in secrets:
            assert secret.encode() not in blob, f"a secret leaked into {where}"


# -- the happy path on both backends, with the canary checks --------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_login_stores_the_grant_and_the_next_plan_shows_no_change(make_workspace, run_cli, tmp_path,
                                                                  backend: str) -> None:
    with provider_and_workspace(make_workspace, tmp_path, f"login-{backend}", pinterest_auth()) as (
            provider, root, env):
        with use_backend(root, backend) as where:
            code, out, err = run_login(root, "login", "pin", env=env)
            assert code == 0, out + err
            assert re.search(r"Logged in: Authorization/pin is \w+ \(Pinterest Ads\); scopes: ads:read, ads:write; "
                             r"token expires \d{4}-\d\d-\d\d \d\d:\d\d UTC\.", out), out
            world = read_world(root, with_secrets=True)
            auth = world.auth_of("pin")
            assert (auth.provider, auth.method, auth.label) == ("pinterest", "oauth", "Pinterest Ads")
            assert auth.scopes == ("ads:read", "ads:write") and auth.token_expires_at is not None
            assert auth.marker or "managed by authctl" in auth.description  # the creation marker travelled
            assert world.pending == []  # the create intent was settled by the adoption
            tokens = world.secrets[auth.id]["credentials"]
            assert set(tokens) == {"access_token", "refresh_token", "token_type"}
            assert provider.stats()["token"] == 1

            plan = cli(run_cli, root, env, "plan", "--detailed-exitcode")
            assert "No changes" in plan, plan
            plan_file = root / "plan.json"
            cli(run_cli, root, env, "plan", "-o", str(plan_file))
            state_show = cli(run_cli, root, env, "state", "show", "--format", "json")
            assert "Authorization/pin" in json.loads(state_show)["managed"]
            status = cli(run_cli, root, env, "status")
            shown = cli(run_cli, root, env, "show", "pin", "--format", "json")

            api: list[tuple[str, str]] = []
            if where.served is not None:
                headers = {"Authorization": where.token or ""}
                for path in ("/v2/auth", f"/v2/auth/authctl-pinterest-oauth/{auth.id}"):
                    answer = httpx2.get(f"{where.served.url}{path}", headers=headers, timeout=10)
                    assert answer.status_code == 200, answer.text
                    api.append((f"GET {path}", answer.text))
                assert "authctl-pinterest-oauth" in api[0][1]
            secrets = [CANARY_SECRET, tokens["access_token"], tokens["refresh_token"]]
            assert_absent(secrets, ("login stdout", out), ("login stderr", err), ("plan", plan),
                          ("plan file", plan_file.read_bytes()), ("state show", state_show), ("status", status),
                          ("show", shown), ("state db", (root / ".authctl" / "state.db").read_bytes()),
                          ("served log", where.server_output()), ("provider log", provider.logs()), *api)


# -- refusals: nothing stored ------------------------------------------------------------------------------------
def _with_state(location: str, state: str) -> str:
    parts = urlsplit(location)
    query = [(k, state if k == "state" else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def test_a_redirect_with_another_state_is_refused_and_nothing_is_stored(make_workspace, tmp_path) -> None:
    with provider_and_workspace(make_workspace, tmp_path, "wrong-state", pinterest_auth()) as (_, root, env):
        login = Login(root, "login", "pin", "--timeout", "4", env=env)
        location = consent(login.url())
        forged = follow(_with_state(location, "not-this-logins-state"))
        assert forged.status_code == 400 and "code=" not in forged.text
        code, out, err = login.finish()
        assert code == 1, out + err
        assert "no authorization arrived within 4 s (1 request(s) to the listener were refused" in err, err
        assert "nothing was stored" in err and "Traceback" not in err
        assert_nothing_stored(root)


def test_consent_denied_is_a_clear_error_and_nothing_is_stored(make_workspace, tmp_path) -> None:
    with provider_and_workspace(make_workspace, tmp_path, "denied", pinterest_auth()) as (provider, root, env):
        code, out, err = run_login(root, "login", "pin", env=env, approve=False)
        assert code == 1, out + err
        assert "Error: consent denied at pinterest (access_denied)" in err and "nothing was stored" in err, err
        assert "Traceback" not in err and out == ""
        assert provider.stats()["token"] == 0
        assert_nothing_stored(root)


ACME = """\
name: acme
title: Acme Ads (a test provider with two space-separated scopes)
methods:
  oauth:
    title: Acme login (OAuth)
    kind: oauth2
    lytics_type: null
    oauth:
      authorize_url: https://acme.example/oauth/authorize
      token_url: https://acme.example/oauth/token
      scopes: [ads.read, ads.write]
      pkce: true
    workflows: []
"""


def test_a_grant_missing_a_scope_is_stored_with_a_loud_warning(make_workspace, tmp_path) -> None:
    doc = pinterest_auth("acme-ads", "Acme Ads").replace("provider: pinterest", "provider: acme")
    with start_provider(tmp_path / "provider-acme") as provider:
        root = make_workspace({"main.yaml": doc, "catalog/acme.yaml": ACME},
                              settings=settings("scopes") + "providers: [catalog]\n"
                              + overrides_yaml("acme", provider.url), name="scopes")
        code, out, err = run_login(root, "login", "acme-ads", env=provider.env, grant_scope="ads.read")
        assert code == 0, out + err
        assert "WARNING: acme granted acme-ads without the scope(s) ads.write" in err, err
        assert "authctl reauth acme-ads" in err
        assert "scopes: ads.read;" in out
        assert read_world(root).auth_of("acme-ads").scopes == ("ads.read",)


def test_a_method_that_is_not_oauth_is_refused(make_workspace, run_cli, tmp_path) -> None:
    doc = ("apiVersion: authctl/v1\nkind: Authorization\nmetadata:\n  name: capi\nspec:\n  provider: pinterest\n"
           "  method: capi_token\n  label: CAPI\n  config: {account_id: '549755885175'}\n"
           "  credentials: {token: {env: CAPI_TOKEN}}\n")
    root = make_workspace({"main.yaml": doc}, settings=settings("not-oauth"))
    for command in ("login", "reauth"):
        result = run_cli(command, "capi", "--no-browser", cwd=root)
        assert result.returncode == 1
        if command == "login":
            assert ("Error: capi uses method capi_token (kind token): its credentials come from the manifest; "
                    "login is for OAuth methods") in result.stderr, result.stderr
        else:
            assert "capi is not managed by this workspace" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and "http" not in result.stderr
    assert not (root / ".authctl" / "platform.db").exists() or read_world(root).auths == {}


def test_a_workspace_without_an_oauth_app_is_told_the_lines_to_add(make_workspace, run_cli) -> None:
    root = make_workspace({"main.yaml": pinterest_auth()}, settings=settings("no-client"))
    result = run_cli("login", "pin", "--no-browser", cwd=root)
    assert result.returncode == 1
    assert ("no OAuth app for pinterest: add it to authctl.yaml:\n  oauth_clients:\n    pinterest:\n"
            "      client_id: YOUR_CLIENT_ID\n      client_secret: {env: PINTEREST_CLIENT_SECRET}") in result.stderr
    assert "http" not in result.stderr  # refused before any URL was made
    assert read_world(root).auths == {}


def test_unknown_names_and_jobs_are_refused(make_workspace, run_cli, tmp_path) -> None:
    with provider_and_workspace(make_workspace, tmp_path, "names", pinterest_auth() + "---\n" + pinterest_job()) as (
            _, root, env):
        unknown = run_cli("login", "nope", "--no-browser", cwd=root, env=env)
        assert unknown.returncode == 1 and "no manifest declares an authorization named 'nope'" in unknown.stderr
        job = run_cli("login", "pin-export", "--no-browser", cwd=root, env=env)
        assert job.returncode == 1 and "pin-export is a job" in job.stderr, job.stderr
        wrong_kind = run_cli("login", "Job/pin-export", "--no-browser", cwd=root, env=env)
        assert wrong_kind.returncode == 1 and "act on authorizations" in wrong_kind.stderr


# -- --manual: the redirect address pasted on stdin -----------------------------------------------------------------
def test_manual_reads_the_pasted_redirect_address(make_workspace, tmp_path) -> None:
    with provider_and_workspace(make_workspace, tmp_path, "manual", pinterest_auth()) as (_, root, env):
        login = Login(root, "login", "pin", env=env, manual=True)
        location = consent(login.url())
        assert urlsplit(location).hostname == "127.0.0.1"  # nothing listens there: the browser shows an error
        code, out, err = login.finish(stdin=location + "\n")
        assert code == 0, out + err
        assert "paste the address the browser ends on" in err
        assert read_world(root).auth_of("pin").scopes == ("ads:read", "ads:write")


def test_manual_refuses_a_pasted_address_of_another_login(make_workspace, tmp_path) -> None:
    with provider_and_workspace(make_workspace, tmp_path, "manual-bad", pinterest_auth()) as (_, root, env):
        login = Login(root, "login", "pin", env=env, manual=True)
        location = consent(login.url())
        code, out, err = login.finish(stdin=_with_state(location, "someone-elses") + "\n")
        assert code == 1, out + err
        assert "the pasted address carries another state than this login's" in err, err
        assert_nothing_stored(root)


# -- reauth in place after a revocation, and what login does with a connected name ---------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_reauth_after_a_revocation_keeps_the_id_and_the_job(make_workspace, run_cli, tmp_path, backend: str) -> None:
    docs = pinterest_auth() + "---\n" + pinterest_job()
    with provider_and_workspace(make_workspace, tmp_path, f"reauth-{backend}", docs) as (provider, root, env):
        with use_backend(root, backend):
            code, out, err = run_login(root, "login", "pin", env=env)
            assert code == 0, out + err
            cli(run_cli, root, env, "apply", "--auto-approve")
            before = read_world(root, with_secrets=True)
            auth_id, job = before.auth_of("pin").id, before.job_of("pin-export")
            assert job.auth_ids == (auth_id,) and str(job.status) == "runnable"
            old = before.secrets[auth_id]["credentials"]

            refused = Login(root, "login", "pin", env=env)
            code, out, err = refused.finish()
            assert code == 1 and f"pin is already connected (id {auth_id})" in err and "authctl reauth pin" in err

            assert provider.revoke(refresh_token=old["refresh_token"])["revoked"]
            cli(run_cli, root, env, "platform", "auths", "set-health", "pin", "unhealthy", "--reason",
                "refresh token revoked")
            plan = cli(run_cli, root, env, "plan", "--detailed-exitcode", expect=2)
            assert "run `authctl reauth pin`" in plan, plan

            code, out, err = run_login(root, "reauth", "pin", env=env)
            assert code == 0, out + err
            assert f"Re-authorized Authorization/pin: same id {auth_id} (Pinterest Ads), health healthy" in out, out
            after = read_world(root, with_secrets=True)
            assert set(after.auths) == {auth_id} and str(after.auths[auth_id].health) == "healthy"
            new = after.secrets[auth_id]["credentials"]
            assert new["access_token"] != old["access_token"] and new["refresh_token"] != old["refresh_token"]
            moved = after.job_of("pin-export")
            assert (moved.id, moved.auth_ids, str(moved.status), moved.updated) == (
                job.id, (auth_id,), "runnable", job.updated)  # untouched
            assert after.managed == before.managed
            assert "No changes" in cli(run_cli, root, env, "plan", "--detailed-exitcode")
            assert_absent([CANARY_SECRET, new["access_token"], new["refresh_token"]], ("reauth stdout", out),
                          ("reauth stderr", err))


def test_reauth_of_a_name_not_connected_says_login(make_workspace, run_cli, tmp_path) -> None:
    with provider_and_workspace(make_workspace, tmp_path, "reauth-new", pinterest_auth()) as (_, root, env):
        result = run_cli("reauth", "pin", "--no-browser", cwd=root, env=env)
        assert result.returncode == 1
        assert "pin is not managed by this workspace" in result.stderr and "authctl login pin" in result.stderr


def test_login_after_an_oauth_config_change_connects_a_new_one_and_deposes_the_old(make_workspace, run_cli,
                                                                                    tmp_path) -> None:
    """The plan says `authctl login NAME` (a method change cannot be made in place): login follows it."""
    docs = pinterest_auth() + "---\n" + pinterest_job()
    with provider_and_workspace(make_workspace, tmp_path, "relogin", docs) as (_, root, env):
        code, out, err = run_login(root, "login", "pin", env=env)
        assert code == 0, out + err
        cli(run_cli, root, env, "apply", "--auto-approve")
        old_id = read_world(root).auth_of("pin").id
        # A different provider for the same name: an OAuth connection cannot change it in place.
        (root / "main.yaml").write_text((pinterest_auth() + "---\n" + pinterest_job()).replace(
            "provider: pinterest\n  method: oauth", "provider: snapchat\n  method: oauth").replace(
            "workflow: pinterest-export-audience", "workflow: snapchat-export").replace(
            "config: {pinterest_account_id: '549755885175', segment_id: high_value}", "config: {segment_id: hv}"))
        settings_path = root / "authctl.yaml"
        settings_path.write_text(settings_path.read_text().replace("pinterest", "snapchat"))
        plan = cli(run_cli, root, env, "plan", expect=0)
        assert "run `authctl login pin` to connect a new one" in plan, plan
        reauth = run_cli("reauth", "pin", "--no-browser", cwd=root, env=env)
        assert reauth.returncode == 1 and "cannot change in place" in reauth.stderr, reauth.stderr

        code, out, err = run_login(root, "login", "pin", env=env)
        assert code == 0, out + err
        world = read_world(root)
        new = world.auth_of("pin")
        assert new.id != old_id and new.provider == "snapchat" and new.label.startswith("Pinterest Ads (replacing ")
        assert world.managed[("DeposedAuthorization", old_id)].applied["replaced_by"] == "pin"
        assert f"It replaces {old_id} (now deposed)" in out
        cli(run_cli, root, env, "apply", "--auto-approve")
        world = read_world(root)
        assert set(world.auths) == {new.id} and world.auths[new.id].label == "Pinterest Ads"
        assert world.job_of("pin-export").auth_ids == (new.id,)
        assert "No changes" in cli(run_cli, root, env, "plan", "--detailed-exitcode")

