"""``/v2/_authctl/...``: what people do in the platform's UI, which the Lytics API has no endpoint for.

Tests and demos use these to change the world behind authctl's back over the same HTTP
connection the ``lytics`` backend uses: import an experience (the v2 API has no
experiences at all), force a job's status (``running``, ``failed``...), record a health
check, read request counters. The OpenAPI document tags them ``authctl extension``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler.errors import NotFoundError
from reconciler.lytics_wire import ErrorCode, ExperienceIn, HealthIn, HourCountOut, JobStatusIn, RequestCountsOut
from reconciler.platform import AuthRecord, JobRecord, Platform, RequestCounts
from reconciler.served.context import Call, Reply, Served
from reconciler.served.envelopes import ApiFailure
from reconciler.served.gateway import AUTH_REFUSALS, JOB_REFUSALS
from reconciler.served.inputs import check_length, parse_model
from reconciler.served.job_handlers import NAME_MAX, existing_job
from reconciler.served.mapping import auth_out, experience_out, job_out
from reconciler.served.paging import page
from reconciler.vocabulary import JobStatus

_YEARS = range(1900, 9000)  # a time outside these cannot be converted to UTC and stored everywhere


def _existing_auth(platform: Platform, auth_id: str) -> AuthRecord:
    try:
        return platform.get_authorization(auth_id)
    except NotFoundError:
        raise ApiFailure(404, ErrorCode.AUTH_NOTFOUND, f"no authorization with id {auth_id!r}") from None


def _check_time(value: datetime | None, field: str) -> None:
    if value is not None and value.year not in _YEARS:
        raise ApiFailure(400, ErrorCode.AUTH_BADREQ, f"{field}: must be between the years "
                                                     f"{_YEARS.start} and {_YEARS.stop - 1}")


async def list_experiences(served: Served, call: Call) -> Reply:
    records = await served.gateway.run(lambda p: p.list_experiences(), AUTH_REFUSALS)
    shown, meta = page(records, lambda e: e.id, call.query)
    return Reply([experience_out(e) for e in shown], meta)


async def create_experience(served: Served, call: Call) -> Reply:
    body = parse_model(ExperienceIn, call.body or {}, ErrorCode.BADREQ)
    check_length(body.name, NAME_MAX, "name", ErrorCode.BADREQ)
    record = await served.gateway.run(lambda p: p.create_experience(name=body.name, auth_ids=body.auth_ids),
                                      AUTH_REFUSALS)
    return Reply(experience_out(record))


async def set_job_status(served: Served, call: Call) -> Reply:
    job_id = call.path["id"]
    body = parse_model(JobStatusIn, call.body or {}, ErrorCode.JOB_BADREQ)
    try:
        status = JobStatus.parse(body.status)
    except ValueError as exc:
        raise ApiFailure(400, ErrorCode.JOB_BADREQ, f"status: {exc}") from None

    def work(p: Platform) -> JobRecord:
        existing_job(p, job_id)
        return p.set_job_status(job_id, status)

    return Reply(job_out(await served.gateway.run(work, JOB_REFUSALS), served.account_id))


async def record_health(served: Served, call: Call) -> Reply:
    auth_id = call.path["id"]
    body = parse_model(HealthIn, call.body or {}, ErrorCode.AUTH_BADREQ)
    _check_time(body.checked_at, "checked_at")
    _check_time(body.token_expires_at, "token_expires_at")

    def work(p: Platform) -> AuthRecord:
        _existing_auth(p, auth_id)
        return p.record_health(auth_id, status=body.status, reason=body.reason, checked_at=body.checked_at,
                               scopes=tuple(body.scopes) if body.scopes is not None else None,
                               token_expires_at=body.token_expires_at)

    record = await served.gateway.run(work, AUTH_REFUSALS)
    return Reply(auth_out(record, served.catalog, served.account_id))


def _moment(raw: str | None) -> datetime | None:
    """``?now=``: an ISO 8601 time (UTC when it names no offset); 400 BADREQ-001 otherwise."""
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiFailure(400, ErrorCode.BADREQ, "now: must be an ISO 8601 date and time") from None
    if moment.year not in _YEARS:
        raise ApiFailure(400, ErrorCode.BADREQ, f"now: must be between the years {_YEARS.start} and "
                                                f"{_YEARS.stop - 1}")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def request_counts(served: Served, call: Call) -> Reply:
    """Counts in the hour, day, week and month ending now (or at ``?now=``, as the local backend takes it)."""
    auth_id = call.path["id"]
    now = _moment(call.query.get("now"))

    def work(p: Platform) -> tuple[RequestCounts, list[tuple[datetime, int]]]:
        _existing_auth(p, auth_id)
        return p.request_counts(auth_id, now), p.request_series(auth_id, now)

    counts, series = await served.gateway.run(work, AUTH_REFUSALS)
    return Reply(RequestCountsOut(hour=counts.hour, day=counts.day, week=counts.week, month=counts.month,
                                  hourly=[HourCountOut(hour=hour, count=count) for hour, count in series]))
