"""The route table: every operation served, described once for the router and the OpenAPI document.

An :class:`Operation` names its method, path template, handler, request and response
models, success status and the errors it can answer, so ``app.py`` builds the Starlette
routes and ``openapi.py`` the document from the same rows and they cannot disagree.

Path templates: Lytics puts ``POST /v2/auth/{type}`` and ``DELETE /v2/auth/{id}`` (and
likewise for jobs) on one path shape, and OpenAPI forbids two templates that differ only in
a parameter's name, so those share ``{type_or_id}`` / ``{workflow_or_id}``, each operation
saying which it means. ``/v2/_authctl/...`` are authctl's extensions (extension_handlers.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from reconciler.lytics_wire import (
    AuthDeletedOut,
    AuthIn,
    AuthOut,
    AuthUpdateIn,
    ExperienceIn,
    ExperienceOut,
    HealthCheckIn,
    HealthIn,
    HealthReportsOut,
    JobIn,
    JobOut,
    JobStatusIn,
    OAuthGrantIn,
    OAuthMethodOut,
    OAuthTokensIn,
    ProviderOut,
    RefreshIn,
    RefreshReportsOut,
    RequestCountsOut,
)
from reconciler.served import auth_handlers as auths
from reconciler.served import extension_handlers as ext
from reconciler.served import health_handlers as health
from reconciler.served import job_handlers as jobs
from reconciler.served import oauth_handlers as oauth
from reconciler.served.context import Handler

AUTHS, JOBS, PROVIDERS, EXTENSIONS = "authorizations", "jobs", "providers", "authctl extension"
AUTH_TYPES = "auth_types"  # a parameter whose values are the catalog's auth type slugs (openapi.py lists them)


@dataclass(frozen=True)
class Param:
    """A path or query parameter as the OpenAPI document describes it."""

    name: str
    location: Literal["path", "query"]
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string", "minLength": 1})
    values: str | None = None  # AUTH_TYPES: the schema's enum comes from the catalog
    repeated: bool = False  # a query list: ?name=a&name=b (commas also split)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    response: type[BaseModel]
    many: bool = False  # data is a list of ``response`` (paged with ?limit and ?cursor)
    status: int = 200
    body: type[BaseModel] | None = None
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()  # beyond those every /v2 operation can answer (openapi.py)
    creates: bool = False  # --drop-create-rate applies


def _path(name: str, description: str, values: str | None = None) -> Param:
    return Param(name, "path", description, values=values)


def _query(name: str, description: str, schema: dict[str, Any], repeated: bool = False) -> Param:
    return Param(name, "query", description, schema, repeated=repeated)


AUTH_ID = _path("id", "The authorization's id.")
JOB_ID = _path("id", "The job's id.")
TYPE = _path("type", "The authorization type slug (e.g. fb-system-user).")
WORKFLOW = _path("workflow", "The job's workflow slug.")
FLAG = {"type": "boolean", "default": False}
OAUTH_METHOD = (_path("provider", "The provider (e.g. pinterest)."),
                _path("method", "The provider's OAuth method (e.g. oauth)."))
JOB_FILTERS = (
    _query("workflow", "Only jobs of this workflow.", {"type": "string"}),
    _query("auth_ids", "Only jobs that use one of these authorizations (repeat, or separate with commas).",
           {"type": "array", "items": {"type": "string"}}, repeated=True),
    _query("show_completed", "Also list completed jobs (hidden by default, as Lytics hides finished work).", FLAG),
    _query("show_deleted", "Also list deleted jobs.", FLAG),
)

OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/v2/auth", auths.list_auths, "listAuths", "List authorizations", AUTHS, AuthOut, many=True),
    Operation("POST", "/v2/auth/{type_or_id}", auths.create_auth, "createAuth",
              "Create an authorization of a type; config holds the type's fields, secrets included (write-only)",
              AUTHS, AuthOut, status=201, body=AuthIn, creates=True, errors=(404, 409),
              params=(_path("type_or_id", "The authorization type slug.", values=AUTH_TYPES),)),
    Operation("DELETE", "/v2/auth/{type_or_id}", auths.delete_auth, "deleteAuth",
              "Delete an authorization; guarded mode refuses while active jobs or experiences use it, "
              "cascade mode stops those jobs (as Lytics does)", AUTHS, AuthDeletedOut, errors=(404, 409),
              params=(_path("type_or_id", "The authorization's id."),)),
    Operation("GET", "/v2/auth/{type}/{id}", auths.get_auth, "getAuth", "Get an authorization", AUTHS, AuthOut,
              errors=(404,), params=(TYPE, AUTH_ID)),
    Operation("PUT", "/v2/auth/{type}/{id}", auths.update_auth, "updateAuth",
              "Change an authorization's label and/or description (config is immutable)", AUTHS, AuthOut,
              body=AuthUpdateIn, errors=(404, 409), params=(TYPE, AUTH_ID)),
    Operation("GET", "/v2/provider", auths.list_providers, "listProviders", "List providers", PROVIDERS,
              ProviderOut, many=True),
    Operation("GET", "/v2/job", jobs.list_jobs, "listJobs", "List jobs", JOBS, JobOut, many=True,
              params=JOB_FILTERS),
    Operation("POST", "/v2/job/{workflow_or_id}", jobs.create_job, "createJob", "Create a job (status runnable)",
              JOBS, JobOut, status=201, body=JobIn, creates=True, errors=(404,),
              params=(_path("workflow_or_id", "The workflow slug."),)),
    Operation("DELETE", "/v2/job/{workflow_or_id}", jobs.delete_job, "deleteJob",
              "Delete a job (it stays, with status deleted)", JOBS, JobOut, errors=(404,),
              params=(_path("workflow_or_id", "The job's id."),)),
    Operation("POST", "/v2/job/{id}/pause", jobs.pause_job, "pauseJob", "Pause a job", JOBS, JobOut,
              errors=(404,), params=(JOB_ID,)),
    Operation("POST", "/v2/job/{id}/resume", jobs.resume_job, "resumeJob", "Resume a job", JOBS, JobOut,
              errors=(404,), params=(JOB_ID,)),
    Operation("POST", "/v2/job/{id}/kill", jobs.kill_job, "killJob", "Stop a job for good", JOBS, JobOut,
              errors=(404,), params=(JOB_ID,)),
    Operation("GET", "/v2/job/{workflow}/{id}", jobs.get_job, "getJob", "Get a job", JOBS, JobOut,
              errors=(404,), params=(WORKFLOW, JOB_ID)),
    Operation("PUT", "/v2/job/{workflow}/{id}", jobs.replace_job, "replaceJob",
              "Replace a job: name, config, auth_ids and description all become what is sent", JOBS, JobOut,
              body=JobIn, errors=(404,), params=(WORKFLOW, JOB_ID)),
    Operation("GET", "/v2/_authctl/experience", ext.list_experiences, "listExperiences",
              "List imported experiences (authctl extension: the Lytics v2 API has no experiences endpoint)",
              EXTENSIONS, ExperienceOut, many=True),
    Operation("POST", "/v2/_authctl/experience", ext.create_experience, "createExperience",
              "Import an experience that uses authorizations (authctl extension)", EXTENSIONS, ExperienceOut,
              status=201, body=ExperienceIn, errors=(404,)),
    Operation("PUT", "/v2/_authctl/job/{id}/status", ext.set_job_status, "setJobStatus",
              "Set a job's status to any status word, running included (authctl extension)", EXTENSIONS, JobOut,
              body=JobStatusIn, errors=(404,), params=(JOB_ID,)),
    Operation("PUT", "/v2/_authctl/auth/{id}/health", ext.record_health, "recordHealth",
              "Record the result of a health check (authctl extension)", EXTENSIONS, AuthOut, body=HealthIn,
              errors=(404,), params=(AUTH_ID,)),
    Operation("GET", "/v2/_authctl/auth/{id}/requests", ext.request_counts, "requestCounts",
              "Requests made with an authorization per hour, day, week and month, and the hours of the last 30 "
              "days that saw requests (authctl extension)", EXTENSIONS,
              RequestCountsOut, errors=(404,),
              params=(AUTH_ID, _query("now", "Count the windows ending at this time (default: now).",
                                      {"type": "string", "format": "date-time"}))),
    Operation("POST", "/v2/_authctl/health-check", health.health_check, "checkHealth",
              "Run the provider health checks of authorizations where their credentials are, refreshing expiring "
              "OAuth tokens first, and record the results (authctl extension)", EXTENSIONS, HealthReportsOut,
              body=HealthCheckIn, errors=(404,)),
    Operation("POST", "/v2/_authctl/refresh", health.refresh, "refreshTokens",
              "Refresh the OAuth 2 tokens of authorizations (those close to expiry, or all with force), storing "
              "rotated refresh tokens atomically (authctl extension)", EXTENSIONS, RefreshReportsOut,
              body=RefreshIn, errors=(404,)),
    Operation("GET", "/v2/_authctl/oauth/{provider}/{method}", oauth.oauth_method, "getOAuthMethod",
              "Whether the platform takes tokens for this OAuth method (authctl extension: Lytics makes OAuth "
              "connections in its UI)", EXTENSIONS, OAuthMethodOut, errors=(404,), params=OAUTH_METHOD),
    Operation("POST", "/v2/_authctl/oauth/{provider}/{method}", oauth.create_oauth_auth, "createOAuthAuth",
              "Create an OAuth connection from the tokens of `authctl login` (authctl extension; the tokens are "
              "write-only)", EXTENSIONS, AuthOut, status=201, body=OAuthGrantIn, creates=True, errors=(404, 409),
              params=OAUTH_METHOD),
    Operation("PUT", "/v2/_authctl/auth/{id}/tokens", oauth.replace_tokens, "replaceOAuthTokens",
              "Re-authorize an OAuth connection in place with new tokens: same id, health healthy (authctl "
              "extension; the tokens are write-only)", EXTENSIONS, AuthOut, body=OAuthTokensIn, errors=(404,),
              params=(AUTH_ID,)),
)
