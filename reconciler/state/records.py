"""The state store's records: plain data that pure code (the planner, the views) reads without a database."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.errors import LineageMismatchError, SchemaVersionError, StateError
from reconciler.vocabulary import JournalOp, JournalPhase, ObjectKind
from reconciler.workspace import WorkspaceIdentity

# The state database layout this authctl writes (state_meta.schema_version); schema.py says what changed.
SCHEMA_VERSION = 2

# The namespace of runs without an environment. Every environment's namespace is its name.
DEFAULT_NAMESPACE = ""


def namespace_of(environment: str | None) -> str:
    """The namespace an environment's records live in (its name; the default namespace for none)."""
    return environment or DEFAULT_NAMESPACE


def v1_namespace(rows: dict[str, str], opener: str) -> str:
    """Where a schema 1 store's records belong: the environment it recorded, else the opener's namespace.

    Schema 1 held one environment's records and recorded which at the first apply; a store
    that recorded none yet belongs to whoever uses it first, as it did then.
    """
    if "environment" in rows:
        return rows["environment"] or DEFAULT_NAMESPACE
    return opener


def namespace_words(namespace: str) -> str:
    """A namespace as messages name it."""
    return f"namespace {namespace!r}" if namespace else "the default namespace (no environment)"


@dataclass(frozen=True)
class ManagedObject:
    """An object this workspace manages: its manifest name, live id and applied fingerprints."""

    kind: ObjectKind
    name: str
    live_id: str
    fingerprints: dict[str, str]
    applied_at: datetime
    applied: dict[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class LockInfo:
    lock_id: str
    holder: str
    host: str
    pid: int
    operation: str
    since: datetime

    def describe(self) -> str:
        return (f"held by {self.holder} on {self.host} (pid {self.pid}) for {self.operation} "
                f"since {self.since:%Y-%m-%d %H:%M:%S} UTC, lock id {self.lock_id}")


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    apply_id: str
    address: str
    action: JournalOp
    phase: JournalPhase
    detail: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class StateMeta:
    """The store's lineage and owner, and the serial of the namespace this run uses."""

    lineage: str
    serial: int
    workspace: str | None
    schema_version: int
    namespace: str = DEFAULT_NAMESPACE

    @classmethod
    def from_rows(cls, rows: dict[str, str], *, namespace: str, serial: int) -> StateMeta:
        return cls(rows["lineage"], serial, rows.get("workspace") or None, int(rows["schema_version"]), namespace)


@dataclass(frozen=True)
class NamespaceSummary:
    """One namespace of a store, for `authctl state show`."""

    name: str
    serial: int
    managed: int


def recorded_identity(rows: dict[str, str]) -> WorkspaceIdentity:
    """The workspace a store belongs to (the environment is no part of it: each has its own namespace)."""
    return WorkspaceIdentity(rows.get("workspace") or None, rows.get("workspace_root") or None)


CLAIM_HINT = ("if this workspace should take the state over on purpose (a renamed or moved workspace), "
              "run `authctl state claim`")


def check_state_meta(rows: dict[str, str], where: str, identity: WorkspaceIdentity | str | None) -> None:
    """Refuse a state store written by a newer authctl, or recorded for another workspace.

    ``identity`` None skips the identity check (tools and tests that open a store by URL);
    a plain string is a workspace name with no folder to compare. Environments are not
    compared: each has a namespace of its own in the store (schema.py).
    """
    version = int(rows.get("schema_version", "0"))
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"the state store {where} was written by a newer authctl "
            f"(state schema {version}, this one knows {SCHEMA_VERSION}); upgrade authctl")
    if identity is None:
        return
    if isinstance(identity, str):
        identity = WorkspaceIdentity(identity)
    recorded = recorded_identity(rows)
    other_workspace = recorded.name != identity.name or (
        identity.name is None and None not in (recorded.root, identity.root) and recorded.root != identity.root)
    if other_workspace:
        raise LineageMismatchError(
            f"the state store {where} belongs to {_workspace_words(recorded)} (lineage {rows.get('lineage')}), "
            f"not to {_workspace_words(identity)}; refusing to use it, because planning one workspace against "
            "another's state deletes that workspace's objects",
            hint="point state.url (and backend) at this workspace's own store; " + CLAIM_HINT)


def _workspace_words(identity: WorkspaceIdentity) -> str:
    if identity.name:
        return f"workspace {identity.name!r}"
    return f"the unnamed workspace at {identity.root}" if identity.root else "an unnamed workspace"


def hmac_key_of(rows: dict[str, str]) -> bytes:
    """The key for fingerprints (generated once per state, never printed)."""
    return base64.b64decode(rows["hmac_key"])


def _json_dict(text: str) -> Any:
    """``json.loads(text)``, without parsing the ``{}`` most state rows hold."""
    return {} if text == "{}" else json.loads(text)


def managed_index(rows: Sequence[tuple[Any, ...]], when: Callable[[Any], Any]) -> ManagedIndex:
    """(kind, name, live_id, fingerprints JSON, applied JSON, applied_at) rows -> the managed index.

    Every plan reads all of it (60,000 rows at scale): rows come as tuples, and the empty
    JSON most rows hold is not parsed.
    """
    kinds = {k.value: k for k in ObjectKind}
    try:
        return {(kinds[kind], name): ManagedObject(kinds[kind], name, live_id, _json_dict(fingerprints), when(at),
                                                   _json_dict(applied))
                for kind, name, live_id, fingerprints, applied, at in rows}
    except (KeyError, ValueError, TypeError):  # the fast path failed: find the row and say which it is
        for kind, name, _, fingerprints, applied, at in rows:
            try:
                kinds[kind], _json_dict(fingerprints), _json_dict(applied), when(at)
            except (KeyError, ValueError, TypeError):
                raise StateError(f"the state store holds a damaged record for {str(kind)[:40]!r}/{str(name)[:80]!r}; "
                                 "restore the state store from a backup") from None
        raise


# Every managed object, keyed by (kind, manifest name): what the planner and the views read.
ManagedIndex = dict[tuple[ObjectKind, str], ManagedObject]
