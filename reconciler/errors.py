"""The authctl exception tree, and the sink that collects user-facing diagnostics.

User mistakes are collected as :class:`Diagnostic` values (reconciler/diagnostics.py,
re-exported here) in a :class:`DiagnosticSink` so that a loader can keep going and
report every problem at once; only the CLI boundary turns them into exit code 1.
Exceptions are for conditions that stop a command. Messages never contain secret
values: every raise site formats names, never values. :class:`ExitCode` is the one
table of exit codes; an error's code is its class's ``exit_code`` (all
``ExitCode.ERROR`` today).

The tree (``tests/unit/test_errors.py`` keeps this drawing true)::

    AuthctlError                    base; exit code 1 unless stated
    ├── UsageError                  bad command-line usage
    │   ├── PlanFileError           a saved plan file cannot be read back
    │   ├── SnapshotFileError       a live snapshot file cannot be read, or is not for this plan (workspace, age)
    │   ├── ExportOverwriteError    export would overwrite existing files (without --force); nothing written
    │   └── AmbiguousMatchError     import --all-matching cannot tell which live object a manifest means
    ├── WorkspaceError              missing/invalid authctl.yaml or workspace folder
    ├── ManifestError               invalid manifests; carries .diagnostics
    │   └── PolicyError             the manifests break a policy rule of authctl.yaml set as an error
    ├── CatalogError                a broken provider catalog file
    ├── SecretError                 a secret reference that cannot be resolved
    ├── OAuthError                  login, reauth or refresh failed (denied, state or PKCE mismatch, refused grant)
    ├── StalePlanError              a saved plan no longer matches the world; not applied
    ├── DependencyNotReadyError     an apply step's authorization is not available (skipped)
    ├── StateError                  the state store cannot be used
    │   ├── LockHeldError           another process holds the apply lock
    │   ├── LockLostError           the apply's lock ended under it (its PostgreSQL session was closed)
    │   ├── LineageMismatchError    state belongs to another workspace
    │   ├── RecoveryError           an interrupted apply left a step authctl cannot settle by proof
    │   └── SchemaVersionError      database written by a newer authctl
    ├── PlatformError               the embedded platform refused an operation
    │   ├── NotFoundError           no such authorization/job/experience
    │   ├── ConflictError           a rule was broken (immutable field, duplicate label)
    │   ├── ReferencedError         delete refused: active jobs/experiences use it
    │   ├── EncryptionKeyError      the key does not match the stored data
    │   └── DatabaseError           the platform database is locked or unusable
    └── BackendError                a backend call failed
        ├── TemporaryBackendError   retry may help (429, 5xx, timeouts); has .delay
        └── PermanentBackendError   retries are useless (4xx, refused rule)
            └── DeleteRefusedError  a delete refused because something still uses the object
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from reconciler.diagnostics import Diagnostic, Severity, Where  # re-exported: the sink's vocabulary


class ExitCode(IntEnum):
    """Every exit code authctl uses, and what it means to a CI script."""

    OK = 0
    ERROR = 1  # invalid input, a failed call, a refused plan: nothing more to do until someone fixes it
    CHANGES = 2  # plan --detailed-exitcode: changes present; apply: a person must log in or reauthorize
    BLOCKED = 3  # the plan holds blocked actions: it cannot converge
    INTERRUPTED = 130  # Ctrl-C


class AuthctlError(Exception):
    """Base of every error authctl raises on purpose."""

    exit_code = ExitCode.ERROR

    def __init__(self, message: str = "", *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(AuthctlError):
    """Bad command-line usage (unknown option value, missing argument)."""


class PlanFileError(UsageError):
    """A saved plan file cannot be read back (missing, not JSON, wrong version or shape)."""


class SnapshotFileError(UsageError):
    """A live snapshot file (``plan --snapshot``) cannot be read, or belongs to another workspace or is too old."""


class ExportOverwriteError(UsageError):
    """``authctl export -o DIR`` would overwrite files there (without ``--force``); nothing was written."""


class AmbiguousMatchError(UsageError):
    """``authctl import --all-matching`` found manifests and live objects that match in more than one way."""


class WorkspaceError(AuthctlError):
    """The workspace folder or its authctl.yaml cannot be used."""


class ManifestError(AuthctlError):
    """The manifests are invalid; ``diagnostics`` lists every problem found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=_sort_key)
        errors = sum(1 for d in self.diagnostics if d.severity is Severity.ERROR)
        noun = "error" if errors == 1 else "errors"
        super().__init__(f"{errors} {noun} in the manifests")


