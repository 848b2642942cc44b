"""Rows <-> records for the embedded platform: timestamps, JSON, prepared statements.

Split from store.py so the store reads as the platform's rules and nothing else. The
bulk readers here are the hot path of every snapshot (see benchmarks/snapshot_scale.py):
they read SQLite timestamps as text straight into aware UTC datetimes and decode the
compact JSON the platform writes without ``json.loads``' per-call overhead.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Result, Row, String, bindparam, insert, select, type_coerce
from sqlalchemy.exc import SQLAlchemyError

from reconciler.db import redact_url
from reconciler.errors import ConflictError
from reconciler.platform import schema as t
from reconciler.platform.records import JOB_STATUSES, AuthRecord, JobRecord


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def utc(value: datetime | None) -> datetime | None:
    """Everything we store and hand out is timezone-aware UTC.

    SQLite returns naive datetimes (stored as UTC wall time, without offset); PostgreSQL
    returns them in the session's time zone. Values going in are converted too: SQLite
    would otherwise store another zone's wall time as if it were UTC.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def utc_from_sqlite_text(text: str | None) -> datetime | None:
    """A SQLite DATETIME as stored by SQLAlchemy (naive UTC wall time) -> aware UTC.

    The same value as ``utc(datetime.fromisoformat(text))`` (SQLAlchemy's own SQLite
    result processor), without the slow ``replace(tzinfo=...)`` per value.
    """
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text + "+00:00")
    except ValueError:  # not naive text after all: take the long way
        return utc(datetime.fromisoformat(text))


def as_text(column: Any) -> Any:
    return type_coerce(column, String).label(column.key)


def same(column: Any) -> Any:
    return column


def timestamp_reading(conn: Connection) -> tuple[Callable[[Any], Any], Callable[[Any], datetime | None]]:
    """(how to select a DateTime column, how to turn the value into aware UTC) for bulk reads."""
    if conn.dialect.name == "sqlite":
        return as_text, utc_from_sqlite_text
    return same, utc


scan_json = json.JSONDecoder().scan_once


def json_object(text: str | None) -> Any:
    """``json.loads(text or "{}")``, cheaper for the compact JSON the platform writes."""
    if not text:
        return {}
    try:
        value, end = scan_json(text, 0)
    except StopIteration:  # leading whitespace, BOM or not JSON: let json.loads decide
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def new_id() -> str:
    return uuid.uuid4().hex


# Statements of the create path (one apply makes thousands of calls), built once with bound
# parameters: building them with literal values per call costs more than executing them.
INSERT_AUTH = insert(t.authorizations)
INSERT_JOB = insert(t.jobs)
INSERT_JOB_AUTH = insert(t.job_auths)
LABEL_HOLDER = select(t.authorizations.c.id).where(t.authorizations.c.label_key == bindparam("label_key"))
LABEL_HOLDER_EXCEPT = LABEL_HOLDER.where(t.authorizations.c.id != bindparam("exclude"))
AUTH_KIND_FOR_BINDING = (select(t.authorizations.c.provider, t.authorizations.c.method)
                          .where(t.authorizations.c.id == bindparam("auth_id")).with_for_update())




def batched(result: Result[Any], size: int = 2_000) -> Iterator[Row[Any]]:
    """A big result's rows, fetched ``size`` at a time.

    Iterating a result directly costs one DBAPI ``fetchone`` per row, which is Python
    code in psycopg (several times slower than its ``fetchmany``).
    """
    for batch in result.partitions(size):
        yield from batch


def job_links(conn: Connection) -> dict[str, tuple[str, ...]]:
    """Every job's authorization ids in binding order, in one query.

    Sorted here rather than with ORDER BY job_id, position: SQLite would walk the
    primary-key index and look every row up in the table (three times slower), and
    almost every job has a single binding.
    """
    bound: dict[str, list[tuple[int, str]]] = {}
    for job_id, auth_id, position in batched(conn.execute(
            select(t.job_auths.c.job_id, t.job_auths.c.auth_id, t.job_auths.c.position))):
        pairs = bound.get(job_id)
        if pairs is None:
            bound[job_id] = [(position, auth_id)]
        else:
            pairs.append((position, auth_id))
    return {job_id: (pairs[0][1],) if len(pairs) == 1 else tuple(a for _, a in sorted(pairs))
            for job_id, pairs in bound.items()}


def insert_links(conn: Connection, job_id: str, auth_ids: list[str] | tuple[str, ...]) -> None:
    conn.execute(INSERT_JOB_AUTH, [
        {"job_id": job_id, "auth_id": a, "position": i} for i, a in enumerate(dict.fromkeys(auth_ids))])


def auth_record(row: Mapping[str, Any]) -> AuthRecord:
    return AuthRecord(
        id=row["id"], provider=row["provider"], method=row["method"], type=row["type"], label=row["label"],
        description=row["description"] or "", owner=row["owner"], created=utc(row["created"]),  # type: ignore[arg-type]
        updated=utc(row["updated"]), health=row["health"], health_reason=row["health_reason"] or "",  # type: ignore[arg-type]
        health_checked_at=utc(row["health_checked_at"]), token_expires_at=utc(row["token_expires_at"]),
        scopes=tuple(row["scopes"].split()) if row["scopes"] else (),
    )


def job_record(row: Mapping[str, Any], auth_ids: list[str] | tuple[str, ...]) -> JobRecord:
    return JobRecord(
        id=row["id"], name=row["name"], workflow=row["workflow"], status=row["status"],
        description=row["description"] or "", config=json.loads(row["config"] or "{}"), auth_ids=tuple(auth_ids),
        owner=row["owner"], created=utc(row["created"]), updated=utc(row["updated"]),  # type: ignore[arg-type]
    )


def require_label(label: str) -> None:
    if not isinstance(label, str) or not label.strip():
        raise ConflictError("an authorization needs a non-empty label")


def require_status(status: str) -> None:
    if status not in JOB_STATUSES:
        raise ConflictError(f"unknown job status {status!r} (statuses: {', '.join(JOB_STATUSES)})")


def explain_db_error(exc: SQLAlchemyError, url: str) -> str:
    text = str(getattr(exc, "orig", exc))
    where = redact_url(url)
    if "locked" in text:
        return f"the platform database {where} is locked by another process; try again"
    if "unable to open" in text or "readonly" in text or "not a database" in text:
        return f"the platform database {where} cannot be used: {text}"
    return f"platform database error ({where}): {text}"
