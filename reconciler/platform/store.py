"""The embedded platform's operations, each one transaction that enforces the rules.

Rules live here, not in callers, so that every way in (the local backend, the
``authctl platform`` commands, the served HTTP API) gets the same behaviour.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Result,
    Row,
    String,
    bindparam,
    delete,
    func,
    insert,
    inspect,
    select,
    type_coerce,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from reconciler.bulk import paused_gc
from reconciler.db import make_engine, read_transaction, redact_url, sqlite_path
from reconciler.errors import (
    ConflictError,
    DatabaseError,
    NotFoundError,
    ReferencedError,
    SchemaVersionError,
)
from reconciler.platform import schema as t
from reconciler.platform.crypto import Sealer, load_or_create_key
from reconciler.platform.records import (
    ACTIVE_JOB_STATUSES,
    EDITABLE_AUTH_FIELDS,
    HEALTH_STATUSES,
    JOB_STATUSES,
    AuthRecord,
    ExperienceRecord,
    JobRecord,
    PlatformSnapshot,
    RequestCounts,
)

DeleteMode = Literal["guarded", "cascade"]
# (provider, method, workflow) -> supported? None means "no opinion" (unknown workflow).
WorkflowRule = Callable[[str, str, str], bool | None]


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _utc(value: datetime | None) -> datetime | None:
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


def _utc_from_sqlite_text(text: str | None) -> datetime | None:
    """A SQLite DATETIME as stored by SQLAlchemy (naive UTC wall time) -> aware UTC.

    The same value as ``_utc(datetime.fromisoformat(text))`` (SQLAlchemy's own SQLite
    result processor), without the slow ``replace(tzinfo=...)`` per value.
    """
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text + "+00:00")
    except ValueError:  # not naive text after all: take the long way
        return _utc(datetime.fromisoformat(text))


def _as_text(column: Any) -> Any:
    return type_coerce(column, String).label(column.key)


def _same(column: Any) -> Any:
    return column


def _timestamp_reading(conn: Connection) -> tuple[Callable[[Any], Any], Callable[[Any], datetime | None]]:
    """(how to select a DateTime column, how to turn the value into aware UTC) for bulk reads."""
    if conn.dialect.name == "sqlite":
        return _as_text, _utc_from_sqlite_text
    return _same, _utc


_scan_json = json.JSONDecoder().scan_once


def _json_object(text: str | None) -> Any:
    """``json.loads(text or "{}")``, cheaper for the compact JSON the platform writes."""
    if not text:
        return {}
    try:
        value, end = _scan_json(text, 0)
    except StopIteration:  # leading whitespace, BOM or not JSON: let json.loads decide
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def _new_id() -> str:
    return uuid.uuid4().hex


# Statements of the create path (one apply makes thousands of calls), built once with bound
# parameters: building them with literal values per call costs more than executing them.
_INSERT_AUTH = insert(t.authorizations)
_INSERT_JOB = insert(t.jobs)
_INSERT_JOB_AUTH = insert(t.job_auths)
_LABEL_HOLDER = select(t.authorizations.c.id).where(t.authorizations.c.label_key == bindparam("label_key"))
_LABEL_HOLDER_EXCEPT = _LABEL_HOLDER.where(t.authorizations.c.id != bindparam("exclude"))
_AUTH_KIND_FOR_BINDING = (select(t.authorizations.c.provider, t.authorizations.c.method)
                          .where(t.authorizations.c.id == bindparam("auth_id")).with_for_update())


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
            raise DatabaseError(_explain_db_error(exc, self.url)) from None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read-only transaction: consistent, and no write lock on SQLite."""
        try:
            with read_transaction(self._engine) as conn:
                yield conn
        except OperationalError as exc:
            raise DatabaseError(_explain_db_error(exc, self.url)) from None

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
                {"key": "account_id", "value": _new_id()[:16]},
            ])

    def close(self) -> None:
        self._engine.dispose()

    # -- authorizations --------------------------------------------------------------------
    def create_authorization(self, *, provider: str, method: str, label: str, type: str | None = None,
                             description: str = "", config: Mapping[str, Any] | None = None,
                             credentials: Mapping[str, str] | None = None, owner: str = "authctl",
                             token_expires_at: datetime | None = None,
                             scopes: tuple[str, ...] = ()) -> AuthRecord:
        _require_label(label)
        now = _now()
        row = {
            "id": _new_id(), "provider": provider, "method": method, "type": type, "label": label,
            "label_key": label.casefold(), "description": description or "",
            "secret_blob": self._sealer.seal({"config": dict(config or {}),
                                              "credentials": dict(credentials or {})}),
            "owner": owner, "created": now, "updated": now, "health": "unknown", "health_reason": "",
            "health_checked_at": None, "token_expires_at": _utc(token_expires_at), "scopes": " ".join(scopes),
        }
        try:
            with self._tx() as conn:
                self._check_label_free(conn, label)
                conn.execute(_INSERT_AUTH, row)
        except IntegrityError as exc:
            self._label_taken_meanwhile(label)
            raise DatabaseError(_explain_db_error(exc, self.url)) from None
        return _auth_record(row)

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
            raise DatabaseError(_explain_db_error(exc, self.url)) from None

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
                _require_label(changes["label"])
                self._check_label_free(conn, changes["label"], exclude=auth_id)
                values.update(label=changes["label"], label_key=changes["label"].casefold())
            if "description" in changes and changes["description"] != current["description"]:
                values["description"] = changes["description"] or ""
            if values:
                values["updated"] = _now()
                conn.execute(update(t.authorizations).where(t.authorizations.c.id == auth_id).values(**values))
            return _auth_record({**current, **values})

    def reauthorize(self, auth_id: str, *, credentials: Mapping[str, str],
                    token_expires_at: datetime | None = None, scopes: tuple[str, ...] = ()) -> AuthRecord:
        """Replace the tokens of an OAuth connection in place: same id, jobs keep working."""
        with self._tx() as conn:
            current = self._auth_row(conn, auth_id)
            stored = self._sealer.open(current["secret_blob"])
            stored["credentials"] = dict(credentials)
            values = {"secret_blob": self._sealer.seal(stored), "updated": _now(), "health": "healthy",
                      "health_reason": "", "health_checked_at": _now(),
                      "token_expires_at": _utc(token_expires_at), "scopes": " ".join(scopes)}
            conn.execute(update(t.authorizations).where(t.authorizations.c.id == auth_id).values(**values))
            return _auth_record({**current, **values})

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
                conn.execute(update(t.jobs).where(t.jobs.c.id.in_(ids)).values(status="killed", updated=_now()))
                stopped = active
            conn.execute(delete(t.job_auths).where(t.job_auths.c.auth_id == auth_id))
            conn.execute(delete(t.experience_auths).where(t.experience_auths.c.auth_id == auth_id))
            conn.execute(delete(t.request_counts).where(t.request_counts.c.auth_id == auth_id))
            conn.execute(delete(t.authorizations).where(t.authorizations.c.id == auth_id))
        return stopped

    def get_authorization(self, auth_id: str) -> AuthRecord:
        with self._read() as conn:
            return _auth_record(self._auth_row(conn, auth_id))

    def find_authorization(self, id_or_label: str) -> AuthRecord:
        """By id, else by label (case-insensitive): how people name things in the UI."""
        with self._read() as conn:
            row = conn.execute(select(t.authorizations).where(
                (t.authorizations.c.id == id_or_label)
                | (t.authorizations.c.label_key == id_or_label.casefold()))).mappings().first()
        if row is None:
            raise NotFoundError(f"no authorization with id or label {id_or_label!r}")
        return _auth_record(row)

    def list_authorizations(self) -> list[AuthRecord]:
        with self._read() as conn:
            return [_auth_record(r) for r in conn.execute(select(t.authorizations)).mappings()]

    def stored_secrets(self, auth_id: str) -> dict[str, Any]:
        """Decrypted config and credentials: for the platform's own workers only."""
        with self._tx() as conn:
            return self._sealer.open(self._auth_row(conn, auth_id)["secret_blob"])

    def set_health(self, auth_id: str, status: str, reason: str = "") -> AuthRecord:
        if status not in HEALTH_STATUSES:
            raise ConflictError(f"health must be one of {', '.join(HEALTH_STATUSES)}, not {status!r}")
        with self._tx() as conn:
            current = self._auth_row(conn, auth_id)
            values = {"health": status, "health_reason": reason, "health_checked_at": _now()}
            conn.execute(update(t.authorizations).where(t.authorizations.c.id == auth_id).values(**values))
        self.record_request(auth_id)
        return _auth_record({**current, **values})

    # -- jobs ------------------------------------------------------------------------------
    def create_job(self, *, name: str, workflow: str, auth_ids: list[str] | tuple[str, ...],
                   config: Mapping[str, Any] | None = None, status: str = "runnable",
                   description: str = "", owner: str = "authctl") -> JobRecord:
        _require_status(status)
        now = _now()
        row = {"id": _new_id(), "name": name, "workflow": workflow, "status": status,
               "description": description or "", "config": json.dumps(dict(config or {}), sort_keys=True),
               "owner": owner, "created": now, "updated": now}
        with self._tx() as conn:
            self._check_binding(conn, workflow, auth_ids)
            conn.execute(_INSERT_JOB, row)
            _insert_links(conn, row["id"], auth_ids)
        # What a re-read would return (the links as _insert_links wrote them), without the re-read.
        return _job_record(row, tuple(dict.fromkeys(auth_ids)))

    def update_job(self, job_id: str, *, name: str | None = None, config: Mapping[str, Any] | None = None,
                   auth_ids: list[str] | tuple[str, ...] | None = None,
                   description: str | None = None) -> JobRecord:
        """Full replace of the given fields (Lytics PUT semantics); status changes go elsewhere."""
        with self._tx() as conn:
            job = self._job(conn, job_id)
            values: dict[str, Any] = {"updated": _now()}
            if name is not None:
                values["name"] = name
            if description is not None:
                values["description"] = description
            if config is not None:
                values["config"] = json.dumps(dict(config), sort_keys=True)
            if auth_ids is not None and tuple(auth_ids) != job.auth_ids:
                self._check_binding(conn, job.workflow, auth_ids)
                conn.execute(delete(t.job_auths).where(t.job_auths.c.job_id == job_id))
                _insert_links(conn, job_id, auth_ids)
            conn.execute(update(t.jobs).where(t.jobs.c.id == job_id).values(**values))
            return self._job(conn, job_id)

    def set_job_status(self, job_id: str, status: str) -> JobRecord:
        _require_status(status)
        with self._tx() as conn:
            self._job(conn, job_id)
            conn.execute(update(t.jobs).where(t.jobs.c.id == job_id).values(status=status, updated=_now()))
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
        exp_id = _new_id()
        now = _now()
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
            col, ts = _timestamp_reading(conn)
            auths = [
                AuthRecord(id_, provider, method, type_, label, description or "", owner, ts(created),
                           ts(updated), health, health_reason or "", ts(checked_at), ts(expires_at),
                           tuple(scopes.split()) if scopes else ())
                for (id_, provider, method, type_, label, description, owner, created, updated, health,
                     health_reason, checked_at, expires_at, scopes) in _batched(conn.execute(select(
                         a.id, a.provider, a.method, a.type, a.label, a.description, a.owner, col(a.created),
                         col(a.updated), a.health, a.health_reason, col(a.health_checked_at),
                         col(a.token_expires_at), a.scopes)))
            ]
            links = _job_links(conn)
            query = select(j.id, j.name, j.workflow, j.status, j.description, j.config, j.owner, col(j.created),
                           col(j.updated))
            if not include_deleted:
                query = query.where(j.status != "deleted")
            jobs = [
                JobRecord(id_, name, workflow, status, description or "", _json_object(config),
                          links.get(id_, ()), owner, ts(created), ts(updated))  # type: ignore[arg-type]
                for id_, name, workflow, status, description, config, owner, created, updated
                in _batched(conn.execute(query))
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
        hour = (at or _now()).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
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
        now = _utc(now) or _now()
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
            other = conn.execute(_LABEL_HOLDER_EXCEPT, {"label_key": label.casefold(), "exclude": exclude}).scalar()
        else:
            other = conn.execute(_LABEL_HOLDER, {"label_key": label.casefold()}).scalar()
        if other is not None:
            raise ConflictError(f"label {label!r} is already used by authorization {other}; labels must be unique")

    def _check_binding(self, conn: Connection, workflow: str, auth_ids: list[str] | tuple[str, ...]) -> None:
        if not auth_ids:
            raise ConflictError("a job needs at least one authorization")
        for auth_id in auth_ids:
            row = conn.execute(_AUTH_KIND_FOR_BINDING, {"auth_id": auth_id}).mappings().first()  # locks it
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
        return _job_record(row, links)

    def _references(self, conn: Connection, auth_id: str) -> tuple[list[JobRecord], list[ExperienceRecord]]:
        job_ids = conn.execute(select(t.job_auths.c.job_id).where(t.job_auths.c.auth_id == auth_id)).scalars().all()
        jobs = [j for j in (self._job(conn, i) for i in job_ids) if j.status != "deleted"]
        exp_rows = conn.execute(
            select(t.experiences).join(t.experience_auths, t.experience_auths.c.experience_id == t.experiences.c.id)
            .where(t.experience_auths.c.auth_id == auth_id)).mappings().all()
        experiences = [ExperienceRecord(r["id"], r["name"], r["status"], (auth_id,), _utc(r["created"]))  # type: ignore[arg-type]
                       for r in exp_rows]
        return jobs, experiences


def _batched(result: Result[Any], size: int = 2_000) -> Iterator[Row[Any]]:
    """A big result's rows, fetched ``size`` at a time.

    Iterating a result directly costs one DBAPI ``fetchone`` per row, which is Python
    code in psycopg (several times slower than its ``fetchmany``).
    """
    for batch in result.partitions(size):
        yield from batch


def _job_links(conn: Connection) -> dict[str, tuple[str, ...]]:
    """Every job's authorization ids in binding order, in one query.

    Sorted here rather than with ORDER BY job_id, position: SQLite would walk the
    primary-key index and look every row up in the table (three times slower), and
    almost every job has a single binding.
    """
    bound: dict[str, list[tuple[int, str]]] = {}
    for job_id, auth_id, position in _batched(conn.execute(
            select(t.job_auths.c.job_id, t.job_auths.c.auth_id, t.job_auths.c.position))):
        pairs = bound.get(job_id)
        if pairs is None:
            bound[job_id] = [(position, auth_id)]
        else:
            pairs.append((position, auth_id))
    return {job_id: (pairs[0][1],) if len(pairs) == 1 else tuple(a for _, a in sorted(pairs))
            for job_id, pairs in bound.items()}


def _insert_links(conn: Connection, job_id: str, auth_ids: list[str] | tuple[str, ...]) -> None:
    conn.execute(_INSERT_JOB_AUTH, [
        {"job_id": job_id, "auth_id": a, "position": i} for i, a in enumerate(dict.fromkeys(auth_ids))])


def _auth_record(row: Mapping[str, Any]) -> AuthRecord:
    return AuthRecord(
        id=row["id"], provider=row["provider"], method=row["method"], type=row["type"], label=row["label"],
        description=row["description"] or "", owner=row["owner"], created=_utc(row["created"]),  # type: ignore[arg-type]
        updated=_utc(row["updated"]), health=row["health"], health_reason=row["health_reason"] or "",  # type: ignore[arg-type]
        health_checked_at=_utc(row["health_checked_at"]), token_expires_at=_utc(row["token_expires_at"]),
        scopes=tuple(row["scopes"].split()) if row["scopes"] else (),
    )


def _job_record(row: Mapping[str, Any], auth_ids: list[str] | tuple[str, ...]) -> JobRecord:
    return JobRecord(
        id=row["id"], name=row["name"], workflow=row["workflow"], status=row["status"],
        description=row["description"] or "", config=json.loads(row["config"] or "{}"), auth_ids=tuple(auth_ids),
        owner=row["owner"], created=_utc(row["created"]), updated=_utc(row["updated"]),  # type: ignore[arg-type]
    )


def _require_label(label: str) -> None:
    if not isinstance(label, str) or not label.strip():
        raise ConflictError("an authorization needs a non-empty label")


def _require_status(status: str) -> None:
    if status not in JOB_STATUSES:
        raise ConflictError(f"unknown job status {status!r} (statuses: {', '.join(JOB_STATUSES)})")


def _explain_db_error(exc: SQLAlchemyError, url: str) -> str:
    text = str(getattr(exc, "orig", exc))
    where = redact_url(url)
    if "locked" in text:
        return f"the platform database {where} is locked by another process; try again"
    if "unable to open" in text or "readonly" in text or "not a database" in text:
        return f"the platform database {where} cannot be used: {text}"
    return f"platform database error ({where}): {text}"


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
        try:
            platform._initialise()
        except IntegrityError:  # another process initialised it at the same moment
            platform._initialise()
    except SQLAlchemyError as exc:
        platform.close()
        raise DatabaseError(_explain_db_error(exc, url)) from None
    except BaseException:
        # A refused open (wrong key, newer schema) must leave no connection, -wal or -shm behind.
        platform.close()
        raise
    return platform


__all__ = ["ACTIVE_JOB_STATUSES", "DeleteMode", "Platform", "open_platform"]
