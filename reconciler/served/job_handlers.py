"""Jobs: ``/v2/job``, as Lytics answers it.

A job's config is checked against its workflow's fields in the catalog (unknown keys
allowed: Lytics' workflows have more settings than the catalog models; an unknown
workflow is accepted unchecked, as the embedded platform accepts it). Its own id is
looked up before anything else, so a 404 names the job (JOB-NOTFOUND-004) and a later
one a missing authorization (AUTH-NOTFOUND-006).

Listing hides ``completed`` jobs unless ``show_completed=true`` (finished work, as Lytics
hides it; failed, killed and faulted jobs stay listed because someone must look at them)
and ``deleted`` jobs unless ``show_deleted=true``.
"""

from __future__ import annotations

from typing import Any

from reconciler.errors import NotFoundError
from reconciler.lytics_wire import ErrorCode, JobIn
from reconciler.platform import JobRecord, Platform
from reconciler.served.context import API_OWNER, Call, Reply, Served
from reconciler.served.envelopes import ApiFailure
from reconciler.served.gateway import JOB_REFUSALS
from reconciler.served.inputs import check_config, check_length, flag, id_list, parse_model
from reconciler.served.mapping import job_out
from reconciler.served.paging import page
from reconciler.vocabulary import JobStatus

NAME_MAX = 255  # the platform's column sizes (reconciler/platform/schema.py)
WORKFLOW_MAX = 128


def existing_job(platform: Platform, job_id: str, workflow: str | None = None) -> JobRecord:
    """The job ``job_id`` (of ``workflow`` when given); 404 JOB-NOTFOUND-004 otherwise."""
    try:
        job = platform.get_job(job_id)
    except NotFoundError:
        job = None
    if job is None or (workflow is not None and job.workflow != workflow):
        where = f" in workflow {workflow!r}" if workflow is not None else ""
        raise ApiFailure(404, ErrorCode.JOB_NOTFOUND, f"no job with id {job_id!r}{where}")
    return job


def _checked_request(served: Served, workflow: str, body: dict[str, Any] | None) -> JobIn:
    check_length(workflow, WORKFLOW_MAX, "workflow", ErrorCode.JOB_BADREQ)
    job = parse_model(JobIn, body or {}, ErrorCode.JOB_BADREQ)
    if not job.name.strip():
        raise ApiFailure(400, ErrorCode.JOB_BADREQ, "name: must not be blank")
    check_length(job.name, NAME_MAX, "name", ErrorCode.JOB_BADREQ)
    spec = served.catalog.workflow_spec(workflow)
    if spec is not None:
        check_config(spec.fields, job.config, ErrorCode.JOB_BADREQ, unknown_allowed=True)
    return job


def _visible(job: JobRecord, workflow: str | None, auth_ids: set[str], show_completed: bool) -> bool:
    return ((workflow is None or job.workflow == workflow)
            and (not auth_ids or not auth_ids.isdisjoint(job.auth_ids))
            and (show_completed or job.status is not JobStatus.COMPLETED))


async def list_jobs(served: Served, call: Call) -> Reply:
    workflow = call.query.get("workflow") or None
    auth_ids = set(id_list(call.query, "auth_ids") + id_list(call.query, "auth_ids[]"))
    show_completed = flag(call.query, "show_completed")
    show_deleted = flag(call.query, "show_deleted")
    jobs = await served.gateway.run(lambda p: p.list_jobs(include_deleted=show_deleted), JOB_REFUSALS)
    chosen = [j for j in jobs if _visible(j, workflow, auth_ids, show_completed)]
    shown, meta = page(chosen, lambda j: j.id, call.query)
    return Reply([job_out(j, served.account_id) for j in shown], meta)


async def create_job(served: Served, call: Call) -> Reply:
    workflow = call.path["workflow_or_id"]
    job = _checked_request(served, workflow, call.body)
    record = await served.gateway.run(lambda p: p.create_job(
        name=job.name, workflow=workflow, auth_ids=job.auth_ids, config=job.config, description=job.description,
        owner=API_OWNER), JOB_REFUSALS)
    return Reply(job_out(record, served.account_id))


async def get_job(served: Served, call: Call) -> Reply:
    workflow, job_id = call.path["workflow"], call.path["id"]
    record = await served.gateway.run(lambda p: existing_job(p, job_id, workflow), JOB_REFUSALS)
    return Reply(job_out(record, served.account_id))


async def replace_job(served: Served, call: Call) -> Reply:
    """A full replace (Lytics PUT): name, config, auth_ids and description all become what was sent."""
    workflow, job_id = call.path["workflow"], call.path["id"]
    job = _checked_request(served, workflow, call.body)

    def work(p: Platform) -> JobRecord:
        existing_job(p, job_id, workflow)
        return p.update_job(job_id, name=job.name, config=job.config, auth_ids=job.auth_ids,
                            description=job.description)

    return Reply(job_out(await served.gateway.run(work, JOB_REFUSALS), served.account_id))


async def _set_status(served: Served, job_id: str, status: JobStatus) -> Reply:
    def work(p: Platform) -> JobRecord:
        existing_job(p, job_id)
        return p.set_job_status(job_id, status)

    return Reply(job_out(await served.gateway.run(work, JOB_REFUSALS), served.account_id))


async def pause_job(served: Served, call: Call) -> Reply:
    return await _set_status(served, call.path["id"], JobStatus.PAUSED)


async def resume_job(served: Served, call: Call) -> Reply:
    return await _set_status(served, call.path["id"], JobStatus.RUNNABLE)


async def kill_job(served: Served, call: Call) -> Reply:
    return await _set_status(served, call.path["id"], JobStatus.KILLED)


async def delete_job(served: Served, call: Call) -> Reply:
    """A soft delete, as Lytics does: the job stays, with status ``deleted`` (listed with ``show_deleted``)."""
    return await _set_status(served, call.path["workflow_or_id"], JobStatus.DELETED)
