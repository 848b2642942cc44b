"""The embedded platform: a small authorization registry that behaves like the real ones.

It stores authorizations (credentials encrypted at rest), jobs, imported experiences
and request counters in any SQLAlchemy database, and enforces the platform rules
itself: only label and description are editable, labels are unique, and a delete of an
authorization that an active job or an imported experience uses is refused (or, in
``cascade`` mode, behaves like Lytics and stops those jobs). It keeps each object's
creation marker, so a creator can prove what it made. It knows nothing of the
reconciler: the ``local`` backend and ``authctl platform`` talk to it.

The records are plain data; the store (SQLAlchemy) is imported on first use of
``Platform`` or ``open_platform``, so that reading a SQLite platform's snapshot
(``snapshot.SqliteSnapshotReader``) does not pay for SQLAlchemy.
"""

from typing import Any

from reconciler.platform.records import (
    AuthRecord,
    ExperienceRecord,
    JobRecord,
    PlatformSnapshot,
    RequestCounts,
)

_LAZY = {"Platform": "store", "open_platform": "store", "DeleteMode": "rules", "WorkflowRule": "rules"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reconciler.platform' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"reconciler.platform.{module}"), name)

__all__ = [
    "AuthRecord", "DeleteMode", "ExperienceRecord", "JobRecord", "Platform", "PlatformSnapshot", "RequestCounts",
    "WorkflowRule", "open_platform",
]
