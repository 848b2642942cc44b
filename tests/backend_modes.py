"""Run an end-to-end test against either backend: the embedded platform, or the same platform over HTTP.

Importable as ``backend_modes`` (pytest puts ``tests/`` on ``sys.path``)::

    @pytest.mark.parametrize("backend", BACKENDS)
    def test_something(make_workspace, run_cli, backend):
        root = make_workspace({...}, settings=settings("name", mode))     # kind: local, as always
        with use_backend(root, backend, mode) as where:
            run_cli("apply", "--auto-approve", cwd=root, env=ENV)          # local, or lytics over HTTP
            world = read_world(root)                                       # the platform's database, directly

``use_backend(root, "local", mode)`` changes nothing. ``use_backend(root, "http", mode)``:

- makes sure the workspace's platform database (``.authctl/platform.db``) exists, then
  serves exactly that database with ``authctl platform serve --path DB`` (``--cascade`` when
  ``mode == "cascade"``) on a free port (served_support.serve_platform), with a random token;
- rewrites ``authctl.yaml``'s ``backend`` to ``{kind: lytics, url: <served>, token: {env:
  LYTICS_API_TOKEN}}`` (everything else kept) and sets ``LYTICS_API_TOKEN`` in ``os.environ``
  for the block, so every ``run_cli``/``start_cli`` subprocess talks to the server;
- on exit stops the server (a clean exit, code 0, is asserted unless the block raised),
  puts the original ``authctl.yaml`` back and restores ``LYTICS_API_TOKEN``.

Inspecting the world: the embedded platform refuses to open a workspace whose backend is
``lytics``, so inside an http block ``apply_support.open_platform_of`` (and with it
``apply_support.read_world``) is pointed at the served database for the block (monkeypatch
style, restored after). Use :func:`open_platform_of` from this module when a test opens the
platform itself: it works in both modes, inside a block or not.

The served platform's stdout/stderr are in ``where.served.output()`` (None for local).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

import apply_support
from reconciler.backends.local import open_local_platform
from reconciler.catalog import load_catalog
from reconciler.db import sqlite_path
from reconciler.platform import Platform
from reconciler.vocabulary import Access
from reconciler.workspace import BackendSettings, load_workspace
from served_support import Served, serve_platform

BACKENDS = ["local", "http"]  # use as @pytest.mark.parametrize("backend", BACKENDS): ids local, http
TOKEN_ENV = "LYTICS_API_TOKEN"
SETTINGS_FILE = "authctl.yaml"

# Workspaces currently served: resolved root -> (database path, delete mode). One test per process at a time.
_SERVED: dict[Path, tuple[Path, str]] = {}
_original_open_platform_of = apply_support.open_platform_of


@dataclass
class BackendMode:
    """What :func:`use_backend` set up: the kind, and for ``http`` the running server and its token."""

    kind: str
    mode: str
    root: Path
    served: Served | None = None  # http: the server (url, token, output()); None for local

    @property
    def token(self) -> str | None:
        return self.served.token if self.served is not None else None

    def server_output(self) -> str:
        """Everything the server wrote so far (stdout then stderr); empty for local."""
        return "".join(self.served.output()) if self.served is not None else ""


def open_platform_of(root: Path) -> Platform:
    """The workspace's platform database, opened directly, whatever backend ``authctl.yaml`` names."""
    served = _SERVED.get(Path(root).resolve())
    if served is None:
        return _original_open_platform_of(root)
    db, mode = served
    workspace = load_workspace(root)
    backend = BackendSettings(kind="local", path=str(db), mode=mode)  # type: ignore[arg-type]
    settings = workspace.settings.model_copy(update={"backend": backend, "environments": {}})
    local = dataclasses.replace(workspace, settings=settings, environment=None)
    return open_local_platform(local, load_catalog(), Access.WRITE)


def _ensure_platform_db(root: Path) -> Path:
    """Create the workspace's embedded platform (database and key file) if nothing was applied yet."""
    workspace = load_workspace(root)
    assert workspace.backend.kind == "local", "use_backend expects a workspace made with kind: local"
    platform = _original_open_platform_of(root)  # Access.WRITE: creates it
    platform.close()
    db = sqlite_path(workspace.resolve_url(workspace.backend.path))
    assert db is not None, f"use_backend serves a SQLite file, not {workspace.backend.path}"
    return db.resolve()


@contextmanager
def use_backend(root: Path, kind: str, mode: str = "guarded", *, extra_args: tuple[str, ...] = ()
                ) -> Iterator[BackendMode]:
    """Run the block with the workspace on ``kind`` ("local" or "http"); see the module docstring.

    ``extra_args`` go to ``authctl platform serve`` (faults, ``--access-log``); http only.
    """
    if kind == "local":
        assert not extra_args, "extra_args are for the served platform (kind http)"
        yield BackendMode(kind, mode, root)
        return
    assert kind == "http", f"unknown backend kind {kind!r}: local or http"
    root = Path(root).resolve()
    db = _ensure_platform_db(root)
    settings_path = root / SETTINGS_FILE
    original = settings_path.read_text(encoding="utf-8")
    token = secrets.token_urlsafe(24)
    args = ["--path", str(db), *(["--cascade"] if mode == "cascade" else []), *extra_args]
    previous_token = os.environ.get(TOKEN_ENV)
    with serve_platform(root, token=token, extra_args=args) as served:
        data = yaml.safe_load(original) or {}
        data["backend"] = {"kind": "lytics", "url": served.url, "token": {"env": TOKEN_ENV}}
        settings_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        os.environ[TOKEN_ENV] = token
        _SERVED[root] = (db, mode)
        apply_support.open_platform_of = open_platform_of  # read_world looks it up at call time
        try:
            yield BackendMode(kind, mode, root, served)
        finally:
            apply_support.open_platform_of = _original_open_platform_of
            _SERVED.pop(root, None)
            if previous_token is None:
                os.environ.pop(TOKEN_ENV, None)
            else:
                os.environ[TOKEN_ENV] = previous_token
            settings_path.write_text(original, encoding="utf-8")


__all__ = ["BACKENDS", "BackendMode", "open_platform_of", "use_backend"]
