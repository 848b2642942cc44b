"""The embedded platform's operations, each one transaction that enforces the rules.

Rules live here, not in callers, so that every way in (the local backend, the
``authctl platform`` commands, the served HTTP API) gets the same behaviour.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    delete,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from reconciler.bulk import paused_gc
from reconciler.db import initialise_with_retry, make_engine, read_transaction, redact_url, sqlite_path
from reconciler.errors import (
    ConflictError,
    DatabaseError,
    NotFoundError,
    ReferencedError,
    SchemaVersionError,
)
from reconciler.platform import schema as t
from reconciler.platform.crypto import Sealer, load_or_create_key
from reconciler.platform.rows import (
    AUTH_KIND_FOR_BINDING,
    INSERT_AUTH,
    INSERT_JOB,
    LABEL_HOLDER,
    LABEL_HOLDER_EXCEPT,
    auth_record,
    batched,
    explain_db_error,
    insert_links,
    job_links,
    job_record,
    json_object,
    new_id,
    require_label,
    require_status,
    timestamp_reading,
    utc,
    utc_now,
)
from reconciler.platform.records import (
    ACTIVE_JOB_STATUSES,
    EDITABLE_AUTH_FIELDS,
    HEALTH_STATUSES,
    AuthRecord,
    ExperienceRecord,
    JobRecord,
    PlatformSnapshot,
    RequestCounts,
)

DeleteMode = Literal["guarded", "cascade"]
# (provider, method, workflow) -> supported? None means "no opinion" (unknown workflow).
WorkflowRule = Callable[[str, str, str], bool | None]


class Platform:
    """An authorization registry on SQLAlchemy. Use :func:`open_platform` to get one."""

    def __init__(self, url: str, sealer: Sealer, *, mode: DeleteMode = "guarded",
                 workflow_rule: WorkflowRule | None = None) -> None:
        self.url = url
        self.mode = mode
        self._sealer = sealer
        self._workflow_rule = workflow_rule
        self._engine = make_engine(url)

    def __repr__(self) -> str:
        return f"Platform({redact_url(self.url)!r}, mode={self.mode!r})"

    # -- plumbing --------------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise DatabaseError(explain_db_error(exc, self.url)) from None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read-only transaction: consistent, and no write lock on SQLite."""
        try:
            with read_transaction(self._engine) as conn:
                yield conn
        except OperationalError as exc:
            raise DatabaseError(explain_db_error(exc, self.url)) from None

    def _initialise(self) -> None:
        with self._tx() as conn:
            existing = set(inspect(conn).get_table_names())
            if t.meta.name in existing:
                rows = {k: v for k, v in conn.execute(select(t.meta.c.key, t.meta.c.value))}
                version = int(rows.get("schema_version", "0"))
                if version > t.SCHEMA_VERSION:
                    raise SchemaVersionError(
                        f"{redact_url(self.url)} was written by a newer authctl (platform schema "
                        f"{version}, this one knows {t.SCHEMA_VERSION}); upgrade authctl")
                if "key_check" in rows:
                    self._sealer.verify(rows["key_check"], redact_url(self.url))
                    return
            t.metadata.create_all(conn)
            conn.execute(insert(t.meta), [
                {"key": "schema_version", "value": str(t.SCHEMA_VERSION)},
                {"key": "key_check", "value": self._sealer.key_check()},
                {"key": "account_id", "value": new_id()[:16]},
            ])

    def close(self) -> None:
        self._engine.dispose()

    # -- authorizations --------------------------------------------------------------------
    def create_authorization(self, *, provider: str, method: str, label: str, type: str | None = None,
                             description: str = "", config: Mapping[str, Any] | None = None,
                             credentials: Mapping[str, str] | None = None, owner: str = "authctl",
                             token_expires_at: datetime | None = None,
                             scopes: tuple[str, ...] = ()) -> AuthRecord:
        require_label(label)
        now = utc_now()
        row = {
            "id": new_id(), "provider": provider, "method": method, "type": type, "label": label,
            "label_key": label.casefold(), "description": description or "",
            "secret_blob": self._sealer.seal({"config": dict(config or {}),
                                              "credentials": dict(credentials or {})}),
            "owner": owner, "created": now, "updated": now, "health": "unknown", "health_reason": "",
            "health_checked_at": None, "token_expires_at": utc(token_expires_at), "scopes": " ".join(scopes),
        }
        try:
            with self._tx() as conn:
                self._check_label_free(conn, label)
                conn.execute(INSERT_AUTH, row)
        except IntegrityError as exc:
            self._label_taken_meanwhile(label)
            # Any other constraint: the transaction rolled back, so this is a definite refusal.
            raise ConflictError(f"refused: {explain_db_error(exc, self.url)}") from None
        return auth_record(row)

    def update_authorization(self, auth_id: str, **changes: Any) -> AuthRecord:
        """Edit label and/or description; anything else is immutable and refused."""
        immutable = sorted(k for k in changes if k not in EDITABLE_AUTH_FIELDS)
        if immutable:
            raise ConflictError(
                f"cannot edit {', '.join(immutable)} of authorization {auth_id}: only label and "
                "description can be edited; create a new authorization to change anything else")
        try:
            return self._update_authorization(auth_id, changes)
        except IntegrityError as exc:
            if "label" in changes:
                self._label_taken_meanwhile(changes["label"], exclude=auth_id)
            raise DatabaseError(explain_db_error(exc, self.url)) from None

    def _label_taken_meanwhile(self, label: str, exclude: str | None = None) -> None:
        """After a unique violation: on PostgreSQL a concurrent writer may take a label between
        our check and our write (SQLite's IMMEDIATE transactions rule that out). Report it as
        the same ConflictError the check gives."""
        with self._tx() as conn:
            self._check_label_free(conn, label, exclude=exclude)

    def _update_authorization(self, auth_id: str, changes: dict[str, Any]) -> AuthRecord:
        with self._tx() as conn:
            current = self._auth_row(conn, auth_id)
            values: dict[str, Any] = {}
            if "label" in changes and changes["label"] != current["label"]:
                require_label(changes["label"])
                self._check_label_free(conn, changes["label"], exclude=auth_id)
                values.update(label=changes["label"], label_key=changes["label"].casefold())
            if "description" in changes and changes["description"] != current["description"]:
                values["description"] = changes["description"] or ""
            if values:
                values["updated"] = utc_now()
                conn.execute(update(t.authorizations).where(t.authorizations.c.id == auth_id).values(**values))
            return auth_record({**current, **values})

    def reauthorize(self, auth_id: str, *, credentials: Mapping[str, str],
                    token_expires_at: datetime | None = None, scopes: tuple[str, ...] = ()) -> AuthRecord:
        """Replace the tokens of an OAuth connection in place: same id, jobs keep working."""
        with self._tx() as conn:
            current = self._auth_row(conn, auth_id)
            stored = self._sealer.open(current["secret_blob"])
            stored["credentials"] = dict(credentials)
            values = {"secret_blob": self._sealer.seal(stored), "updated": utc_now(), "health": "healthy",
                      "health_reason": "", "health_checked_at": utc_now(),
                      "token_expires_at": utc(token_expires_at), "scopes": " ".join(scopes)}
            conn.execute(update(t.authorizations).where(t.authorizations.c.id == auth_id).values(**values))
            return auth_record({**current, **values})

    def delete_authorization(self, auth_id: str, *, mode: DeleteMode | None = None) -> list[JobRecord]:
        """Delete, guarded by references; in cascade mode stop the jobs instead of refusing.

        Returns the jobs a cascade stopped (empty in guarded mode).
        """
        mode = mode or self.mode
        with self._tx() as conn:
            self._auth_row(conn, auth_id, lock=True)
            jobs, experiences = self._references(conn, auth_id)
            active = [j for j in jobs if j.active]
            stopped: list[JobRecord] = []
            if (active or experiences) and mode == "guarded":
                names = [f"job {j.name} ({j.id}, {j.status})" for j in active]
                names += [f"experience {e.name} ({e.id})" for e in experiences]
                raise ReferencedError(
                    f"authorization {auth_id} is in use and was not deleted: " + "; ".join(names),
                    references=[*active, *experiences])
            if active:  # cascade: behave like Lytics, stopping the work that uses it
                ids = [j.id for j in active]
                conn.execute(update(t.jobs).where(t.jobs.c.id.in_(ids)).values(status="killed", updated=utc_now()))
                stopped = active
            conn.execute(delete(t.job_auths).where(t.job_auths.c.auth_id == auth_id))
            conn.execute(delete(t.experience_auths).where(t.experience_auths.c.auth_id == auth_id))
            conn.execute(delete(t.request_counts).where(t.request_counts.c.auth_id == auth_id))
            conn.execute(delete(t.authorizations).where(t.authorizations.c.id == auth_id))
        return stopped

    def get_authorization(self, auth_id: str) -> AuthRecord:
        with self._read() as conn:
            return auth_record(self._auth_row(conn, auth_id))

    def find_authorization(self, id_or_label: str) -> AuthRecord:
        """By id, else by label (case-insensitive): how people name things in the UI."""
        with self._read() as conn:
            row = conn.execute(select(t.authorizations).where(
                (t.authorizations.c.id == id_or_label)
                | (t.authorizations.c.label_key == id_or_label.casefold()))).mappings().first()
        if row is None:
            raise NotFoundError(f"no authorization with id or label {id_or_label!r}")
        return auth_record(row)

    def list_authorizations(self) -> list[AuthRecord]:
        with self._read() as conn:
            return [auth_record(r) for r in conn.execute(select(t.authorizations)).mappings()]

    def stored_secrets(self, auth_id: str) -> dict[str, Any]:
        """Decrypted config and credentials: for the platform's own workers only."""
        with self._tx() as conn:
            return self._sealer.open(self._auth_row(conn, auth_id)["secret_blob"])

    def set_health(self, auth_id: str, status: str, reason: str = "") -> AuthRecord:
        if status not in HEALTH_STATUSES:
            raise ConflictError(f"health must be one of {', '.join(HEALTH_STATUSES)}, not {status!r}")
        with self._tx() as conn:
            current = self._auth_row(conn, auth_id)
            values = {"health": status, "health_reason": reason, "health_checked_at": utc_now()}
            conn.execute(update(t.authorizations).where(t.authorizations.c.id == auth_id).values(**values))
        self.record_request(auth_id)
        return auth_record({**current, **values})

    # -- jobs ------------------------------------------------------------------------------
    def create_job(self, *, name: str, workflow: str, auth_ids: list[str] | tuple[str, ...],
                   config: Mapping[str, Any] | None = None, status: str = "runnable",
                   description: str = "", owner: str = "authctl") -> JobRecord:
        require_status(status)
        now = utc_now()
        row = {"id": new_id(), "name": name, "workflow": workflow, "status": status,
               "description": description or "", "config": json.dumps(dict(config or {}), sort_keys=True),
               "owner": owner, "created": now, "updated": now}
        with self._tx() as conn:
            self._check_binding(conn, workflow, auth_ids)
            conn.execute(INSERT_JOB, row)
            insert_links(conn, row["id"], auth_ids)
        # What a re-read would return (the links as insert_links wrote them), without the re-read.
        return job_record(row, tuple(dict.fromkeys(auth_ids)))

    def update_job(self, job_id: str, *, name: str | None = None, config: Mapping[str, Any] | None = None,
                   auth_ids: list[str] | tuple[str, ...] | None = None,
                   description: str | None = None) -> JobRecord:
        """Full replace of the given fields (Lytics PUT semantics); status changes go elsewhere."""
        with self._tx() as conn:
            job = self._job(conn, job_id)
            values: dict[str, Any] = {"updated": utc_now()}
            if name is not None:
                values["name"] = name
            if description is not None:
                values["description"] = description
            if config is not None:
                values["config"] = json.dumps(dict(config), sort_keys=True)
            if auth_ids is not None and tuple(auth_ids) != job.auth_ids:
                self._check_binding(conn, job.workflow, auth_ids)
                conn.execute(delete(t.job_auths).where(t.job_auths.c.job_id == job_id))
                insert_links(conn, job_id, auth_ids)
            conn.execute(update(t.jobs).where(t.jobs.c.id == job_id).values(**values))
            return self._job(conn, job_id)

    def set_job_status(self, job_id: str, status: str) -> JobRecord:
        require_status(status)
        with self._tx() as conn:
            self._job(conn, job_id)
            conn.execute(update(t.jobs).where(t.jobs.c.id == job_id).values(status=status, updated=utc_now()))
            return self._job(conn, job_id)

    def pause_job(self, job_id: str) -> JobRecord:
        return self.set_job_status(job_id, "paused")

    def resume_job(self, job_id: str) -> JobRecord:
        return self.set_job_status(job_id, "runnable")

    def delete_job(self, job_id: str) -> JobRecord:
        """Soft delete, as Lytics does: the job stays listed with status ``deleted``."""
        return self.set_job_status(job_id, "deleted")

    def get_job(self, job_id: str) -> JobRecord:
        with self._read() as conn:
            return self._job(conn, job_id)

    # -- experiences -----------------------------------------------------------------------
    def create_experience(self, *, name: str, auth_ids: list[str] | tuple[str, ...]) -> ExperienceRecord:
        exp_id = new_id()
        now = utc_now()
        with self._tx() as conn:
            for auth_id in auth_ids:
                self._auth_row(conn, auth_id, lock=True)
            conn.execute(insert(t.experiences).values(id=exp_id, name=name, status="imported", created=now))
            if auth_ids:
                conn.execute(insert(t.experience_auths),
                             [{"experience_id": exp_id, "auth_id": a} for a in dict.fromkeys(auth_ids)])
        return ExperienceRecord(exp_id, name, "imported", tuple(dict.fromkeys(auth_ids)), now)

    def delete_experience(self, exp_id: str) -> None:
        with self._tx() as conn:
            if conn.execute(delete(t.experiences).where(t.experiences.c.id == exp_id)).rowcount == 0:
                raise NotFoundError(f"no experience with id {exp_id!r}")
            conn.execute(delete(t.experience_auths).where(t.experience_auths.c.experience_id == exp_id))

    # -- reading everything at once ----------------------------------------------------------
    def snapshot(self, *, include_deleted: bool = False) -> PlatformSnapshot:
        """Every authorization, job and experience in five queries, whatever the size.

        This is the hot path of every plan (issue 4: 10,000 authorizations and 50,000
        jobs in <= 1 s, see benchmarks/snapshot_scale.py): it selects only the columns
        the records need (never the secret blob), builds records positionally from row
        tuples, reads SQLite timestamps as text straight into aware UTC datetimes,
        decodes job configs without ``json.loads``' per-call overhead and pauses the
        garbage collector while it builds (see :func:`paused_gc`).
        """
        a, j, e = t.authorizations.c, t.jobs.c, t.experiences.c
        with paused_gc(), self._read() as conn:
            col, ts = timestamp_reading(conn)
            auths = [
                AuthRecord(id_, provider, method, type_, label, description or "", owner, ts(created),
                           ts(updated), health, health_reason or "", ts(checked_at), ts(expires_at),
                           tuple(scopes.split()) if scopes else ())
                for (id_, provider, method, type_, label, description, owner, created, updated, health,
                     health_reason, checked_at, expires_at, scopes) in batched(conn.execute(select(
                         a.id, a.provider, a.method, a.type, a.label, a.description, a.owner, col(a.created),
                         col(a.updated), a.health, a.health_reason, col(a.health_checked_at),
                         col(a.token_expires_at), a.scopes)))
            ]
            links = job_links(conn)
            query = select(j.id, j.name, j.workflow, j.status, j.description, j.config, j.owner, col(j.created),
                           col(j.updated))
            if not include_deleted:
                query = query.where(j.status != "deleted")
            jobs = [
                JobRecord(id_, name, workflow, status, description or "", json_object(config),
                          links.get(id_, ()), owner, ts(created), ts(updated))  # type: ignore[arg-type]
                for id_, name, workflow, status, description, config, owner, created, updated
                in batched(conn.execute(query))
            ]
            exp_links: dict[str, list[str]] = defaultdict(list)
            for exp_id, auth_id in conn.execute(
                    select(t.experience_auths.c.experience_id, t.experience_auths.c.auth_id)):
                exp_links[exp_id].append(auth_id)
            experiences = [
                ExperienceRecord(id_, name, status, tuple(exp_links.get(id_, ())),
                                 ts(created))  # type: ignore[arg-type]
                for id_, name, status, created in conn.execute(select(e.id, e.name, e.status, col(e.created)))
            ]
        return PlatformSnapshot(auths, jobs, experiences, queries=5)

    def references(self, auth_id: str) -> tuple[list[JobRecord], list[ExperienceRecord]]:
        """Fresh jobs (not deleted) and experiences that use one authorization."""
        with self._read() as conn:
            return self._references(conn, auth_id)

    # -- request counters ------------------------------------------------------------------
    def record_request(self, auth_id: str, count: int = 1, at: datetime | None = None) -> None:
        hour = (at or utc_now()).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        key = (t.request_counts.c.auth_id == auth_id) & (t.request_counts.c.hour == hour)
        for attempt in range(3):
            try:
                with self._tx() as conn:
                    if conn.execute(update(t.request_counts).where(key).values(
                            count=t.request_counts.c.count + count)).rowcount == 0:
                        conn.execute(insert(t.request_counts).values(auth_id=auth_id, hour=hour, count=count))
                return
            except IntegrityError:  # PostgreSQL: a concurrent first request of this hour; add to it
                if attempt == 2:
                    raise

    def request_counts(self, auth_id: str, now: datetime | None = None) -> RequestCounts:
        now = utc(now) or utc_now()
        windows = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7),
                   "month": timedelta(days=30)}
        totals = {}
        with self._read() as conn:
            for name, span in windows.items():
                since = (now - span).replace(minute=0, second=0, microsecond=0)
                totals[name] = int(conn.execute(select(func.coalesce(func.sum(t.request_counts.c.count), 0)).where(
                    (t.request_counts.c.auth_id == auth_id) & (t.request_counts.c.hour >= since)
                    & (t.request_counts.c.hour <= now))).scalar_one())
        return RequestCounts(**totals)

    # -- helpers ---------------------------------------------------------------------------
    def _auth_row(self, conn: Connection, auth_id: str, lock: bool = False) -> dict[str, Any]:
        query = select(t.authorizations).where(t.authorizations.c.id == auth_id)
        if lock:
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFoundError(f"no authorization with id {auth_id!r}")
        return dict(row)

    def _check_label_free(self, conn: Connection, label: str, exclude: str | None = None) -> None:
        if exclude:
            other = conn.execute(LABEL_HOLDER_EXCEPT, {"label_key": label.casefold(), "exclude": exclude}).scalar()
        else:
            other = conn.execute(LABEL_HOLDER, {"label_key": label.casefold()}).scalar()
        if other is not None:
            raise ConflictError(f"label {label!r} is already used by authorization {other}; labels must be unique")

    def _check_binding(self, conn: Connection, workflow: str, auth_ids: list[str] | tuple[str, ...]) -> None:
        if not auth_ids:
            raise ConflictError("a job needs at least one authorization")
        for auth_id in auth_ids:
            row = conn.execute(AUTH_KIND_FOR_BINDING, {"auth_id": auth_id}).mappings().first()  # locks it
            if row is None:
                raise NotFoundError(f"no authorization with id {auth_id!r}")
            supported = self._workflow_rule(row["provider"], row["method"], workflow) if self._workflow_rule else None
            if supported is False:
                raise ConflictError(f"workflow {workflow} does not work with {row['provider']}/{row['method']} "
                                    f"(authorization {auth_id})")

    def _job(self, conn: Connection, job_id: str) -> JobRecord:
        row = conn.execute(select(t.jobs).where(t.jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no job with id {job_id!r}")
        links = conn.execute(select(t.job_auths.c.auth_id).where(t.job_auths.c.job_id == job_id)
                             .order_by(t.job_auths.c.position)).scalars().all()
        return job_record(row, links)

    def _references(self, conn: Connection, auth_id: str) -> tuple[list[JobRecord], list[ExperienceRecord]]:
        job_ids = conn.execute(select(t.job_auths.c.job_id).where(t.job_auths.c.auth_id == auth_id)).scalars().all()
        jobs = [j for j in (self._job(conn, i) for i in job_ids) if j.status != "deleted"]
        exp_rows = conn.execute(
            select(t.experiences).join(t.experience_auths, t.experience_auths.c.experience_id == t.experiences.c.id)
            .where(t.experience_auths.c.auth_id == auth_id)).mappings().all()
        experiences = [ExperienceRecord(r["id"], r["name"], r["status"], (auth_id,), utc(r["created"]))  # type: ignore[arg-type]
                       for r in exp_rows]
        return jobs, experiences


def open_platform(url: str, *, key_file: Path | None = None, mode: DeleteMode = "guarded",
                  workflow_rule: WorkflowRule | None = None, key: bytes | None = None) -> Platform:
    """Open (creating if needed) a platform database; checks schema version and key first.

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


__all__ = ["ACTIVE_JOB_STATUSES", "DeleteMode", "Platform", "open_platform"]
