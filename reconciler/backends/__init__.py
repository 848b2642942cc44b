"""Backends: where live state comes from. ``open_backend`` imports only the configured kind's module.

An HTTP-only run must not import the embedded platform (SQLAlchemy, cryptography): each
kind's module is imported when that kind is opened, never here.
"""

from __future__ import annotations

import getpass
import os
from typing import TYPE_CHECKING

from reconciler.backends.base import (
    AuthorizationRequest,
    Backend,
    CredentialWorker,
    JobRequest,
    PlatformConsole,
    Reauthorization,
)
from reconciler.errors import WorkspaceError
from reconciler.vocabulary import Access

if TYPE_CHECKING:
    from reconciler.catalog import Catalog
    from reconciler.workspace import Workspace

__all__ = ["AuthorizationRequest", "Backend", "CredentialWorker", "JobRequest", "PlatformConsole", "Reauthorization",
           "current_user", "open_backend"]


def current_user() -> str:
    """Who we act as: ``AUTHCTL_USER``, else the login name (shown as Owner)."""
    try:
        return os.environ.get("AUTHCTL_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "authctl"


def open_backend(workspace: Workspace, catalog: Catalog, access: Access) -> Backend:
    """The workspace's backend; :attr:`Access.READ` for commands that must not create anything.

    ``lytics`` reads its API token now (``backend.token``): a missing one is a SecretError
    naming the setting and the variable or file.
    """
    settings = workspace.backend
    if settings.kind == "local":
        from reconciler.backends.local import LocalBackend, open_local_platform

        return LocalBackend(open_local_platform(workspace, catalog, access), owner=current_user(), workspace=workspace,
                            catalog=catalog)
    if settings.kind == "lytics":  # HTTP only: neither SQLAlchemy nor cryptography nor the embedded platform
        from reconciler.backends.lytics import open_lytics_backend

        return open_lytics_backend(workspace, catalog)
    raise WorkspaceError(f"authctl.yaml: backend.kind {settings.kind!r} is not available "
                         "(supported: local, lytics)")
