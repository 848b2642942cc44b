"""Helpers for the dashboard's tests (`authctl ui`): a seeded workspace, and the real server started on it.

Importable as ``ui_support`` (pytest puts ``tests/`` on ``sys.path``)::

    seeded = seed_workspace(tmp_path / "ws")             # applied, then changed: see Seeded
    with start_ui(seeded.root) as ui:                     # `authctl ui` on 127.0.0.1, a free port
        client = ui.client()                              # httpx2 client holding the session cookie
        client.get("/authorizations")
        ui.url, ui.token, ui.base_url                     # the printed URL, its token, http://127.0.0.1:PORT
    ui.output()                                           # (stdout, stderr) of the whole run

``seed_workspace`` builds, on the embedded platform (SQLite, as every test workspace), a
world holding everything the pages show. It runs two real CLI commands (``apply``,
``import``); the rest is done on the platform directly, as a person in the platform's UI
would (``apply_support.open_platform_of``, which follows ``backend_modes.use_backend``):

- ``alpha`` (label "Alpha Ads"): managed, job ``alpha-sync``, an imported experience
  ("Spring campaign"), and request counts over the last 30 days (``REQUESTS``: a chart has bars);
- ``beta`` ("Beta Ads"): managed, job ``beta-sync``; its manifest's ``account_id`` is then
  changed, so the plan **replaces** it and moves ``beta-sync``;
- ``hostile`` (label ``HOSTILE_LABEL``, ``<script>...``) and ``hostile2`` (``HOSTILE_LABEL_2``,
  a quote that would close an attribute), managed; ``hostile``'s description changes in the
  manifests, so the plan shows an update;
- ``doomed`` ("Doomed Ads"): applied, then dropped from the manifests with its job, while an
  unmanaged job named ``HOSTILE_JOB`` (started "in the platform's UI") runs on it: the plan's
  delete of ``doomed`` is **BLOCKED** by that job (``Seeded.blocker_job_id``);
- ``pin-oauth`` ("Pinterest Ads (OAuth)"): a Pinterest OAuth connection created on the
  platform, adopted with ``authctl import``, then marked unhealthy (``UNHEALTHY_REASON``):
  its page and the plan say ``authctl reauth pin-oauth``.

Every credential is the canary :data:`CANARY` (tokens of alpha, beta, hostile, hostile2,
doomed; the OAuth grant's access and refresh tokens): no response may ever contain it.

``start_ui`` runs ``python -m reconciler ui -w ROOT --port 0`` as a real subprocess (in its
own session; ``served_support.cli_server``), waits for its one line ``authctl ui: open http://127.0.0.1:PORT/?token=...``,
and on leaving sends SIGTERM and asserts a clean exit (code 0) unless the block raised.
``UiServer.client()`` does what a browser does on the first visit (the token URL, then the
cookie it gets); ``UiServer.anonymous()`` is a client without the cookie.

``in_process(root)`` is the same application without a subprocess, for the many small
requests of the integration tests: the real ``DashboardSource`` over the workspace's real
backend and state, the real app and access guard, driven by Starlette's ``TestClient``
(on ``http://127.0.0.1:PORT``, redirects not followed) whose ``token`` and ``port`` are the
server's. Its data is re-read only when asked (``max_age=0``) unless told otherwise, and the
canary secrets are in ``os.environ`` for the block (the plan compares credentials there).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx2
import yaml

import apply_support
from apply_support import PINTEREST_CAPI_CONFIG, cli_env, documents, job_doc, settings
from cli_runner import run_cli
from served_support import CliServer, cli_server

if TYPE_CHECKING:
    from starlette.testclient import TestClient

    from reconciler.ui import DashboardSource

CANARY = "ui-canary-Zq8xW3vT9pL"  # every secret in the seeded workspace
HOSTILE_LABEL = "<script>alert(1)</script>"
HOSTILE_LABEL_2 = '"><img src=x onerror=alert(2)>'
HOSTILE_JOB = "<img src=x onerror=alert(3)>"
UNHEALTHY_REASON = "refresh token revoked"
EXPERIENCE = "Spring campaign"
# (hours ago, requests) recorded for alpha: this hour, the last day, the last week and the last month.
REQUESTS = ((0, 7), (1, 3), (5, 11), (30, 4), (100, 20), (400, 9))
TOKEN_ENVS = {"alpha": "UI_ALPHA_TOKEN", "beta": "UI_BETA_TOKEN", "hostile": "UI_HOSTILE_TOKEN",
              "hostile2": "UI_HOSTILE2_TOKEN", "doomed": "UI_DOOMED_TOKEN"}
OPEN_LINE = re.compile(r"^authctl ui: open (http://\S+)$", re.MULTILINE)
START_TIMEOUT = 60.0


def _yaml_string(text: str) -> str:
    """``text`` as a YAML double-quoted scalar (JSON's escaping is valid YAML)."""
    import json

    return json.dumps(text, ensure_ascii=False)


def _auth(name: str, label: str, *, account: str = "549755885175", description: str = "") -> str:
    desc = f"  description: {_yaml_string(description)}\n" if description else ""
    return (f"apiVersion: authctl/v1\nkind: Authorization\nmetadata:\n  name: {name}\nspec:\n"
            f"  provider: pinterest\n  method: capi_token\n  label: {_yaml_string(label)}\n{desc}"
            f"  config:\n    account_id: \"{account}\"\n  credentials:\n    token: {{env: {TOKEN_ENVS[name]}}}\n")


def _oauth(name: str, label: str) -> str:
    return (f"apiVersion: authctl/v1\nkind: Authorization\nmetadata:\n  name: {name}\nspec:\n"
            f"  provider: pinterest\n  method: oauth\n  label: {_yaml_string(label)}\n")


def _manifests(*, final: bool) -> str:
    """The first manifests (applied), or the final ones (planned by the dashboard)."""
    docs = [_auth("alpha", "Alpha Ads"), job_doc("alpha-sync", "alpha"),
            _auth("beta", "Beta Ads", account="222222222222" if final else "111111111111"), job_doc("beta-sync", "beta"),
            _auth("hostile", HOSTILE_LABEL, description="edited <b>description</b>" if final else ""),
            job_doc("hostile-sync", "hostile"), _auth("hostile2", HOSTILE_LABEL_2)]
    if final:
        docs.append(_oauth("pin-oauth", "Pinterest Ads (OAuth)"))
    else:
        docs += [_auth("doomed", "Doomed Ads"), job_doc("doomed-sync", "doomed")]
    return documents(*docs)


def secret_env() -> dict[str, str]:
    """The variables the seeded manifests' credentials read: every one holds the canary."""
    return {var: CANARY for var in TOKEN_ENVS.values()}


@dataclass
class Seeded:
    """A seeded workspace (see the module docstring) and the live ids of what is in it."""

    root: Path
    ids: dict[str, str]  # manifest name (and "manual-job", "experience") -> live id
    labels: dict[str, str]  # manifest name -> label

    @property
    def blocked_auth_id(self) -> str:
        """The authorization whose delete the plan blocks (``doomed``)."""
        return self.ids["doomed"]

    @property
    def blocker_job_id(self) -> str:
        """The unmanaged running job (named ``HOSTILE_JOB``) that blocks it."""
        return self.ids["manual-job"]


def _cli(root: Path, *args: str) -> str:
    result = run_cli(*args, "-w", root, cwd=root, env={**secret_env(), "AUTHCTL_PLATFORM_KEY": None}, timeout=120)
    assert result.returncode == 0, (args, result.returncode, result.stdout + result.stderr)
    return result.stdout


def seed_workspace(root: Path, *, name: str = "ui-tests") -> Seeded:
    """Build the world of the module docstring under ``root`` (on the embedded platform; ``kind: local``)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "authctl.yaml").write_text(settings(name), encoding="utf-8")
    (root / "main.yaml").write_text(_manifests(final=False), encoding="utf-8")
    _cli(root, "apply", "--auto-approve")
    world = apply_support.read_world(root)
    ids = {n: world.managed_ids("Authorization")[n] for n in TOKEN_ENVS}
    now = datetime.now(UTC)
    platform = apply_support.open_platform_of(root)
    try:
        config = yaml.safe_load(PINTEREST_CAPI_CONFIG)["config"]
        ids["manual-job"] = platform.create_job(name=HOSTILE_JOB, workflow="pinterest-capi-export",
                                                auth_ids=[ids["doomed"]], config=config, owner="jane@acme.example").id
        ids["experience"] = platform.create_experience(name=EXPERIENCE, auth_ids=[ids["alpha"]]).id
        for hours_ago, count in REQUESTS:
            platform.record_request(ids["alpha"], count, at=now - timedelta(hours=hours_ago))
        ids["pin-oauth"] = platform.create_authorization(
            provider="pinterest", method="oauth", label="Pinterest Ads (OAuth)", type="authctl-pinterest-oauth",
            credentials={"access_token": CANARY, "refresh_token": CANARY, "token_type": "Bearer"},
            token_expires_at=now + timedelta(hours=1), scopes=("ads:read",)).id
    finally:
        platform.close()
    (root / "main.yaml").write_text(_manifests(final=True), encoding="utf-8")
    _cli(root, "import", "pin-oauth", ids["pin-oauth"])
    platform = apply_support.open_platform_of(root)
    try:
        platform.set_health(ids["pin-oauth"], "unhealthy", UNHEALTHY_REASON)
    finally:
        platform.close()
    ids.update({n: world.managed_ids("Job")[n] for n in ("alpha-sync", "beta-sync", "hostile-sync")})
    labels = {"alpha": "Alpha Ads", "beta": "Beta Ads", "hostile": HOSTILE_LABEL, "hostile2": HOSTILE_LABEL_2,
              "doomed": "Doomed Ads", "pin-oauth": "Pinterest Ads (OAuth)"}
    return Seeded(root, ids, labels)


# -- the running server ------------------------------------------------------------------------------------------
@dataclass
class UiServer(CliServer):
    """A running (or finished) ``authctl ui`` (output, stop: served_support.CliServer)."""

    @property
    def base_url(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def port(self) -> int:
        return int(urlsplit(self.url).port or 0)

    @property
    def token(self) -> str:
        return dict(p.split("=", 1) for p in urlsplit(self.url).query.split("&"))["token"]

    def anonymous(self, timeout: float = 30.0) -> httpx2.Client:
        """A client with no cookie (and no redirects followed)."""
        return httpx2.Client(base_url=self.base_url, timeout=timeout, follow_redirects=False)

    def client(self, timeout: float = 30.0) -> httpx2.Client:
        """A client that visited the printed URL, as a browser does first: it holds the session cookie."""
        client = self.anonymous(timeout)
        first = client.get(self.url)
        assert first.status_code == 303, (first.status_code, first.text[:500])
        assert client.cookies, "the token URL set no cookie"
        return client


@contextmanager
def start_ui(root: Path, *, extra_args: Sequence[str] = (), env: Mapping[str, str | None] | None = None
             ) -> Iterator[UiServer]:
    """``authctl ui -w ROOT --port 0 EXTRA_ARGS`` until the block ends (see the module docstring).

    The environment is the tests' (``apply_support.cli_env``: no colour, no platform key from
    the developer) plus the canary secrets (the plan page compares credentials) plus ``env``.
    """
    with cli_server(["ui", "-w", str(root), "--port", "0", *extra_args],
                    environ=cli_env({**secret_env(), **(env or {})}), url_line=OPEN_LINE,
                    make=lambda **kw: UiServer(**kw, what="authctl ui"), start_timeout=START_TIMEOUT) as server:
        yield server


@dataclass
class InProcess:
    """``in_process``'s dashboard: a TestClient without the cookie, and what opens it."""

    client: TestClient
    token: str
    port: int
    source: DashboardSource

    @property
    def token_url(self) -> str:
        return f"/?token={self.token}"

    def login(self) -> TestClient:
        """Trade the token for the cookie, as a browser's first visit does; returns the same client."""
        first = self.client.get(self.token_url)
        assert first.status_code == 303, (first.status_code, first.text[:500])
        return self.client


