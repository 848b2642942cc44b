"""Platform records in Lytics' words: the only place a record becomes a wire object.

Records never hold a secret (the platform keeps them sealed and write-only), and the wire
models have no field for one either, so nothing here can leak a credential. The records are
the platform's own, already checked, so the wire objects are built without validating them
again (``model_construct``): a list of 50,000 jobs is answered on every plan.
"""

from __future__ import annotations

from reconciler.catalog import Catalog
from reconciler.lytics_wire import AuthOut, ExperienceOut, JobOut, ProviderOut
from reconciler.platform import AuthRecord, ExperienceRecord, JobRecord
from reconciler.vocabulary import Health, JobStatus

PROVIDER_ID_PREFIX = "prov-"
WORKFLOW_ID_PREFIX = "wf-"


def api_type(catalog: Catalog, record: AuthRecord) -> str:
    """The type slug the authorization travels under (the stored one when the catalog lacks its method)."""
    method = catalog.method(record.provider, record.method)
    return catalog.api_type(record.provider, method) if method is not None else (record.type or "")


def auth_out(record: AuthRecord, catalog: Catalog, account_id: str) -> AuthOut:
    return AuthOut.model_construct(
        id=record.id, account_id=account_id, provider_id=f"{PROVIDER_ID_PREFIX}{record.provider}",
        provider_slug=record.provider, type=api_type(catalog, record), label=record.label,
        description=record.description, status=record.health, unhealthy=record.health is Health.UNHEALTHY,
        created=record.created, updated=record.updated, user_id=record.owner, health_reason=record.health_reason,
        health_checked_at=record.health_checked_at, token_expires_at=record.token_expires_at,
        scopes=list(record.scopes))


def job_out(record: JobRecord, account_id: str) -> JobOut:
    return JobOut.model_construct(
        id=record.id, account_id=account_id, name=record.name, workflow=record.workflow,
        workflow_id=f"{WORKFLOW_ID_PREFIX}{record.workflow}", status=record.status.value, config=record.config,
        auth_ids=list(record.auth_ids), description=record.description, created=record.created,
        updated=record.updated, user_id=record.owner, deleted=record.status is JobStatus.DELETED)


def experience_out(record: ExperienceRecord) -> ExperienceOut:
    return ExperienceOut(id=record.id, name=record.name, status=record.status, auth_ids=list(record.auth_ids),
                         created=record.created)


def providers_out(catalog: Catalog) -> list[ProviderOut]:
    return [ProviderOut(id=f"{PROVIDER_ID_PREFIX}{name}", slug=name, name=spec.title)
            for name, spec in sorted(catalog.providers.items())]
