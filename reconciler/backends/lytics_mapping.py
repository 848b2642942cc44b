"""Between Lytics wire objects (reconciler/lytics_wire.py) and live models: pure, no I/O.

Reads: an authorization's type slug names its provider and method through the catalog
(``Catalog.by_api_type``; an unknown type reads as method ``type:<slug>``), a job's status
word through ``JobStatus.parse`` (an unknown word is ``unknown``), and descriptions lose
the creation-marker line authctl appended (``split_marker``). Times become aware UTC.

Writes: :func:`request_body` builds a request body from a wire model, refusing a value
the model rejects by naming the field, never the value (it may be a credential).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from reconciler.catalog import Catalog
from reconciler.errors import PermanentBackendError
from reconciler.live import LiveAuthorization, LiveExperience, LiveJob
from reconciler.lytics_wire import AuthOut, ExperienceOut, JobOut, split_marker
from reconciler.vocabulary import Health, JobStatus

W = TypeVar("W", bound=BaseModel)


def _utc(value: datetime | None) -> datetime | None:
    """Times as aware UTC datetimes (a server that sends none of a zone means UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_live_authorization(out: AuthOut, catalog: Catalog) -> LiveAuthorization:
    found = catalog.by_api_type(out.type) if out.type else None
    if found is not None:
        provider, method = found[0].name, found[1].name
    else:
        provider, method = out.provider_slug or "unknown", f"type:{out.type or 'unknown'}"
    health = Health.UNHEALTHY if out.unhealthy else Health(out.status)
    return LiveAuthorization(
        id=out.id, provider=provider, method=method, type=out.type or None, label=out.label,
        description=split_marker(out.description)[0], health=health, health_reason=out.health_reason or "",
        owner=out.user_id, created=_utc(out.created), updated=_utc(out.updated),
        health_checked_at=_utc(out.health_checked_at), token_expires_at=_utc(out.token_expires_at),
        scopes=tuple(out.scopes or ()))


def job_status(word: str, deleted: bool = False) -> JobStatus:
    """The API's status word as a JobStatus; a word authctl does not know is ``unknown``."""
    if deleted:
        return JobStatus.DELETED
    try:
        return JobStatus.parse(word)
    except ValueError:
        return JobStatus.UNKNOWN


def to_live_job(out: JobOut) -> LiveJob:
    return LiveJob(
        id=out.id, name=out.name, workflow=out.workflow, status=job_status(out.status, out.deleted),
        auth_ids=tuple(out.auth_ids), config=dict(out.config), description=split_marker(out.description)[0],
        owner=out.user_id, created=_utc(out.created), updated=_utc(out.updated))


def to_live_experience(out: ExperienceOut) -> LiveExperience:
    return LiveExperience(id=out.id, name=out.name, auth_ids=tuple(out.auth_ids), status=out.status)


def request_body(model: type[W], **fields: Any) -> bytes:
    """A request body from a wire model; a refusal names the field, never the value."""
    try:
        return model(**fields).model_dump_json(exclude_unset=True, exclude_none=True).encode("utf-8")
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                             for e in exc.errors(include_url=False, include_input=False, include_context=False)[:3])
        raise PermanentBackendError(f"cannot send this {model.__name__}: {problems}", code="BADREQ") from None


__all__ = ["job_status", "request_body", "to_live_authorization", "to_live_experience", "to_live_job"]
