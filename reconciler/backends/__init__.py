"""Backends: where live state comes from. ``open_backend`` picks one from the workspace."""

from __future__ import annotations

import getpass
import os

from reconciler.backends.base import AuthorizationRequest, Backend, JobRequest, UsageCounts
from reconciler.catalog import Catalog
from reconciler.errors import WorkspaceError
from reconciler.platform import Platform, open_platform
from reconciler.workspace import Workspace

__all__ = ["AuthorizationRequest", "Backend", "JobRequest", "UsageCounts", "current_user", "open_backend",
           "open_local_platform"]


def current_user() -> str:
    """Who we act as: ``AUTHCTL_USER``, else the login name (shown as Owner)."""
    try:
        return os.environ.get("AUTHCTL_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "authctl"


def open_local_platform(workspace: Workspace, catalog: Catalog) -> Platform:
    """The workspace's embedded platform, with the catalog's method/workflow rule."""
    settings = workspace.settings.backend
    if settings.kind != "local":
        raise WorkspaceError(f"authctl.yaml: backend.kind is {settings.kind!r}; "
                             "this command needs the embedded platform (backend.kind: local)")

    def workflow_rule(provider: str, method: str, workflow: str) -> bool | None:
        if workflow not in catalog.workflows:
            return None
        spec = catalog.method(provider, method)
        return None if spec is None else spec.supports(workflow)

    return open_platform(workspace.resolve_url(settings.path), mode=settings.mode, workflow_rule=workflow_rule)


def open_backend(workspace: Workspace, catalog: Catalog) -> Backend:
    settings = workspace.settings.backend
    if settings.kind == "local":
        from reconciler.backends.local import LocalBackend

        return LocalBackend(open_local_platform(workspace, catalog), owner=current_user())
    raise WorkspaceError(f"authctl.yaml: backend.kind {settings.kind!r} is not available yet "
                         "(supported: local)")
