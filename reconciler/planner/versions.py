"""Live versions: the digest of the fields of a live object that a plan's preconditions pin."""

from __future__ import annotations

from reconciler.diff import digest
from reconciler.live import LiveAuthorization, LiveJob


def auth_version(live: LiveAuthorization) -> str:
    return digest([live.id, live.provider, live.method, live.label, live.description, str(live.updated)])


def job_version(live: LiveJob) -> str:
    return digest([live.id, live.name, live.workflow, str(live.status), list(live.auth_ids), live.config,
                   live.description])
