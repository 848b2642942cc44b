"""The state store's records: plain data, importable by pure code (the planner) without a database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ManagedObject:
    """An object this workspace manages: its manifest name, live id and applied fingerprints."""

    kind: str  # "Authorization" | "Job"
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
    action: str
    phase: str
    detail: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class StateMeta:
    lineage: str
    serial: int
    workspace: str | None
    schema_version: int
