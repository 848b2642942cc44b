"""The words the platform, the planner, the state store and the views share, defined once.

String enums (``StrEnum``: the value is what is stored, sent and printed) with the
predicates callers need, so that no module spells out a status set of its own. The
embedded platform imports this module too: it is the one piece of the reconciler it
shares, besides errors and database helpers.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """A job's status as the Lytics API reports it (``runnable`` is what people call running)."""

    RUNNABLE = "runnable"
    SLEEPING = "sleeping"
    PAUSED = "paused"
    PAUSING = "pausing"
    INITIALIZING = "initializing"
    RESUMING = "resuming"
    COMPLETED = "completed"
    FAULT = "fault"
    FAILED = "failed"
    KILLED = "killed"
    DELETED = "deleted"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, text: str) -> JobStatus:
        """The status for an API word or its display word (``running``); ValueError otherwise."""
        status = _STATUS_BY_WORD.get(text)
        if status is None:
            raise ValueError(f"unknown job status {text!r} (statuses: {', '.join(s.value for s in cls)})")
        return status

    @property
    def is_active(self) -> bool:
        """Still uses its authorizations: deleting one of them would break the job."""
        return self in _ACTIVE

    @property
    def is_running(self) -> bool:
        """Running or on its way there (a pause would change it)."""
        return self in _RUNNING

    @property
    def is_paused(self) -> bool:
        return self == JobStatus.PAUSED or self == JobStatus.PAUSING

    @property
    def display(self) -> str:
        """The word people see: the UI says running where the API says runnable."""
        return "running" if self == JobStatus.RUNNABLE else self.value


_RUNNING = frozenset({JobStatus.RUNNABLE, JobStatus.SLEEPING, JobStatus.INITIALIZING, JobStatus.RESUMING})
_ACTIVE = _RUNNING | {JobStatus.PAUSED, JobStatus.PAUSING}
_STATUS_BY_WORD = {s.value: s for s in JobStatus} | {"running": JobStatus.RUNNABLE}
ACTIVE_JOB_STATUSES = frozenset(_ACTIVE)


class Health(StrEnum):
    """Whether an authorization's credentials work; ordered so the worst sorts last."""

    HEALTHY = "healthy"
    UNKNOWN = "unknown"
    UNHEALTHY = "unhealthy"

    @property
    def severity(self) -> int:
        return _HEALTH_SEVERITY[self]

    def is_worse_than(self, other: Health) -> bool:
        return self.severity > other.severity


_HEALTH_SEVERITY = {Health.HEALTHY: 0, Health.UNKNOWN: 1, Health.UNHEALTHY: 2}


class ObjectKind(StrEnum):
    """What the state store keeps, keyed by (kind, manifest name)."""

    AUTHORIZATION = "Authorization"
    JOB = "Job"
    # The old half of a replace whose delete has not happened yet (Terraform's "deposed"
    # object): keyed by its live id and planned as a guarded delete until it is gone.
    DEPOSED_AUTHORIZATION = "DeposedAuthorization"

    @classmethod
    def of_address_prefix(cls, text: str) -> ObjectKind | None:
        """The kind a person names before ``/`` in an address (``job/x`` as well as ``Job/x``), or None."""
        return _ADDRESS_KINDS.get(text.casefold())


_ADDRESS_KINDS = {"authorization": ObjectKind.AUTHORIZATION, "job": ObjectKind.JOB}


class JournalOp(StrEnum):
    """The platform call a journal entry is about (recovery decides by it)."""

    CREATE = "create"
    REPLACE_CREATE = "replace-create"
    UPDATE = "update"
    RENAME = "rename"
    DELETE = "delete"
    REPLACE_DELETE = "replace-delete"
    CREATE_JOB = "create-job"
    UPDATE_JOB = "update-job"
    DELETE_JOB = "delete-job"
    REPLACE_DELETE_JOB = "replace-delete-job"
    FORGET = "forget"  # only state changes: the object was already gone
    ADOPT = "adopt"  # login, import or reauth recorded an object in state
    IMPORT = "import"  # `authctl import`: a person says a live object is this manifest's
    CLAIM = "claim"  # `authctl state claim`: the state's workspace identity was changed on purpose
    SETTLE = "settle"  # `authctl state settle`: a person closed an intent recovery could not prove
    ERROR = "error"  # a step failed in a way that may have left its call half done

    @property
    def creates(self) -> bool:
        return self in (JournalOp.CREATE, JournalOp.REPLACE_CREATE, JournalOp.CREATE_JOB)


class JournalPhase(StrEnum):
    """Where a journal entry stands: an intent is closed by exactly one outcome."""

    INTENT = "intent"
    DONE = "done"
    FAILED = "failed"
    BLOCKED = "blocked"
    RECOVERED = "recovered"
    ADOPTED = "adopted"
    DISRUPTED = "disrupted"  # a delete went through, and the platform stopped jobs that started meanwhile
    FORGOTTEN = "forgotten"


class Access(StrEnum):
    """How a command opens the platform and the state store.

    ``READ`` (plan, status, show) never creates anything: a missing default database reads
    as empty. ``WRITE`` (apply, adopt) creates what is missing.
    """

    READ = "read"
    WRITE = "write"
