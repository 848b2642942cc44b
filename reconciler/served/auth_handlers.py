"""Authorizations and providers: ``/v2/auth`` and ``/v2/provider``, as Lytics answers them.

A create takes the type's fields in ``config``, secrets included, checks them with the
catalog's rules (``config_rules``: the same rules manifests are validated with), and
stores secret fields as credentials and the rest as config: neither is ever returned.
The description is kept verbatim, creation marker line included, as Lytics keeps it.
"""

from __future__ import annotations

from reconciler.catalog import MethodSpec, ProviderSpec
from reconciler.errors import NotFoundError
from reconciler.lytics_wire import AuthDeletedOut, AuthIn, AuthUpdateIn, ErrorCode
from reconciler.platform import AuthRecord, Platform
from reconciler.served.context import API_OWNER, Call, Reply, Served
from reconciler.served.credentials import revocation_warnings
from reconciler.served.envelopes import ApiFailure
from reconciler.served.gateway import AUTH_REFUSALS
from reconciler.served.inputs import check_config, check_length, parse_model
from reconciler.served.mapping import api_type, auth_out, providers_out
from reconciler.served.paging import page

LABEL_MAX = 255  # the platform's column sizes (reconciler/platform/schema.py)
OWNER_MAX = 128
IMMUTABLE_CONFIG = "config is immutable: create a new authorization"


def _method_of_type(served: Served, slug: str) -> tuple[ProviderSpec, MethodSpec]:
    found = served.catalog.by_api_type(slug)
    if found is None:
        raise ApiFailure(404, ErrorCode.AUTHTYPE_NOTFOUND, f"unknown authorization type {slug!r}")
    return found


def _check_label(label: str) -> None:
    if not label.strip():
        raise ApiFailure(400, ErrorCode.AUTH_BADREQ, "label: must not be blank")
    check_length(label, LABEL_MAX, "label", ErrorCode.AUTH_BADREQ)


def _typed_auth(platform: Platform, served: Served, auth_id: str, slug: str) -> AuthRecord:
    """The authorization ``auth_id`` if it has type ``slug``; 404 otherwise (as for an unknown id)."""
    try:
        record = platform.get_authorization(auth_id)
    except NotFoundError:
        record = None
    if record is None or api_type(served.catalog, record) != slug:
        raise ApiFailure(404, ErrorCode.AUTH_NOTFOUND, f"no authorization {auth_id!r} of type {slug!r}")
    return record


async def list_auths(served: Served, call: Call) -> Reply:
    records = await served.gateway.run(lambda p: p.list_authorizations(), AUTH_REFUSALS)
    shown, meta = page(records, lambda r: r.id, call.query)
    return Reply([auth_out(r, served.catalog, served.account_id) for r in shown], meta)


async def create_auth(served: Served, call: Call) -> Reply:
    slug = call.path["type_or_id"]
    provider, method = _method_of_type(served, slug)
    body = parse_model(AuthIn, call.body or {}, ErrorCode.AUTH_BADREQ)
    _check_label(body.label)
    check_length(body.user_id, OWNER_MAX, "user_id", ErrorCode.AUTH_BADREQ)
    check_config(method.fields, body.config, ErrorCode.AUTH_BADREQ, unknown_allowed=False)
    secret = method.secret_fields
    credentials = {k: v for k, v in body.config.items() if k in secret}
    config = {k: v for k, v in body.config.items() if k not in secret}
    record = await served.gateway.run(lambda p: p.create_authorization(
        provider=provider.name, method=method.name, type=slug, label=body.label, description=body.description,
        config=config, credentials=credentials, owner=body.user_id or API_OWNER), AUTH_REFUSALS)
    return Reply(auth_out(record, served.catalog, served.account_id))


async def get_auth(served: Served, call: Call) -> Reply:
    slug, auth_id = call.path["type"], call.path["id"]
    record = await served.gateway.run(lambda p: _typed_auth(p, served, auth_id, slug), AUTH_REFUSALS)
    return Reply(auth_out(record, served.catalog, served.account_id))


async def update_auth(served: Served, call: Call) -> Reply:
    """Label and description only: Lytics' config is write-once, so a ``config`` key is refused, not ignored."""
    slug, auth_id = call.path["type"], call.path["id"]
    if call.body is not None and "config" in call.body:
        raise ApiFailure(400, ErrorCode.AUTH_BADREQ, IMMUTABLE_CONFIG)
    body = parse_model(AuthUpdateIn, call.body or {}, ErrorCode.AUTH_BADREQ)
    changes: dict[str, str] = {}
    if body.label is not None:
        _check_label(body.label)
        changes["label"] = body.label
    if body.description is not None:
        changes["description"] = body.description

    def work(p: Platform) -> AuthRecord:
        record = _typed_auth(p, served, auth_id, slug)
        return p.update_authorization(auth_id, **changes) if changes else record

    record = await served.gateway.run(work, AUTH_REFUSALS)
    return Reply(auth_out(record, served.catalog, served.account_id))


async def delete_auth(served: Served, call: Call) -> Reply:
    """Guarded: refused (409) while active jobs or experiences use it. Cascade: stops those jobs, as Lytics does.

    An OAuth grant's tokens are revoked at the provider first (served/credentials.py); a
    failure to revoke is a warning in the answer, and the delete goes on.
    """
    auth_id = call.path["type_or_id"]
    warnings = await revocation_warnings(served, auth_id)
    stopped = await served.gateway.run(lambda p: p.delete_authorization(auth_id, mode=served.mode), AUTH_REFUSALS)
    return Reply(AuthDeletedOut(id=auth_id, stopped_job_ids=[job.id for job in stopped], warnings=warnings))


async def list_providers(served: Served, call: Call) -> Reply:
    shown, meta = page(providers_out(served.catalog), lambda p: p.id, call.query)
    return Reply(shown, meta)
