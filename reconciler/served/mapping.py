"""Platform records in Lytics' words: the only place a record becomes a wire object.

Records never hold a secret (the platform keeps them sealed and write-only), and the wire
models have no field for one either, so nothing here can leak a credential.

Authorizations and jobs are answered by the ten thousand on every plan, so they are built
as plain dicts in the shape of their wire model (``AuthOut`` / ``JobOut``: every field,
by name), not as model instances: the records are the platform's own, already checked,
and even ``model_construct`` cost 15 us per job, 0.8 s of server CPU for a list of 50,000
jobs. tests/unit/test_served_mapping.py holds each dict to its model: the same keys, and
the model validates it.
"""

from __future__ import annotations

from typing import Any

from reconciler.catalog import Catalog
from reconciler.lytics_wire import ExperienceOut, ProviderOut
from reconciler.platform import AuthRecord, ExperienceRecord, JobRecord
from reconciler.vocabulary import Health, JobStatus

PROVIDER_ID_PREFIX = "prov-"
WORKFLOW_ID_PREFIX = "wf-"


def api_type(catalog: Catalog, record: AuthRecord) -> str:
    """The type slug the authorization travels under (the stored one when the catalog lacks its method)."""
    method = catalog.method(record.provider, record.method)
    return catalog.api_type(record.provider, method) if method is not None else (record.type or "")


def auth_out(record: AuthRecord, catalog: Catalog, account_id: str) -> dict[str, Any]:
    """An ``AuthOut`` as a dict (see the module docstring); keyword form: the field names are identifiers."""
    return dict(
        id=record.id, account_id=account_id, provider_id=f"{PROVIDER_ID_PREFIX}{record.provider}",
        provider_slug=record.provider, type=api_type(catalog, record), label=record.label,
        description=record.description, status=record.health.value, unhealthy=record.health is Health.UNHEALTHY,
        created=record.created, updated=record.updated, last_accessed_at=None, user_id=record.owner,
        health_reason=record.health_reason, health_checked_at=record.health_checked_at,
        token_expires_at=record.token_expires_at, scopes=list(record.scopes),
    )


def job_out(record: JobRecord, account_id: str) -> dict[str, Any]:
    """A ``JobOut`` as a dict (see the module docstring)."""
    return {
        "id": record.id, "account_id": account_id, "name": record.name, "workflow": record.workflow,
        "workflow_id": f"{WORKFLOW_ID_PREFIX}{record.workflow}", "status": record.status.value,
        "config": record.config, "auth_ids": list(record.auth_ids), "description": record.description,
        "created": record.created, "updated": record.updated, "user_id": record.owner,
        "deleted": record.status is JobStatus.DELETED, "sleep_until": None,
    }


def experience_out(record: ExperienceRecord) -> ExperienceOut:
    return ExperienceOut(id=record.id, name=record.name, status=record.status, auth_ids=list(record.auth_ids),
                         created=record.created)


def providers_out(catalog: Catalog) -> list[ProviderOut]:
    return [ProviderOut(id=f"{PROVIDER_ID_PREFIX}{name}", slug=name, name=spec.title)
            for name, spec in sorted(catalog.providers.items())]
