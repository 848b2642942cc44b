"""Backends: where live state comes from. ``open_backend`` picks one from the workspace."""

from __future__ import annotations

import getpass
import os

from cryptography.fernet import Fernet

from reconciler.backends.base import AuthorizationRequest, Backend, JobRequest, UsageCounts
from reconciler.catalog import Catalog
from reconciler.db import sqlite_path
from reconciler.errors import DatabaseError, WorkspaceError
from reconciler.platform import Platform, open_platform
from reconciler.workspace import DATA_DIR, Workspace

__all__ = ["AuthorizationRequest", "Backend", "JobRequest", "UsageCounts", "current_user", "open_backend",
           "open_local_platform"]


def current_user() -> str:
    """Who we act as: ``AUTHCTL_USER``, else the login name (shown as Owner)."""
    try:
        return os.environ.get("AUTHCTL_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "authctl"


def open_local_platform(workspace: Workspace, catalog: Catalog, *, create: bool = True) -> Platform:
    """The workspace's embedded platform, with the catalog's method/workflow rule.

    With ``create=False`` (plan, status, show: commands that only read) a platform that
    does not exist yet is not created. The default location inside the workspace's
    ``.authctl/`` folder then reads as an empty platform (nothing applied yet, like
    Terraform's missing local state); any other path is a configuration mistake and an
    error, so a typo in ``backend.path`` never plans against nothing.
    """
    settings = workspace.settings.backend
    if settings.kind != "local":
        raise WorkspaceError(f"authctl.yaml: backend.kind is {settings.kind!r}; "
                             "this command needs the embedded platform (backend.kind: local)")

    def workflow_rule(provider: str, method: str, workflow: str) -> bool | None:
        if workflow not in catalog.workflows:
            return None
        spec = catalog.method(provider, method)
        return None if spec is None else spec.supports(workflow)

    url = workspace.resolve_url(settings.path)
    path = sqlite_path(url)
    if not create and path is not None and not path.exists():
        if not path.resolve().is_relative_to(workspace.data_dir.resolve()):
            raise DatabaseError(f"the platform database {path} does not exist; check backend.path in "
                                f"{workspace.settings_path.name} (apply creates it inside {DATA_DIR}/)")
        # Nothing applied yet: an empty in-memory platform, created by the same code.
        return open_platform("sqlite://", mode=settings.mode, workflow_rule=workflow_rule,
                             key=Fernet.generate_key())
    return open_platform(url, mode=settings.mode, workflow_rule=workflow_rule)


def open_backend(workspace: Workspace, catalog: Catalog, *, create: bool = True) -> Backend:
    """The workspace's backend; ``create=False`` for commands that must not create anything."""
    settings = workspace.settings.backend
    if settings.kind == "local":
        from reconciler.backends.local import LocalBackend

        return LocalBackend(open_local_platform(workspace, catalog, create=create), owner=current_user())
    raise WorkspaceError(f"authctl.yaml: backend.kind {settings.kind!r} is not available yet "
                         "(supported: local)")