class PolicyError(ManifestError):
    """The manifests break a rule of ``policy.rules`` in authctl.yaml whose severity is error."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__(diagnostics)
        errors = sum(1 for d in self.diagnostics if d.severity is Severity.ERROR)
        self.message = (f"{errors} policy {'violation' if errors == 1 else 'violations'} of rules set as errors "
                        "(policy.rules in authctl.yaml)")
        self.args = (self.message,)


class CatalogError(AuthctlError):
    """A provider catalog file is broken."""


class SecretError(AuthctlError):
    """A secret reference cannot be resolved (unset variable, unreadable file)."""


class OAuthError(AuthctlError):
    """An OAuth flow failed (denied, state or PKCE mismatch, refused grant, no OAuth app); never holds a token."""


class StalePlanError(AuthctlError):
    """A saved plan no longer matches the manifests, the state or the platform; it was not applied."""


class DependencyNotReadyError(AuthctlError):
    """An apply step needs an authorization that is not available yet; the step is skipped."""


class StateError(AuthctlError):
    """The state store cannot be opened, read or written."""


class LockHeldError(StateError):
    """Another process holds the apply lock."""

    def __init__(self, message: str, *, lock_id: str = "", holder: str = "", hint: str = "") -> None:
        super().__init__(message, hint=hint or f"if that process is gone: authctl force-unlock {lock_id}")
        self.lock_id = lock_id
        self.holder = holder


class LockLostError(StateError):
    """The apply lock ended while the apply ran: another apply may run now, so no further change is made."""


class LineageMismatchError(StateError):
    """The state store belongs to another workspace."""


class RecoveryError(StateError):
    """An interrupted create authctl cannot prove it made or not; the message names the commands to settle it."""


class SchemaVersionError(StateError):
    """A database was written by a newer authctl; we refuse to touch it."""


class PlatformError(AuthctlError):
    """The embedded platform refused an operation."""


class NotFoundError(PlatformError):
    """No authorization, job or experience has that id or label."""


class ConflictError(PlatformError):
    """A platform rule was broken: immutable field, duplicate label, bad binding."""


class ReferencedError(PlatformError):
    """A delete was refused because active jobs or imported experiences use it."""

    def __init__(self, message: str, references: list[object] | None = None) -> None:
        super().__init__(message)
        self.references = list(references or [])


class EncryptionKeyError(PlatformError):
    """The platform encryption key does not match the stored data."""


class DatabaseError(PlatformError):
    """The platform database is locked, unreadable or not a database."""


class BackendError(AuthctlError):
    """A backend call failed."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class TemporaryBackendError(BackendError):
    """A retry may help (429, 5xx, timeouts); ``delay`` is the server's Retry-After."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "",
                 delay: float | None = None) -> None:
        super().__init__(message, status=status, code=code)
        self.delay = delay


class PermanentBackendError(BackendError):
    """Retries are useless (4xx, refused by a platform rule)."""


class DeleteRefusedError(PermanentBackendError):
    """The platform refused a delete because something uses the object (apply reports BLOCKED, exit 3)."""


def _sort_key(diagnostic: Diagnostic) -> tuple[str, int, int]:
    return diagnostic.sort_key


@dataclass
class DiagnosticSink:
    """Collects diagnostics while a loader keeps going after errors.

    ``where`` (instead of ``line``) defers the line lookup until the diagnostic is shown;
    ``rule``, ``subject`` and ``summary`` let alike diagnostics be shown as one group
    (see reconciler/diagnostics.py).
    """

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, message: str, *, file: str = "", line: int = 0, address: str = "", field: str = "",
              rule: str = "", subject: tuple[str, ...] = (), summary: str = "", where: Where | None = None) -> None:
        self.items.append(Diagnostic(file, line, address, field, message, Severity.ERROR, rule=rule,
                                     subject=subject, summary=summary, where=where))

    def warning(self, message: str, *, file: str = "", line: int = 0, address: str = "", field: str = "",
                rule: str = "", subject: tuple[str, ...] = (), summary: str = "", where: Where | None = None) -> None:
        self.items.append(Diagnostic(file, line, address, field, message, Severity.WARNING, rule=rule,
                                     subject=subject, summary=summary, where=where))

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise ManifestError(self.items)
