"""Rows <-> records for the embedded platform: row mappings into records, prepared inserts, single-row reads.

The bulk snapshot reader lives in snapshot.py (it also runs without SQLAlchemy).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, Result, insert, select

from reconciler.clock import as_utc, as_utc_or_none
from reconciler.errors import NotFoundError
from reconciler.platform import schema as t
from reconciler.platform.records import AuthRecord, ExperienceRecord, JobRecord
from reconciler.platform.snapshot import HEALTH_OF, JOB_STATUS_OF
from reconciler.vocabulary import JobStatus


def new_id() -> str:
    return uuid.uuid4().hex


# Statements of the create path (one apply makes thousands of calls), built once with bound
# parameters: building them with literal values per call costs more than executing them.
INSERT_AUTH = insert(t.authorizations)
INSERT_JOB = insert(t.jobs)
INSERT_JOB_AUTH = insert(t.job_auths)


def batched(result: Result[Any], size: int = 2_000) -> Iterator[Any]:
    """A big result's rows, fetched ``size`` at a time.

    Iterating a result directly costs one DBAPI ``fetchone`` per row, which is Python
    code in psycopg (several times slower than its ``fetchmany``).
    """
    for batch in result.partitions(size):
        yield from batch


def insert_links(conn: Connection, job_id: str, auth_ids: list[str] | tuple[str, ...]) -> None:
    conn.execute(INSERT_JOB_AUTH, [
        {"job_id": job_id, "auth_id": a, "position": i} for i, a in enumerate(dict.fromkeys(auth_ids))])


def auth_record(row: Mapping[str, Any]) -> AuthRecord:
    return AuthRecord(
        id=row["id"], provider=row["provider"], method=row["method"], type=row["type"], label=row["label"],
        description=row["description"] or "", owner=row["owner"], created=as_utc(row["created"]),
        updated=as_utc(row["updated"]), health=HEALTH_OF[row["health"]], health_reason=row["health_reason"] or "",
        health_checked_at=as_utc_or_none(row["health_checked_at"]),
        token_expires_at=as_utc_or_none(row["token_expires_at"]),
        scopes=tuple(row["scopes"].split()) if row["scopes"] else (), marker=row["marker"],
    )


def job_record(row: Mapping[str, Any], auth_ids: list[str] | tuple[str, ...]) -> JobRecord:
    return JobRecord(
        id=row["id"], name=row["name"], workflow=row["workflow"], status=JOB_STATUS_OF[row["status"]],
        description=row["description"] or "", config=json.loads(row["config"] or "{}"), auth_ids=tuple(auth_ids),
        owner=row["owner"], created=as_utc(row["created"]), updated=as_utc(row["updated"]), marker=row["marker"],
    )


def first_auth_row(conn: Connection, where: Any, lock: bool = False) -> dict[str, Any] | None:
    """The first authorization row matching ``where`` (``lock``: FOR UPDATE, where the database has it)."""
    query = select(t.authorizations).where(where)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    return None if row is None else dict(row)


def auth_row(conn: Connection, auth_id: str, lock: bool = False) -> dict[str, Any]:
    """One authorization's row; NotFoundError if there is none."""
    row = first_auth_row(conn, t.authorizations.c.id == auth_id, lock)
    if row is None:
        raise NotFoundError(f"no authorization with id {auth_id!r}")
    return row


def read_job(conn: Connection, job_id: str) -> JobRecord:
    row = conn.execute(select(t.jobs).where(t.jobs.c.id == job_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"no job with id {job_id!r}")
    links = conn.execute(select(t.job_auths.c.auth_id).where(t.job_auths.c.job_id == job_id)
                         .order_by(t.job_auths.c.position)).scalars().all()
    return job_record(row, links)


def read_job_by_marker(conn: Connection, marker: str) -> JobRecord | None:
    """The job (not deleted) created with ``marker``, with its bindings, in one indexed query."""
    j, links = t.jobs, t.job_auths
    rows = conn.execute(
        select(j, links.c.auth_id.label("bound_auth_id")).outerjoin(links, links.c.job_id == j.c.id)
        .where((j.c.marker == marker) & (j.c.status != JobStatus.DELETED.value))
        .order_by(links.c.position)).mappings().all()
    if not rows:
        return None
    return job_record(rows[0], [r["bound_auth_id"] for r in rows if r["bound_auth_id"] is not None])


def references(conn: Connection, auth_id: str) -> tuple[list[JobRecord], list[ExperienceRecord]]:
    """The jobs (not deleted) and imported experiences that use one authorization."""
    job_ids = conn.execute(select(t.job_auths.c.job_id).where(t.job_auths.c.auth_id == auth_id)).scalars().all()
    jobs = [j for j in (read_job(conn, i) for i in job_ids) if j.status != JobStatus.DELETED]
    exp_rows = conn.execute(
        select(t.experiences).join(t.experience_auths, t.experience_auths.c.experience_id == t.experiences.c.id)
        .where(t.experience_auths.c.auth_id == auth_id)).mappings().all()
    experiences = [ExperienceRecord(r["id"], r["name"], r["status"], (auth_id,), as_utc(r["created"]))
                   for r in exp_rows]
    return jobs, experiences
