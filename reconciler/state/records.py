"""The state store's records: plain data that pure code (the planner, the views) reads without a database."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.errors import EnvironmentMismatchError, LineageMismatchError, SchemaVersionError, StateError
from reconciler.vocabulary import JournalOp, JournalPhase, ObjectKind
from reconciler.workspace import WorkspaceIdentity

# The state database layout this authctl writes (state_meta.schema_version).
SCHEMA_VERSION = 1


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
    lineage: str
    serial: int
    workspace: str | None
    schema_version: int

    @classmethod
    def from_rows(cls, rows: dict[str, str]) -> StateMeta:
        return cls(rows["lineage"], int(rows["serial"]), rows.get("workspace") or None, int(rows["schema_version"]))


def recorded_identity(rows: dict[str, str]) -> WorkspaceIdentity:
    return WorkspaceIdentity(rows.get("workspace") or None, rows.get("workspace_root") or None,
                             rows.get("environment") or None)


CLAIM_HINT = ("if this workspace should take the state over on purpose (a renamed or moved workspace), "
              "run `authctl state claim`")


def check_state_meta(rows: dict[str, str], where: str, identity: WorkspaceIdentity | str | None) -> None:
    """Refuse a state store written by a newer authctl, or recorded for another workspace or environment.

    ``identity`` None skips the identity checks (tools and tests that open a store by URL);
    a plain string is a workspace name with no folder or environment to compare.
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
    if "environment" in rows and (recorded.environment or None) != (identity.environment or None):
        raise EnvironmentMismatchError(
            f"the state store {where} was applied with environment {_env_words(recorded.environment)}, "
            f"and this run uses {_env_words(identity.environment)}; refusing, because one environment's plan "
            "against another's state replaces every object that differs",
            hint=_environment_hint(recorded.environment))


def _environment_hint(recorded: str | None) -> str:
    ways = [f"run with --env {recorded}"] if recorded else []
    ways.append("give each environment its own state and backend (environments.NAME.state and "
                "environments.NAME.backend in authctl.yaml)")
    return "; or ".join(ways) + "; to move this state to the environment of this run on purpose, " \
        "run `authctl state claim`"


def _workspace_words(identity: WorkspaceIdentity) -> str:
    if identity.name:
        return f"workspace {identity.name!r}"
    return f"the unnamed workspace at {identity.root}" if identity.root else "an unnamed workspace"


def _env_words(environment: str | None) -> str:
    return repr(environment) if environment else "no environment"


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
