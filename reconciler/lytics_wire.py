"""The Lytics v2 API on the wire: envelopes, objects, error codes and creation markers.

Both sides share this module. The served platform (``reconciler.served``) writes these
shapes and derives its ``/openapi.json`` from them; the ``lytics`` backend validates every
response with them, so a wrong shape is one clear error naming the endpoint, never a
``KeyError`` deep inside the planner.

Field names are Lytics' own (``models.AuthResponse``, ``models.JobResponse``, the error
envelope ``lioerrors.ApiV2ErrorOut``). The real API says nothing of a health reason, the
scopes granted or a token's expiry; the served platform adds them as optional fields
(``health_reason``, ``health_checked_at``, ``scopes``, ``token_expires_at``) and the client
reads them when present, so it works against either. Secrets are write-only: no response
model has a field that could carry one, and ``extra="ignore"`` drops anything a server
adds beyond them before it reaches authctl.

Creation markers: Lytics keeps a job's or an authorization's ``description`` exactly as
sent, so a create appends one line naming its marker (like the tags Terraform puts on
cloud objects); :func:`split_marker` takes it off again when reading. A person sees the
line in the Lytics UI and knows the object is managed.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from reconciler.vocabulary import Health

T = TypeVar("T")


class ErrorCode(StrEnum):
    """Lytics' error codes (``lioerrors.ApiV2ErrorOut.code``) that authctl sends or handles."""

    BADREQ = "BADREQ-001"
    JOB_BADREQ = "JOB-BADREQ-002"
    NOTFOUND = "NOTFOUND-003"
    JOB_NOTFOUND = "JOB-NOTFOUND-004"
    WF_NOTFOUND = "WF-NOTFOUND-005"
    AUTH_NOTFOUND = "AUTH-NOTFOUND-006"
    AUTHTYPE_NOTFOUND = "AUTHTYPE-NOTFOUND-007"
    AUTH_BADREQ = "AUTH-BADREQ-008"
    PROVIDER_NOTFOUND = "PROVIDER-NOTFOUND-016"
    UNAUTHORIZED = "UNAUTHORIZED-017"
    INTERNAL = "INTERNAL-019"
    JOB_FAULT = "JOB-FAULT-022"
    JSON_BADREQ = "JSON-BADREQ-025"
    FORBIDDEN = "FORBIDDEN-026"


class _Wire(BaseModel):
    """Lenient on input (servers add fields), strict about the fields authctl relies on."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# -- envelopes ----------------------------------------------------------------------------------------
class ApiError(_Wire):
    code: str
    level: str = "error"
    message: str = ""
    timestamp: datetime | None = None


class ErrorEnvelope(_Wire):
    errors: list[ApiError] = Field(min_length=1)
    request_id: str = ""
    status: int


class Envelope(_Wire, Generic[T]):
    """``{"data": ..., "status": 200, "request_id": ..., "_meta": {...}}``."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    data: T
    status: int = 200
    request_id: str = ""
    meta: dict[str, Any] = Field(default_factory=dict, alias="_meta")
    next: str | None = Field(default=None, alias="_next")  # a cursor at the top level, if one ever appears

    @property
    def cursor(self) -> str | None:
        """Where the next page starts (``_meta._next``, ``_meta.next`` or ``_next``); None on the last page."""
        value = self.meta.get("_next") or self.meta.get("next") or self.next
        return value if isinstance(value, str) and value else None


# -- objects ------------------------------------------------------------------------------------------

class AuthOut(_Wire):
    """``models.AuthResponse``: never a secret, never the config."""

    id: str = Field(min_length=1)
    account_id: str = ""
    provider_id: str = ""
    provider_slug: str = ""
    type: str = ""
    label: str
    description: str = ""
    status: Health = Health.UNKNOWN
    unhealthy: bool = False
    created: datetime | None = None
    updated: datetime | None = None
    last_accessed_at: datetime | None = None
    user_id: str = ""
    # Served-platform additions (absent on the real API):
    health_reason: str | None = None
    health_checked_at: datetime | None = None
    token_expires_at: datetime | None = None
    scopes: list[str] | None = None


class AuthIn(_Wire):
    """``models.AuthRequest``: ``config`` holds the type's fields, secrets included (write-only)."""

    label: str = Field(min_length=1)
    description: str = ""
    config: dict[str, Any]
    provider_id: str = ""
    provider_slug: str = ""
    type: str = ""
    user_id: str = ""


class AuthUpdateIn(_Wire):
    """What the PUT of an authorization may change (config is immutable on the platforms)."""

    label: str | None = Field(default=None, min_length=1)
    description: str | None = None


class JobOut(_Wire):
    """``models.JobResponse``; ``status`` in the API's words (``runnable``, ``sleeping``, ...)."""

    id: str = Field(min_length=1)
    account_id: str = ""
    name: str
    workflow: str
    workflow_id: str = ""
    status: str
    config: dict[str, Any] = Field(default_factory=dict)
    auth_ids: list[str] = Field(default_factory=list)
    description: str = ""
    created: datetime | None = None
    updated: datetime | None = None
    user_id: str = ""
    deleted: bool = False
    sleep_until: datetime | None = None


class JobIn(_Wire):
    """``models.JobRequest``: a PUT is a full replace, so it carries every field."""

    name: str = Field(min_length=1)
    config: dict[str, Any]
    auth_ids: list[str] = Field(default_factory=list)
    description: str = ""
    expires_at: datetime | None = None


