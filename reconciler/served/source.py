"""Which platform ``authctl platform serve`` serves: the workspace's, or the database ``--path`` names.

Opened through the local backend's :func:`open_local_platform`, so the served platform
enforces the same catalog workflow rule and finds its key the same way as every other
command. ``--path`` (and a workspace whose own backend is the ``lytics`` API, perhaps this
very server) serve the given database in place of ``backend.path``.
"""

from __future__ import annotations

import dataclasses

from reconciler.backends.local import open_local_platform
from reconciler.catalog import Catalog
from reconciler.platform import Platform
from reconciler.platform.rules import DeleteMode
from reconciler.vocabulary import Access
from reconciler.workspace import BackendSettings, Workspace


def open_served_platform(workspace: Workspace, catalog: Catalog, *, path: str | None,
                         mode: DeleteMode) -> Platform:
    """The platform to serve, created if missing (``path``: a file path or SQLAlchemy URL; None: backend.path)."""
    current = workspace.backend
    backend = BackendSettings(kind="local", path=path or current.path, mode=mode)
    settings = workspace.settings.model_copy(update={"backend": backend, "environments": {}})
    return open_local_platform(dataclasses.replace(workspace, settings=settings, environment=None), catalog,
                               Access.WRITE)
