"""The state store's records: plain data that pure code (the planner, the views) reads without a database."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.errors import LineageMismatchError, SchemaVersionError
from reconciler.vocabulary import JournalOp, JournalPhase, ObjectKind

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


def check_state_meta(rows: dict[str, str], where: str, workspace: str | None) -> None:
    """Refuse a state store written by a newer authctl or belonging to another workspace."""
    version = int(rows.get("schema_version", "0"))
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"the state store {where} was written by a newer authctl "
            f"(state schema {version}, this one knows {SCHEMA_VERSION}); upgrade authctl")
    recorded = rows.get("workspace") or None
    if workspace and recorded and recorded != workspace:
        raise LineageMismatchError(
            f"the state store {where} belongs to workspace {recorded!r} "
            f"(lineage {rows.get('lineage')}), not {workspace!r}; point state.url at this "
            "workspace's own store")


def hmac_key_of(rows: dict[str, str]) -> bytes:
    """The key for fingerprints (generated once per state, never printed)."""
    return base64.b64decode(rows["hmac_key"])


def _json_dict(text: str) -> Any:
    """``json.loads(text)``, without parsing the ``{}`` most state rows hold."""
    return {} if text == "{}" else json.loads(text)


def managed_index(rows: Iterable[tuple[Any, ...]], when: Callable[[Any], Any]) -> ManagedIndex:
    """(kind, name, live_id, fingerprints JSON, applied JSON, applied_at) rows -> the managed index.

    Every plan reads all of it (60,000 rows at scale): rows come as tuples, and the empty
    JSON most rows hold is not parsed.
    """
    kinds = {k.value: k for k in ObjectKind}
    return {(kinds[kind], name): ManagedObject(kinds[kind], name, live_id, _json_dict(fingerprints), when(at),
                                               _json_dict(applied))
            for kind, name, live_id, fingerprints, applied, at in rows}


# Every managed object, keyed by (kind, manifest name): what the planner and the views read.
ManagedIndex = dict[tuple[ObjectKind, str], ManagedObject]