@contextmanager
def in_process(root: Path, *, port: int = 48080, max_age: float = 0.0) -> Iterator[InProcess]:
    """The dashboard app over ``root``'s backend and state, in this process (see the module docstring)."""
    from starlette.testclient import TestClient

    from reconciler.catalog import load_catalog
    from reconciler.ui import AccessSettings, DashboardSource, create_app
    from reconciler.workspace import load_workspace

    saved = {name: os.environ.get(name) for name in secret_env()}
    os.environ.update(secret_env())
    workspace = load_workspace(root)
    source = DashboardSource(workspace, load_catalog(workspace.provider_dirs()), max_age=max_age)
    try:
        source.load()
        token = secrets.token_urlsafe(32)
        app = create_app(source, AccessSettings.for_server(token, secrets.token_urlsafe(32), "127.0.0.1", port))
        with TestClient(app, base_url=f"http://127.0.0.1:{port}", follow_redirects=False) as client:
            yield InProcess(client, token, port, source)
    finally:
        source.close()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


__all__ = ["CANARY", "EXPERIENCE", "HOSTILE_JOB", "HOSTILE_LABEL", "HOSTILE_LABEL_2", "REQUESTS", "UNHEALTHY_REASON",
           "InProcess", "Seeded", "UiServer", "in_process", "secret_env", "seed_workspace", "start_ui"]
