"""Reading a whole platform in five queries, with or without SQLAlchemy: the hot path of every plan.

``read_snapshot`` takes a ``fetch(sql)`` that yields row tuples, so the same SQL and the
same row -> record code serve the :class:`Platform` (through SQLAlchemy, on any database)
and :class:`SqliteSnapshotReader`: a read-only view of an existing SQLite platform that
never imports SQLAlchemy, which `plan`, `status` and the CI run on every pull request
would otherwise pay about 0.3 s to import. Anything beyond the snapshot opens the full
platform on first use.

The rows are turned into records positionally; SQLite timestamps are read as text
straight into aware UTC, job configs are decoded without ``json.loads``' per-call
overhead, and stored words become :class:`JobStatus` / :class:`Health` with a dict lookup.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from reconciler.clock import as_utc_or_none, utc_from_sqlite_text
from reconciler.db import SqliteReadConnection, describe_failure
from reconciler.errors import DatabaseError, PlatformError
from reconciler.paused_gc import paused_gc
from reconciler.platform.records import (
    SCHEMA_VERSION,
    AuthRecord,
    ExperienceRecord,
    JobRecord,
    PlatformSnapshot,
)
from reconciler.vocabulary import Health, JobStatus

Fetch = Callable[[str], Iterable[tuple[Any, ...]]]
Timestamp = Callable[[Any], datetime | None]


class _Words(dict[str, Any]):
    """Stored word -> enum member: a plain dict lookup (``Enum(value)`` costs several times
    more per row), with a clear error for a word this authctl does not know."""

    def __init__(self, enum: type[StrEnum], what: str) -> None:
        super().__init__((member.value, member) for member in enum)
        self.what = what

    def __missing__(self, word: str) -> Any:
        raise PlatformError(f"the platform database holds an unknown {self.what} {word!r}; "
                            "was it written by a newer authctl?")


JOB_STATUS_OF: dict[str, JobStatus] = _Words(JobStatus, "job status")
HEALTH_OF: dict[str, Health] = _Words(Health, "health")

_scan_json = json.JSONDecoder().scan_once


def json_object(text: str | None) -> Any:
    """``json.loads(text or "{}")``, cheaper for the compact JSON the platform writes."""
    if not text:
        return {}
    try:
        value, end = _scan_json(text, 0)
    except StopIteration:  # leading whitespace, BOM or not JSON: let json.loads decide
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


AUTHORIZATIONS_SQL = ("SELECT id, provider, method, type, label, description, owner, created, updated, health, "
                      "health_reason, health_checked_at, token_expires_at, scopes, marker FROM authorizations")
JOB_LINKS_SQL = "SELECT job_id, auth_id, position FROM job_auths"
JOBS_SQL = "SELECT id, name, workflow, status, description, config, owner, created, updated, marker FROM jobs"
LIVE_JOBS_SQL = JOBS_SQL + f" WHERE status != '{JobStatus.DELETED.value}'"
EXPERIENCE_LINKS_SQL = "SELECT experience_id, auth_id FROM experience_auths"
EXPERIENCES_SQL = "SELECT id, name, status, created FROM experiences"
_HAS_META_SQL = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'platform_meta'"


SnapshotPart = Literal["authorizations", "jobs", "experiences"]
EVERY_PART: tuple[SnapshotPart, ...] = ("authorizations", "jobs", "experiences")


def read_snapshot(fetch: Fetch, ts: Timestamp, *, include_deleted: bool = False,
                  parts: tuple[SnapshotPart, ...] = EVERY_PART) -> PlatformSnapshot:
    """Every authorization, job and experience in five queries, whatever the size.

    ``parts`` reads only some collections (the served platform answers one list at a time);
    the others come back empty and cost no query.
    """
    queries = 0
    auths: list[AuthRecord] = []
    jobs: list[JobRecord] = []
    experiences: list[ExperienceRecord] = []
    with paused_gc():
        if "authorizations" in parts:
            queries += 1
            auths = [
                AuthRecord(id_, provider, method, type_, label, description or "", owner, ts(created), ts(updated),
                           HEALTH_OF[health], health_reason or "", ts(checked_at), ts(expires_at),
                           tuple(scopes.split()) if scopes else (), marker)  # type: ignore[arg-type]
                for (id_, provider, method, type_, label, description, owner, created, updated, health,
                     health_reason, checked_at, expires_at, scopes, marker) in fetch(AUTHORIZATIONS_SQL)
            ]
        if "jobs" in parts:
            queries += 2
            links = job_links(fetch(JOB_LINKS_SQL))
            jobs = [
                JobRecord(id_, name, workflow, JOB_STATUS_OF[status], description or "", json_object(config),
                          links.get(id_, ()), owner, ts(created), ts(updated), marker)  # type: ignore[arg-type]
                for id_, name, workflow, status, description, config, owner, created, updated, marker
                in fetch(JOBS_SQL if include_deleted else LIVE_JOBS_SQL)
            ]
        if "experiences" in parts:
            queries += 2
            exp_links: dict[str, list[str]] = defaultdict(list)
            for exp_id, auth_id in fetch(EXPERIENCE_LINKS_SQL):
                exp_links[exp_id].append(auth_id)
            experiences = [
                ExperienceRecord(id_, name, status, tuple(exp_links.get(id_, ())), ts(created))  # type: ignore
                for id_, name, status, created in fetch(EXPERIENCES_SQL)
            ]
    return PlatformSnapshot(auths, jobs, experiences, queries=queries)


def job_links(rows: Iterable[tuple[Any, ...]]) -> dict[str, tuple[str, ...]]:
    """Every job's authorization ids in binding order.

    Sorted here rather than with ORDER BY job_id, position: SQLite would walk the
    primary-key index and look every row up in the table (three times slower), and
    almost every job has a single binding.
    """
    bound: dict[str, list[tuple[int, str]]] = {}
    for job_id, auth_id, position in rows:
        pairs = bound.get(job_id)
        if pairs is None:
            bound[job_id] = [(position, auth_id)]
        else:
            pairs.append((position, auth_id))
    return {job_id: tuple(a for _, a in (sorted(pairs) if len(pairs) > 1 else pairs))
            for job_id, pairs in bound.items()}


def timestamp_reader(dialect: str) -> Timestamp:
    """How a DateTime column read by plain SQL becomes aware UTC: SQLite gives text, others datetimes."""
    return utc_from_sqlite_text if dialect == "sqlite" else as_utc_or_none


class SqliteSnapshotReader:
    """A read-only view of an existing SQLite platform: snapshots with the stdlib driver.

    ``open_full`` opens the real :class:`Platform` (SQLAlchemy) on the first call of anything
    else, so callers use this exactly like a Platform. Only a database at this authctl's
    schema version whose key checks out is read this way; :meth:`open` says None otherwise
    and the caller opens the full platform, which creates, upgrades or refuses as usual.
    """

    def __init__(self, conn: SqliteReadConnection, open_full: Callable[[], Any]) -> None:
        self._conn = conn
        self._open_full = open_full
        self._full: Any = None

    @classmethod
    def open(cls, path: Path, where: str, verify_key: Callable[[str], None],
             open_full: Callable[[], Any]) -> SqliteSnapshotReader | None:
        conn = SqliteReadConnection(
            path, lambda exc: DatabaseError(describe_failure("the platform database", where, exc, read_only=True)))
        try:
            if conn.read(lambda c: c.execute(_HAS_META_SQL).fetchone()) is None:
                conn.close()
                return None  # no platform tables yet: the full open creates them
            rows = dict(conn.read(lambda c: c.execute("SELECT key, value FROM platform_meta").fetchall()))
        except BaseException:  # (a corrupt or unreadable file is reported as such, not re-opened for writing)
            conn.close()
            raise
        if rows.get("schema_version") != str(SCHEMA_VERSION) or "key_check" not in rows:
            conn.close()
            return None
        try:
            verify_key(rows["key_check"])
        except BaseException:
            conn.close()
            raise
        return cls(conn, open_full)

    def snapshot(self, *, include_deleted: bool = False) -> PlatformSnapshot:
        return self._conn.read(lambda c: read_snapshot(lambda sql: _batched(c.execute(sql)), utc_from_sqlite_text,
                                                       include_deleted=include_deleted))

    def __getattr__(self, name: str) -> Any:
        if self._full is None:
            self._full = self._open_full()
        return getattr(self._full, name)

    def close(self) -> None:
        self._conn.close()
        if self._full is not None:
            self._full.close()


def _batched(cursor: sqlite3.Cursor, size: int = 2_000) -> Iterator[tuple[Any, ...]]:
    while True:
        rows = cursor.fetchmany(size)
        if not rows:
            return
        yield from rows
