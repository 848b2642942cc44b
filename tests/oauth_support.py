"""Helpers for tests that need a real OAuth provider: start the test server, play the user's browser.

- ``start_provider(tmp_path=None, *, auto_consent=False, latency_ms=0, access_token_seconds=3600,
  client_secret=CANARY_SECRET, client_id="authctl-test", public_client=False)``: context manager
  running ``python -m oauth_provider`` as a real subprocess; yields a :class:`ProviderProcess`.
- ``overrides_yaml(provider_names, url)``: the ``oauth_clients`` + ``provider_overrides`` part of
  ``authctl.yaml`` pointing those providers at the test server.
- ``consent(authorization_url, *, approve=True, grant_scope=None)``: GET the authorize URL, submit
  the consent form, return the ``Location`` of the 302 (not followed).
- ``follow(location)``: GET the loopback redirect like a browser would; returns the response.

Plain functions and context managers, no fixtures, so any test file can use them. The server's
stdout/stderr go to files (never a pipe that could fill up and block it); ``logs()`` reads them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx2

TESTS_DIR = Path(__file__).resolve().parent
SECRET_ENV = "OAUTH_TEST_CLIENT_SECRET"
DEFAULT_CLIENT_ID = "authctl-test"
CANARY_SECRET = "canary-client-secret-5e1f0c2a9d"
LISTENING = "oauth test provider: listening on "
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


class AuthorizationRefused(Exception):
    """The authorize endpoint answered with an error page instead of a redirect (or a form)."""

    def __init__(self, status_code: int, text: str) -> None:
        super().__init__(f"authorize endpoint answered {status_code}: {text[:300]}")
        self.status_code = status_code
        self.text = text


class ProviderProcess:
    """A running test provider: its URL and credentials, and handles on its ``/_test/`` controls."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, client_id: str, client_secret: str,
                 stdout_path: Path, stderr_path: Path) -> None:
        self.process = process
        self.url = url
        self.client_id = client_id
        self.client_secret = client_secret
        self.env: dict[str, str] = {SECRET_ENV: client_secret}
        self._stdout_path = stdout_path
        self._stderr_path = stderr_path
        self._logs: str | None = None

    def _control(self, method: str, path: str, body: dict | None = None) -> dict:
        response = httpx2.request(method, f"{self.url}/_test/{path}", json=body, timeout=10)
        if response.status_code >= 500:
            response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        """Request counts by route (authorize, token, revoke, me, total, by_path) and live_tokens."""
        return self._control("GET", "stats")

    def revoke(self, *, refresh_token: str | None = None, access_token: str | None = None,
               all: bool = False) -> dict:
        """Revoke behind the client's back (a refresh token takes its access tokens with it)."""
        if all:
            return self._control("POST", "revoke", {"all": True})
        body = {"refresh_token": refresh_token} if refresh_token else {"access_token": access_token}
        return self._control("POST", "revoke", body)

    def expire_access_tokens(self) -> dict:
        """Expire every current access token (refresh tokens keep working)."""
        return self._control("POST", "expire")

    def reset(self) -> dict:
        return self._control("POST", "reset")

    def logs(self) -> str:
        """The server's stdout and stderr so far (kept after ``stop``)."""
        if self._logs is not None:
            return self._logs
        return _read(self._stdout_path) + _read(self._stderr_path)

    def stop(self) -> int:
        """SIGTERM, wait up to 10 s, then SIGKILL; returns the exit code. Idempotent."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._logs is None:
            self._logs = _read(self._stdout_path) + _read(self._stderr_path)
        return self.process.returncode


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def provider_command(*, auto_consent: bool = False, latency_ms: int = 0, access_token_seconds: int = 3600,
                     client_id: str = DEFAULT_CLIENT_ID, public_client: bool = False) -> list[str]:
    """The runner's command line (the secret goes in the environment, never here)."""
    command = [sys.executable, "-m", "oauth_provider", "--host", "127.0.0.1", "--port", "0",
               "--client-id", client_id, "--client-secret-env", SECRET_ENV,
               "--access-token-seconds", str(access_token_seconds), "--latency-ms", str(latency_ms)]
    return command + ["--auto-consent"] * auto_consent + ["--public-client"] * public_client


