"""The embedded platform's one entry point: :class:`Platform`, whose every operation is one transaction.

Every way in (the local backend, the ``authctl platform`` commands, the served HTTP API)
goes through :class:`Platform`, so every caller gets the same behaviour: each method
opens one transaction and hands its connection to the rules (:mod:`.rules`), health
(:mod:`.health`), request counters (:mod:`.counters`) and row readers (:mod:`.rows`).
The snapshot, the hot path of every plan, is here too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from reconciler.clock import as_utc_or_none, utc_now
from reconciler.db import Database, describe_failure, initialise_with_retry, redact_url, sqlite_path
from reconciler.errors import ConflictError, DatabaseError, NotFoundError
from reconciler.platform import counters, health, rules
from reconciler.platform import schema as t
from reconciler.platform.crypto import Sealer, load_or_create_key
from reconciler.platform.migrate import create_or_check
from reconciler.platform.records import (
    AuthRecord,
    ExperienceRecord,
    JobRecord,
    PlatformSnapshot,
    RequestCounts,
)
from reconciler.platform.rows import (
    INSERT_AUTH,
    INSERT_JOB,
    auth_record,
    auth_row,
    batched,
    first_auth_row,
    insert_links,
    job_record,
    new_id,
    read_job,
    read_job_by_marker,
    references,
)
from reconciler.platform.rules import DeleteMode, WorkflowRule
from reconciler.platform.snapshot import read_snapshot, timestamp_reader
from reconciler.vocabulary import Health, JobStatus


class Platform:
    """An authorization registry on SQLAlchemy. Use :func:`open_platform` to get one."""

    def __init__(self, url: str, sealer: Sealer, *, mode: DeleteMode = "guarded",
                 workflow_rule: WorkflowRule | None = None) -> None:
        self.url = url
        self.mode = mode
        self._sealer = sealer
        self._workflow_rule = workflow_rule
        self._db = Database(url, self._failure)

    def __repr__(self) -> str:
        return f"Platform({redact_url(self.url)!r}, mode={self.mode!r})"

    # -- plumbing --------------------------------------------------------------------------
    def _failure(self, exc: Exception, read_only: bool) -> DatabaseError:
        return DatabaseError(describe_failure("the platform database", self.url, exc, read_only=read_only))

    def _initialise(self) -> None:
        with self._db.write() as conn:
            create_or_check(conn, self._sealer, redact_url(self.url))

    def _holder(self, *checks: Callable[[Connection], None]) -> ConflictError | None:
        """After a unique violation (the transaction rolled back): the error naming who holds the value, if any.

        On PostgreSQL a concurrent writer may take a label between our check and our write
        (SQLite's IMMEDIATE transactions rule that out), and markers are checked only by the
        unique index: the checks, run again, give the same error the rule gives.
        """
        with self._db.read() as conn:
            try:
                for check in checks:
                    check(conn)
            except ConflictError as found:
                return found
        return None

    def close(self) -> None:
        self._db.dispose()

    # -- authorizations --------------------------------------------------------------------
    def create_authorization(self, *, provider: str, method: str, label: str, type: str | None = None,
                             description: str = "", config: Mapping[str, Any] | None = None,
                             credentials: Mapping[str, str] | None = None, owner: str = "authctl",
                             token_expires_at: datetime | None = None,
                             scopes: tuple[str, ...] = (), marker: str | None = None) -> AuthRecord:
        rules.require_label(label)
        rules.require_marker(marker)
        now = utc_now()
        row = {
            "id": new_id(), "provider": provider, "method": method, "type": type, "label": label,
            "label_key": label.casefold(), "description": description or "",
            "secret_blob": self._sealer.seal({"config": dict(config or {}),
                                              "credentials": dict(credentials or {})}),
            "owner": owner, "created": now, "updated": now, "health": Health.UNKNOWN.value, "health_reason": "",
            "health_checked_at": None, "token_expires_at": as_utc_or_none(token_expires_at),
            "scopes": " ".join(scopes), "marker": marker,
        }
        try:
            with self._db.write() as conn:
                rules.check_label_free(conn, label)
                conn.execute(INSERT_AUTH, row)
        except IntegrityError as exc:
            # Any other constraint: the transaction rolled back, so this is a definite refusal.
            raise self._holder(partial(rules.check_label_free, label=label),
                               partial(rules.check_marker_free, table=t.authorizations, marker=marker)) \
                or ConflictError(f"refused: {explain_db_error(exc, self.url)}") from None
        return auth_record(row)

    def update_authorization(self, auth_id: str, **changes: Any) -> AuthRecord:
        """Edit label and/or description; anything else is immutable and refused."""
        rules.refuse_immutable(auth_id, changes)
        try:
            with self._db.write() as conn:
                current = auth_row(conn, auth_id)
                values = rules.edited_values(conn, current, changes)
                if values:
                    values["updated"] = utc_now()
                    conn.execute(update(t.authorizations).where(t.authorizations.c.id == auth_id).values(**values))
                return auth_record({**current, **values})
        except IntegrityError as exc:
            holder = self._holder(partial(rules.check_label_free, label=changes["label"], exclude=auth_id)) \
                if "label" in changes else None
            raise holder or DatabaseError(explain_db_error(exc, self.url)) from None

    def reauthorize(self, auth_id: str, *, credentials: Mapping[str, str],
                    token_expires_at: datetime | None = None, scopes: tuple[str, ...] = ()) -> AuthRecord:
        """Replace the tokens of an OAuth connection in place: same id, jobs keep working, healthy."""
        with self._db.write() as conn:
            return health.reauthorize(conn, self._sealer, auth_id, credentials=credentials,
                                      token_expires_at=token_expires_at, scopes=scopes)

    def delete_authorization(self, auth_id: str, *, mode: DeleteMode | None = None) -> list[JobRecord]:
        """Delete, guarded by references; in cascade mode stop the jobs instead of refusing.

        Returns the jobs a cascade stopped (empty in guarded mode).
        """
        with self._db.write() as conn:
            auth_row(conn, auth_id, lock=True)
            stopped = rules.jobs_to_stop(auth_id, *references(conn, auth_id), mode or self.mode)
            if stopped:  # cascade: behave like Lytics, stopping the work that uses it
                conn.execute(update(t.jobs).where(t.jobs.c.id.in_([j.id for j in stopped]))
                             .values(status=JobStatus.KILLED.value, updated=utc_now()))
            conn.execute(delete(t.job_auths).where(t.job_auths.c.auth_id == auth_id))
            conn.execute(delete(t.experience_auths).where(t.experience_auths.c.auth_id == auth_id))
            counters.forget_requests(conn, auth_id)
            conn.execute(delete(t.authorizations).where(t.authorizations.c.id == auth_id))
        return stopped

    def get_authorization(self, auth_id: str) -> AuthRecord:
        with self._db.read() as conn:
            return auth_record(auth_row(conn, auth_id))

    def find_authorization(self, id_or_label: str) -> AuthRecord:
        """By id, else by label (case-insensitive): how people name things in the UI."""
        a = t.authorizations.c
        with self._db.read() as conn:
            row = first_auth_row(conn, (a.id == id_or_label) | (a.label_key == id_or_label.casefold()))
        if row is None:
            raise NotFoundError(f"no authorization with id or label {id_or_label!r}")
        return auth_record(row)

    def find_authorization_by_marker(self, marker: str) -> AuthRecord | None:
        """The authorization created with this creation marker, if any (one indexed lookup)."""
        with self._db.read() as conn:
            row = first_auth_row(conn, t.authorizations.c.marker == marker)
        return None if row is None else auth_record(row)

    def list_authorizations(self) -> list[AuthRecord]:
        with self._db.read() as conn:
            return [auth_record(r) for r in conn.execute(select(t.authorizations)).mappings()]

    def stored_secrets(self, auth_id: str) -> dict[str, Any]:
        """Decrypted config and credentials: for the platform's own workers only."""
        with self._db.read() as conn:
            return self._sealer.open(auth_row(conn, auth_id)["secret_blob"])

    def stored_authorizations(self, auth_ids: Sequence[str]) -> list[tuple[AuthRecord, dict[str, Any]]]:
        """Records with their decrypted config and credentials, in one read (ids it does not know are left out).

        For the platform's own workers only (a run of health checks reads a thousand at once).
        """
        found: dict[str, tuple[AuthRecord, dict[str, Any]]] = {}
        ids = list(dict.fromkeys(auth_ids))
        with self._db.read() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                for row in conn.execute(select(t.authorizations).where(t.authorizations.c.id.in_(chunk))).mappings():
                    found[row["id"]] = (auth_record(row), self._sealer.open(row["secret_blob"]))
        return [found[i] for i in ids if i in found]

    def record_health_many(self, results: Sequence[Mapping[str, Any]]) -> int:
        """Many health results (``record_health``'s keywords plus ``auth_id``) in one transaction; returns how many."""
        with self._db.write() as conn:
            return health.record_health_many(conn, results)

    def record_health(self, auth_id: str, *, status: Health | str, reason: str = "", checked_at: datetime | None = None,
                      scopes: tuple[str, ...] | None = None, token_expires_at: datetime | None = None,
                      requests: int = 1) -> AuthRecord:
        """The result of a health check; granted scopes and token expiry change only when given.

        ``requests``: how many provider requests the check made (counted in the same transaction).
        """
        with self._db.write() as conn:
            return health.record_health(conn, auth_id, status=status, reason=reason, checked_at=checked_at,
                                        scopes=scopes, token_expires_at=token_expires_at, requests=requests)

    def set_health(self, auth_id: str, status: Health | str, reason: str = "") -> AuthRecord:
        """Set the health by hand (``authctl platform auths set-health``), checked now."""
        return self.record_health(auth_id, status=status, reason=reason)

    # -- jobs ------------------------------------------------------------------------------
    def create_job(self, *, name: str, workflow: str, auth_ids: list[str] | tuple[str, ...],
                   config: Mapping[str, Any] | None = None, status: JobStatus | str = JobStatus.RUNNABLE,
                   description: str = "", owner: str = "authctl", marker: str | None = None) -> JobRecord:
        job_status = rules.require_status(status)
        rules.require_marker(marker)
        now = utc_now()
        row = {"id": new_id(), "name": name, "workflow": workflow, "status": job_status.value,
               "description": description or "", "config": json.dumps(dict(config or {}), sort_keys=True),
               "owner": owner, "created": now, "updated": now, "marker": marker}
        try:
            with self._db.write() as conn:
                rules.check_binding(conn, workflow, auth_ids, self._workflow_rule)
                conn.execute(INSERT_JOB, row)
                insert_links(conn, row["id"], auth_ids)
        except IntegrityError:
            holder = self._holder(partial(rules.check_marker_free, table=t.jobs, marker=marker))
            if holder is None:
                raise  # another constraint: the backend reports the driver's one line
            raise holder from None
        # What a re-read would return (the links as insert_links wrote them), without the re-read.
        return job_record(row, tuple(dict.fromkeys(auth_ids)))

    def update_job(self, job_id: str, *, name: str | None = None, config: Mapping[str, Any] | None = None,
                   auth_ids: list[str] | tuple[str, ...] | None = None,
                   description: str | None = None) -> JobRecord:
        """Full replace of the given fields (Lytics PUT semantics); status changes go elsewhere."""
        with self._db.write() as conn:
            job = read_job(conn, job_id)
            values: dict[str, Any] = {"updated": utc_now()}
            if name is not None:
                values["name"] = name
            if description is not None:
                values["description"] = description
            if config is not None:
                values["config"] = json.dumps(dict(config), sort_keys=True)
            if auth_ids is not None and tuple(auth_ids) != job.auth_ids:
                rules.check_binding(conn, job.workflow, auth_ids, self._workflow_rule)
                conn.execute(delete(t.job_auths).where(t.job_auths.c.job_id == job_id))
                insert_links(conn, job_id, auth_ids)
            conn.execute(update(t.jobs).where(t.jobs.c.id == job_id).values(**values))
            return read_job(conn, job_id)

    def set_job_status(self, job_id: str, status: JobStatus | str) -> JobRecord:
        job_status = rules.require_status(status)
        with self._db.write() as conn:
            read_job(conn, job_id)
            conn.execute(update(t.jobs).where(t.jobs.c.id == job_id).values(status=job_status.value,
                                                                             updated=utc_now()))
            return read_job(conn, job_id)

    def pause_job(self, job_id: str) -> JobRecord:
        return self.set_job_status(job_id, JobStatus.PAUSED)

    def resume_job(self, job_id: str) -> JobRecord:
        return self.set_job_status(job_id, JobStatus.RUNNABLE)

    def delete_job(self, job_id: str) -> JobRecord:
        """Soft delete, as Lytics does: the job stays listed with status ``deleted``."""
        return self.set_job_status(job_id, JobStatus.DELETED)

    def get_job(self, job_id: str) -> JobRecord:
        with self._db.read() as conn:
            return read_job(conn, job_id)

    def find_job_by_marker(self, marker: str) -> JobRecord | None:
        """The job (not deleted) created with this creation marker, if any (one indexed query)."""
        with self._db.read() as conn:
            return read_job_by_marker(conn, marker)

    # -- experiences -----------------------------------------------------------------------
    def create_experience(self, *, name: str, auth_ids: list[str] | tuple[str, ...]) -> ExperienceRecord:
        exp_id = new_id()
        now = utc_now()
        with self._db.write() as conn:
            for auth_id in auth_ids:
                auth_row(conn, auth_id, lock=True)
            conn.execute(insert(t.experiences).values(id=exp_id, name=name, status="imported", created=now))
            if auth_ids:
                conn.execute(insert(t.experience_auths),
                             [{"experience_id": exp_id, "auth_id": a} for a in dict.fromkeys(auth_ids)])
        return ExperienceRecord(exp_id, name, "imported", tuple(dict.fromkeys(auth_ids)), now)

    def delete_experience(self, exp_id: str) -> None:
        with self._db.write() as conn:
            if conn.execute(delete(t.experiences).where(t.experiences.c.id == exp_id)).rowcount == 0:
                raise NotFoundError(f"no experience with id {exp_id!r}")
            conn.execute(delete(t.experience_auths).where(t.experience_auths.c.experience_id == exp_id))

    # -- reading everything at once ----------------------------------------------------------
    def snapshot(self, *, include_deleted: bool = False) -> PlatformSnapshot:
        """Every authorization, job and experience in five queries, whatever the size.

        This is the hot path of every plan (10,000 authorizations and 50,000 jobs in <= 1 s,
        see benchmarks/snapshot_scale.py); ``snapshot.read_snapshot`` says how it stays fast.
        It never selects the secret blob.
        """
        with self._db.read() as conn:
            ts = timestamp_reader(conn.dialect.name)
            return read_snapshot(lambda sql: batched(conn.exec_driver_sql(sql)), ts, include_deleted=include_deleted)

    def list_jobs(self, *, include_deleted: bool = False) -> list[JobRecord]:
        """Every job (deleted ones too when asked), with the snapshot's SQL and nothing else."""
        with self._db.read() as conn:
            ts = timestamp_reader(conn.dialect.name)
            return read_snapshot(lambda sql: batched(conn.exec_driver_sql(sql)), ts, include_deleted=include_deleted,
                                 parts=("jobs",)).jobs

    def list_experiences(self) -> list[ExperienceRecord]:
        """Every imported experience with the authorizations it uses."""
        with self._db.read() as conn:
            ts = timestamp_reader(conn.dialect.name)
            return read_snapshot(lambda sql: batched(conn.exec_driver_sql(sql)), ts, parts=("experiences",)).experiences

    def references(self, auth_id: str) -> tuple[list[JobRecord], list[ExperienceRecord]]:
        """Fresh jobs (not deleted) and experiences that use one authorization."""
        with self._db.read() as conn:
            return references(conn, auth_id)

    # -- request counters ------------------------------------------------------------------
    def record_request(self, auth_id: str, count: int = 1, at: datetime | None = None) -> None:
        with self._db.write() as conn:
            counters.record_request(conn, auth_id, count, at)

    def request_counts(self, auth_id: str, now: datetime | None = None) -> RequestCounts:
        with self._db.read() as conn:
            return counters.request_counts(conn, auth_id, now or utc_now())

    def request_series(self, auth_id: str, now: datetime | None = None) -> list[tuple[datetime, int]]:
        """(hour, count) for each hour of the last 30 days with requests, oldest first (sparse)."""
        with self._db.read() as conn:
            return counters.hourly_series(conn, auth_id, now or utc_now())


def explain_db_error(exc: SQLAlchemyError, url: str) -> str:
    """A driver's failure as one clear sentence naming the database (password hidden), without SQL."""
    if isinstance(exc, IntegrityError):  # a broken constraint: the driver's one line says which
        return f"platform database error ({redact_url(url)}): {str(exc.orig).splitlines()[0]}"
    return describe_failure("the platform database", url, exc)



def open_platform(url: str, *, key_file: Path | None = None, mode: DeleteMode = "guarded",
                  workflow_rule: WorkflowRule | None = None, key: bytes | None = None) -> Platform:
    """Open (creating or upgrading if needed) a platform database; checks schema version and key first.

    ``key`` overrides the key lookup (env var, then the key file beside a SQLite file).
    """
    path = sqlite_path(url)
    if key_file is None and path is not None:
        key_file = path.with_name(path.name + ".key")
    sealer = Sealer(key if key is not None else load_or_create_key(key_file))
    platform = Platform(url, sealer, mode=mode, workflow_rule=workflow_rule)
    try:
        initialise_with_retry(platform._initialise)
    except SQLAlchemyError as exc:
        platform.close()
        raise DatabaseError(explain_db_error(exc, url)) from None
    except BaseException:
        # A refused open (wrong key, newer schema) must leave no connection, -wal or -shm behind.
        platform.close()
        raise
    return platform


__all__ = ["DeleteMode", "Platform", "WorkflowRule", "explain_db_error", "open_platform"]
