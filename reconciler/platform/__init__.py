"""The embedded platform: a small authorization registry that behaves like the real ones.

It stores authorizations (credentials encrypted at rest), jobs, imported experiences
and request counters in any SQLAlchemy database, and enforces the platform rules
itself: only label and description are editable, labels are unique, and a delete of an
authorization that an active job or an imported experience uses is refused (or, in
``cascade`` mode, behaves like Lytics and stops those jobs). It knows nothing of the
reconciler: the ``local`` backend and ``authctl platform`` talk to it.
"""

from reconciler.platform.records import (
    ACTIVE_JOB_STATUSES,
    JOB_STATUSES,
    AuthRecord,
    ExperienceRecord,
    JobRecord,
    PlatformSnapshot,
)
from reconciler.platform.store import Platform, open_platform

__all__ = [
    "ACTIVE_JOB_STATUSES", "JOB_STATUSES", "AuthRecord", "ExperienceRecord", "JobRecord", "Platform",
    "PlatformSnapshot", "open_platform",
]