@contextmanager
def start_provider(tmp_path: Path | None = None, *, auto_consent: bool = False, latency_ms: int = 0,
                   access_token_seconds: int = 3600, client_secret: str = CANARY_SECRET,
                   client_id: str = DEFAULT_CLIENT_ID, public_client: bool = False) -> Iterator[ProviderProcess]:
    """Run the test provider in a subprocess for the ``with`` block; logs go under ``tmp_path``."""
    with tempfile.TemporaryDirectory(prefix="oauth-provider-") as scratch:
        folder = Path(tmp_path) if tmp_path is not None else Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        stdout_path, stderr_path = folder / "oauth_provider.stdout", folder / "oauth_provider.stderr"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), env.get("PYTHONPATH")]))
        env[SECRET_ENV] = client_secret
        env["PYTHONUNBUFFERED"] = "1"
        command = provider_command(auto_consent=auto_consent, latency_ms=latency_ms,
                                   access_token_seconds=access_token_seconds, client_id=client_id,
                                   public_client=public_client)
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                       cwd=folder)
        provider = ProviderProcess(process, "", client_id, client_secret, stdout_path, stderr_path)
        try:
            provider.url = _wait_for_url(process, stdout_path, stderr_path)
            yield provider
        finally:
            provider.stop()


def _wait_for_url(process: subprocess.Popen[bytes], stdout_path: Path, stderr_path: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        for line in _read(stdout_path).splitlines():
            if line.startswith(LISTENING):
                return line[len(LISTENING):].strip()
        if process.poll() is not None:
            raise RuntimeError(f"oauth test provider exited with {process.returncode}: {_read(stderr_path)[-2000:]}")
        time.sleep(0.02)
    raise RuntimeError(f"oauth test provider did not start within {START_TIMEOUT} s: {_read(stderr_path)[-2000:]}")


def overrides_yaml(provider_names: Iterable[str] | str, url: str, *, client_id: str = DEFAULT_CLIENT_ID) -> str:
    """``oauth_clients`` and ``provider_overrides`` sending each provider to the test server at ``url``."""
    names = [provider_names] if isinstance(provider_names, str) else list(provider_names)
    base = url.rstrip("/")
    q = json.dumps  # a JSON string is a valid YAML double-quoted scalar

    clients = [f"  {name}: {{client_id: {q(client_id)}, client_secret: {{env: {SECRET_ENV}}}}}" for name in names]
    overrides = [f"  {name}: {{authorization_url: {q(base + '/oauth/authorize')}, token_url: {q(base + '/oauth/token')}, "
                 f"revocation_url: {q(base + '/oauth/revoke')}, api_base_url: {q(base)}}}" for name in names]
    return "\n".join(["oauth_clients:", *clients, "provider_overrides:", *overrides]) + "\n"


class _FormParser(HTMLParser):
    """Collects the first form's action and its named inputs (what a browser would submit)."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: list[tuple[str, str]] = []
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "form" and self.action is None:
            self.action, self._in_form = attributes.get("action", ""), True
        elif tag == "input" and self._in_form and attributes.get("name"):
            self.fields.append((attributes["name"], attributes.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def consent(authorization_url: str, *, approve: bool = True, grant_scope: str | None = None) -> str:
    """Play the user: open the authorize URL, submit the consent form, return the redirect ``Location``.

    With auto-consent (or an error the server redirects) the GET already redirects, and that
    ``Location`` is returned. An error page raises :class:`AuthorizationRefused`.
    """
    with httpx2.Client(follow_redirects=False, timeout=10) as browser:
        page = browser.get(authorization_url)
        if page.status_code in (302, 303):
            return page.headers["Location"]
        if page.status_code != 200:
            raise AuthorizationRefused(page.status_code, page.text)
        form = _FormParser()
        form.feed(page.text)
        if form.action is None:
            raise AuthorizationRefused(page.status_code, "no consent form on the page")
        fields: dict[str, list[str]] = {}
        for key, value in form.fields:
            fields.setdefault(key, []).append(value)
        if grant_scope is not None:
            fields["grant_scope"] = [grant_scope]
        fields["confirm"] = ["yes" if approve else "no"]
        answer = browser.post(urljoin(str(page.url), form.action), data=fields)
        if answer.status_code not in (302, 303):
            raise AuthorizationRefused(answer.status_code, answer.text)
        return answer.headers["Location"]


def follow(location: str) -> httpx2.Response:
    """GET the loopback redirect as the browser would (the waiting CLI's listener answers it)."""
    with httpx2.Client(follow_redirects=False, timeout=10) as browser:
        return browser.get(location)