class AuthDeletedOut(_Wire):
    """The answer to a delete: the id, and the jobs the platform stopped because they used it (cascade).

    ``warnings`` (served platform): what went wrong beside the delete, e.g. an OAuth grant's
    tokens that the provider did not revoke.
    """

    id: str = Field(min_length=1)
    stopped_job_ids: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class ExperienceOut(_Wire):
    """An imported experience and the authorizations it uses (the delete guard counts it)."""

    id: str = Field(min_length=1)
    name: str = ""
    status: str = "imported"
    auth_ids: list[str] = Field(default_factory=list)
    created: datetime | None = None


class ProviderOut(_Wire):
    id: str
    slug: str
    name: str = ""


# -- served-platform extensions (operator actions the real API has no endpoint for) ------------------
class HealthIn(_Wire):
    status: Health
    reason: str = ""
    checked_at: datetime | None = None
    scopes: list[str] | None = None
    token_expires_at: datetime | None = None


class JobStatusIn(_Wire):
    status: str


class ExperienceIn(_Wire):
    name: str = Field(min_length=1)
    auth_ids: list[str] = Field(min_length=1)


class HourCountOut(_Wire):
    hour: datetime  # the start of the UTC hour
    count: int = 0


class RequestCountsOut(_Wire):
    """Requests per window; ``hourly``: the hours of the last 30 days with requests, oldest first (sparse)."""

    hour: int = 0
    day: int = 0
    week: int = 0
    month: int = 0
    hourly: list[HourCountOut] = Field(default_factory=list)


MAX_CHECK_IDS = 1000  # authorizations one health-check or refresh request may name (clients send batches)
AuthId = Annotated[str, Field(min_length=1, max_length=64)]


class HealthCheckIn(_Wire):
    """Run the provider checks of these authorizations on the platform, where their credentials are."""

    auth_ids: list[AuthId] = Field(min_length=1, max_length=MAX_CHECK_IDS)
    concurrency: int = Field(default=20, ge=1, le=100, strict=True)


class HealthReportOut(_Wire):
    auth_id: str = Field(min_length=1)
    status: Health
    reason: str = ""
    checked_at: datetime | None = None
    scopes_missing: list[str] = Field(default_factory=list)
    refreshed: bool = False
    requests: int = 0


class HealthReportsOut(_Wire):
    """One report per known authorization, in the order asked; ``missing_ids``: ids the platform does not know."""

    reports: list[HealthReportOut] = Field(default_factory=list)
    missing_ids: list[str] = Field(default_factory=list)


class RefreshIn(_Wire):
    """Refresh the OAuth 2 tokens of these authorizations (those close to expiry, or all with ``force``)."""

    auth_ids: list[AuthId] = Field(min_length=1, max_length=MAX_CHECK_IDS)
    force: bool = Field(default=False, strict=True)


class RefreshReportOut(_Wire):
    auth_id: str = Field(min_length=1)
    outcome: Literal["refreshed", "not_needed", "skipped", "failed"]
    reason: str = ""
    token_expires_at: datetime | None = None
    rotated: bool = False
    requests: int = 0


class RefreshReportsOut(_Wire):
    reports: list[RefreshReportOut] = Field(default_factory=list)
    missing_ids: list[str] = Field(default_factory=list)


# OAuth token hand-off (served only: Lytics makes OAuth connections in its UI). ``credentials``
# are write-only, like an AuthIn's secret config fields: no answer ever carries them.
class OAuthMethodOut(_Wire):
    """An OAuth method the platform accepts tokens for (``authctl login`` asks before the browser step)."""

    provider: str
    method: str
    type: str
    kind: str
    scopes: list[str] = Field(default_factory=list)


class OAuthGrantIn(_Wire):
    """A new OAuth connection with the tokens of ``authctl login``: access_token (+ refresh_token,
    token_type) for OAuth 2, oauth_token + oauth_token_secret for OAuth 1.0a."""

    label: str = Field(min_length=1)
    description: str = ""
    config: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, str]
    scopes: list[str] = Field(default_factory=list)
    token_expires_at: datetime | None = None
    user_id: str = ""


class OAuthTokensIn(_Wire):
    """New tokens for an existing OAuth connection (``authctl reauth``): same id, health back to healthy."""

    credentials: dict[str, str]
    scopes: list[str] = Field(default_factory=list)
    token_expires_at: datetime | None = None


# -- creation markers ---------------------------------------------------------------------------------
MARKER_LINE = "managed by authctl (marker {marker})"
_MARKER_TAIL = re.compile(r"(?:\n\n|\A)managed by authctl \(marker ([A-Za-z0-9_.-]{1,128})\)\Z")


def with_marker(description: str, marker: str | None) -> str:
    """``description`` with the marker line appended (a blank line apart); unchanged without a marker."""
    if not marker:
        return description
    line = MARKER_LINE.format(marker=marker)
    return f"{description}\n\n{line}" if description else line


def split_marker(description: str) -> tuple[str, str | None]:
    """``(description without its marker line, marker)``; the marker is None when there is no such line."""
    match = _MARKER_TAIL.search(description)
    if match is None:
        return description, None
    return description[: match.start()], match.group(1)
