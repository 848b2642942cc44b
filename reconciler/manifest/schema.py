"""JSON Schemas for editors (yaml-language-server): the manifest format and ``authctl.yaml``.

:func:`manifest_schema` starts from the pydantic models and narrows it with what the
catalog knows, so an editor completes and checks what validation checks:

- provider, method and workflow names are enums;
- per provider, the methods it has; per provider and method (``if``/``then`` on
  ``spec.provider`` + ``spec.method``), the fields ``spec.config`` and ``spec.credentials``
  take, with their titles, descriptions, types, patterns and which are required;
- per workflow (``if``/``then`` on ``spec.workflow``), the fields of ``spec.config``.
  Validation only *warns* about a job config field its workflow does not declare
  (catalogs lag platforms), so the schema does not forbid one either; an Authorization's
  unknown config field is an error in both.

Manifests are Jinja2 templates: a value such as ``"{{ fb_account }}"`` is checked after
rendering. So that an editor does not flag the source, a string holding a Jinja2
expression (``{{`` or ``{%``) is also accepted where a pattern or a fixed list of values
applies, except for provider, method and workflow names (which choose the conditional
schemas, and which nobody templates). What the schema accepts is a superset of what
``authctl validate`` accepts once rendered; what it rejects, validate rejects too.

:func:`settings_schema` is the schema of ``authctl.yaml`` from the pydantic ``Settings``
model of reconciler/workspace.py, with a description for every field (kept here, in
:data:`SETTINGS_DESCRIPTIONS`; a test fails when a settings field has none) and the
bounds its validators check.

:func:`schema_text` is the one way both are written (``authctl schema``,
``scripts/write_schemas.py`` and the committed ``schema/*.schema.json``).
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.catalog import Catalog, FieldSpec, MethodSpec, WorkflowSpec
from reconciler.manifest.model import AuthorizationDocument, JobDocument
from reconciler.manifest.secret_files import MAX_PATH_CHARS
from reconciler.manifest.validate import MAX_ENV_NAME

SCHEMA_ID = "https://authctl.dev/schema/v1/manifest.json"
SETTINGS_SCHEMA_ID = "https://authctl.dev/schema/v1/settings.json"
_DRAFT = "https://json-schema.org/draft/2020-12/schema"
TEMPLATE_PATTERN = r"\{\{|\{%"
_TEMPLATE_REF = {"$ref": "#/$defs/Template"}
_TEMPLATE = {"type": "string", "pattern": TEMPLATE_PATTERN,
             "description": "A Jinja2 expression, checked once rendered (`authctl validate`)."}
_ENV_NAME = {"type": "string", "anyOf": [{"pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "maxLength": MAX_ENV_NAME},
                                         _TEMPLATE_REF]}
_SECRET_REF = {
    "description": "A secret reference; never a literal secret.",
    "oneOf": [
        {"type": "object", "properties": {"env": {**_ENV_NAME, "description": "The environment variable's name."}},
         "required": ["env"], "additionalProperties": False},
        {"type": "object", "properties": {"file": {"type": "string", "minLength": 1, "maxLength": MAX_PATH_CHARS,
                                                   "description": "A file in the workspace or under secret_dirs."}},
         "required": ["file"], "additionalProperties": False},
    ],
}
# Catalog field types as JSON Schema; "string" takes numbers too, as validation does
# (YAML reads an unquoted 549755885175 as a number).
_FIELD_TYPES: dict[str, Any] = {"string": ["string", "number"], "number": "number", "integer": "integer",
                                "boolean": "boolean", "list": "array", "mapping": "object"}


def schema_text(schema: dict[str, Any]) -> str:
    """The text ``authctl schema`` prints and ``schema/*.schema.json`` hold."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def _or_template(node: dict[str, Any], *constraints: str) -> None:
    """Move ``constraints`` of ``node`` into ``anyOf: [them, a Jinja2 expression]`` (annotations stay)."""
    strict = {key: node.pop(key) for key in constraints if key in node}
    node["anyOf"] = [strict, _TEMPLATE_REF]


def manifest_schema(catalog: Catalog) -> dict[str, Any]:
    auth = AuthorizationDocument.model_json_schema(ref_template="#/$defs/{model}")
    job = JobDocument.model_json_schema(ref_template="#/$defs/{model}")
    defs: dict[str, Any] = {**auth.pop("$defs", {}), **job.pop("$defs", {})}
    defs["AuthorizationDocument"] = auth
    defs["JobDocument"] = job
    defs["SecretRef"] = _SECRET_REF
    defs["Template"] = _TEMPLATE
    _or_template(defs["Metadata"]["properties"]["name"], "type", "pattern", "maxLength")
    auth_spec = defs["AuthorizationSpecModel"]
    auth_spec["properties"]["provider"]["enum"] = sorted(catalog.providers)
    auth_spec["properties"]["method"]["enum"] = sorted({m for p in catalog.providers.values() for m in p.methods})
    auth_spec["properties"]["credentials"]["additionalProperties"] = {"$ref": "#/$defs/SecretRef"}
    job_spec = defs["JobSpecModel"]
    job_spec["properties"]["workflow"]["enum"] = sorted(catalog.workflows)
    _or_template(job_spec["properties"]["state"], "type", "enum")

    conditions: list[dict[str, Any]] = []
    for provider in sorted(catalog.providers.values(), key=lambda p: p.name):
        conditions.append({"if": _when(provider=provider.name),
                           "then": {"properties": {"method": {"enum": list(provider.methods)}}}})
        for method in provider.methods.values():
            key = f"{provider.name}.{method.name}"
            defs[f"Config.{key}"] = _method_config(provider.name, method)
            defs[f"Credentials.{key}"] = _method_credentials(provider.name, method)
            then: dict[str, Any] = {"properties": {"config": {"$ref": f"#/$defs/Config.{key}"},
                                                   "credentials": {"$ref": f"#/$defs/Credentials.{key}"}}}
            required = [part for part, fields in (("config", method.config_fields),
                                                  ("credentials", method.secret_fields))
                        if any(f.required for f in fields.values())]
            if required:
                then["required"] = required
            conditions.append({"if": _when(provider=provider.name, method=method.name), "then": then})
    auth_spec["allOf"] = conditions

    job_conditions: list[dict[str, Any]] = []
    for name in sorted(catalog.workflows):
        workflow = catalog.workflow_spec(name)
        if workflow is None or not workflow.fields:
            continue  # no declared fields: nothing to complete or check
        defs[f"JobConfig.{name}"] = _workflow_config(workflow)
        then = {"properties": {"config": {"$ref": f"#/$defs/JobConfig.{name}"}}}
        if any(f.required for f in workflow.fields):
            then["required"] = ["config"]
        job_conditions.append({"if": _when(workflow=name), "then": then})
    job_spec["allOf"] = job_conditions
    # Chosen by kind (not oneOf): an editor then reports the field that is wrong, not "matches no schema".
    return {
        "$schema": _DRAFT,
        "$id": SCHEMA_ID,
        "title": "authctl manifest (authctl/v1)",
        "type": "object",
        "properties": {"kind": {"enum": ["Authorization", "Job"], "description": "What the document declares."}},
        "required": ["kind"],
        "allOf": [{"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                   "then": {"$ref": f"#/$defs/{kind}Document"}} for kind in ("Authorization", "Job")],
        "$defs": defs,
    }


def _when(**values: str) -> dict[str, Any]:
    """``if`` these spec fields hold these values."""
    return {"properties": {key: {"const": value} for key, value in values.items()}, "required": list(values)}


def _field(spec: FieldSpec) -> dict[str, Any]:
    node: dict[str, Any] = {"title": spec.title, "type": _FIELD_TYPES[spec.type]}
    if spec.description:
        node["description"] = spec.description
    if spec.example is not None and spec.type == "string":
        node["examples"] = [spec.example]
    if spec.type == "list":
        items: dict[str, Any] = {}
        if spec.items is not None:
            items["type"] = _FIELD_TYPES[spec.items]
        if spec.enum is not None:  # an item may be a template, checked once rendered (as single values)
            items["anyOf"] = [{"enum": list(spec.enum)}, _TEMPLATE_REF]
        if items:
            node["items"] = items
        return node
    for bound in ("minimum", "maximum"):
        if getattr(spec, bound) is not None:
            node[bound] = getattr(spec, bound)
    constraints: dict[str, Any] = {}
    if spec.pattern:
        constraints["pattern"] = spec.pattern
    if spec.enum is not None:
        constraints["enum"] = list(spec.enum)
    if constraints:
        node["anyOf"] = [constraints, _TEMPLATE_REF]
    return node


def _method_config(provider: str, method: MethodSpec) -> dict[str, Any]:
    fields = method.config_fields
    return {
        "title": f"spec.config of {provider}/{method.name}",
        "description": method.title + ("" if fields else " (takes no config)"),
        "type": "object",
        "properties": {name: _field(spec) for name, spec in fields.items()},
        "required": [name for name, spec in fields.items() if spec.required],
        "additionalProperties": False,
    }


def _method_credentials(provider: str, method: MethodSpec) -> dict[str, Any]:
    if method.is_oauth:
        return {"title": f"spec.credentials of {provider}/{method.name}",
                "description": f"{method.title}: an OAuth connection takes no credentials in manifests; "
                               "its tokens come from `authctl login NAME`.",
                "type": "object", "additionalProperties": False}
    fields = method.secret_fields
    return {
        "title": f"spec.credentials of {provider}/{method.name}",
        "description": method.title,
        "type": "object",
        "properties": {name: {"$ref": "#/$defs/SecretRef", "title": spec.title,
                              **({"description": spec.description} if spec.description else {})}
                       for name, spec in fields.items()},
        "required": [name for name, spec in fields.items() if spec.required],
        "additionalProperties": False,
    }


def _workflow_config(workflow: WorkflowSpec) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for spec in workflow.fields:
        properties[spec.name] = ({"not": {}, "description": f"{spec.title}: marked secret by the catalog; job "
                                                            "config cannot hold secrets (plans show it)"}
                                 if spec.secret else _field(spec))
    return {
        "title": f"spec.config of workflow {workflow.name}",
        "description": workflow.title + " (fields the catalog does not declare are warned about, not refused)",
        "type": "object",
        "properties": properties,
        "required": [spec.name for spec in workflow.fields if spec.required],
    }


# -- authctl.yaml ----------------------------------------------------------------------------------------------

#: A description for every field of the settings models (reconciler/workspace.py), by model and field.
SETTINGS_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "Settings": {
        "version": "The format of this file: 1.",
        "name": "The workspace's name: ties the state store to this workspace (unnamed: to its folder).",
        "default_environment": "The environment used without --env.",
        "vars": "Jinja2 variables every environment renders the manifests with.",
        "environments": "Each environment (--env NAME): its variables, and its own platform and state.",
        "providers": "Extra provider-catalog folders (relative to the workspace), read after the built-in one.",
        "backend": "Where the live authorizations and jobs are.",
        "state": "Where authctl keeps its memory (names, fingerprints, lock, journal).",
        "policy": "Knobs for warnings and guards, and the rules the manifests must follow (validate and plan).",
        "secret_dirs": "Folders outside the workspace that {file: PATH} credentials may read, e.g. /run/secrets.",
        "oauth_clients": "The OAuth app of each provider, for authctl login, reauth and refresh.",
        "provider_overrides": "Endpoints to use instead of the catalog's, by provider (test servers, gateways).",
    },
    "OAuthClientSettings": {
        "client_id": "The OAuth app's client id.",
        "client_secret": "Where the client secret is, {env: VARIABLE} or {file: PATH} (never the secret itself); "
                         "omit for a public client (PKCE only).",
    },
    "ProviderOverride": {
        "authorization_url": "The authorization (consent) endpoint.",
        "token_url": "The token endpoint.",
        "revocation_url": "The token revocation endpoint (RFC 7009).",
        "request_token_url": "OAuth 1.0a: the request-token endpoint.",
        "api_base_url": "Scheme, host and port (and an optional path prefix) for the provider's API calls, "
                        "e.g. health checks; their paths are kept.",
    },
    "EnvironmentSettings": {
        "vars": "Jinja2 variables of this environment (over the shared vars).",
        "description": "What this environment is, for people.",
        "backend": "This environment's own platform (else the shared backend).",
        "state": "This environment's own state store (else a namespace of its own, named after it, in the shared one).",
    },
    "BackendSettings": {
        "kind": "local: the embedded platform; lytics: a Lytics-shaped API.",
        "path": "local: the platform database: a file path (SQLite), sqlite:///PATH or postgresql+psycopg://...",
        "url": "lytics: the API's base URL, e.g. https://api.lytics.io (plain http only to 127.0.0.1, localhost, ::1).",
        "token": "lytics: where the API token is, {env: VARIABLE} or {file: PATH} (never the token itself).",
        "token_env": "lytics, older form of token: {env: NAME}: the NAME of the environment variable holding the "
                     "API token (never the token).",
        "account_id": "lytics: the account to use, when the token reaches several.",
        "timeout_seconds": "lytics: how long one request may wait for the platform (seconds, default 30).",
        "mode": "local: guarded (a delete of something in use is refused) or cascade (it stops the jobs, as "
                "Lytics does).",
    },
    "TokenReference": {
        "env": "The NAME of the environment variable holding the API token.",
        "file": "A file holding the API token (inside the workspace or a secret_dirs folder).",
    },
    "StateSettings": {
        "url": "A file path (SQLite), sqlite:///PATH or postgresql+psycopg://...; never in-memory.",
    },
    "PolicySettings": {
        "expiry_warning_days": "Warn about credentials expiring within this many days (0 to 3650).",
        "rules": "Rules the manifests must follow, each an error or a warning: forbid_method, require_description, "
                 "require_owner, max_token_age, allowed_providers, label_pattern.",
    },
    "ForbidMethodRule": {
        "rule": "forbid_method: no authorization may use this provider's method.",
        "provider": "The provider (`authctl providers`).",
        "method": "The forbidden method of that provider, e.g. user_oauth.",
        "severity": "error (validate, plan and apply refuse; the default) or warning (shown with the plan's warnings).",
        "environments": "The environments (--env) the rule applies in; empty or absent: every run.",
        "message": "Advice added to each violation, e.g. \"use the system user in prod\".",
    },
    "RequireDescriptionRule": {
        "rule": "require_description: spec.description must not be blank.",
        "kinds": "Which manifests: Authorization (the default) and/or Job.",
        "severity": "error (validate, plan and apply refuse; the default) or warning (shown with the plan's warnings).",
        "environments": "The environments (--env) the rule applies in; empty or absent: every run.",
        "message": "Advice added to each violation, e.g. \"use the system user in prod\".",
    },
    "RequireOwnerRule": {
        "rule": "require_owner: the owner is named in a metadata label.",
        "key": "The metadata.labels key that names the owner (default owner).",
        "kinds": "Which manifests: Authorization (the default) and/or Job.",
        "severity": "error (validate, plan and apply refuse; the default) or warning (shown with the plan's warnings).",
        "environments": "The environments (--env) the rule applies in; empty or absent: every run.",
        "message": "Advice added to each violation, e.g. \"use the system user in prod\".",
    },
    "MaxTokenAgeRule": {
        "rule": "max_token_age: a credential is rotated (replaced) within this many days; checked by plan.",
        "days": "The oldest a token may be, in days since its authorization was created (1 to 3650).",
        "severity": "error (validate, plan and apply refuse; the default) or warning (shown with the plan's warnings).",
        "environments": "The environments (--env) the rule applies in; empty or absent: every run.",
        "message": "Advice added to each violation, e.g. \"use the system user in prod\".",
    },
    "AllowedProvidersRule": {
        "rule": "allowed_providers: authorizations use only these providers.",
        "providers": "The providers allowed (`authctl providers`).",
        "severity": "error (validate, plan and apply refuse; the default) or warning (shown with the plan's warnings).",
        "environments": "The environments (--env) the rule applies in; empty or absent: every run.",
        "message": "Advice added to each violation, e.g. \"use the system user in prod\".",
    },
    "LabelPatternRule": {
        "rule": "label_pattern: every authorization's spec.label matches a regular expression.",
        "pattern": "A Python regular expression the whole label must match, e.g. '[A-Z][A-Za-z ]+ \\((staging|prod)\\)'.",
        "severity": "error (validate, plan and apply refuse; the default) or warning (shown with the plan's warnings).",
        "environments": "The environments (--env) the rule applies in; empty or absent: every run.",
        "message": "Advice added to each violation, e.g. \"use the system user in prod\".",
    },
}
# What the models' validators check, for editors (the validators stay the authority).
_SETTINGS_BOUNDS: dict[str, dict[str, dict[str, Any]]] = {
    "BackendSettings": {"token_env": {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$"},
                        "timeout_seconds": {"exclusiveMinimum": 0, "maximum": 600}},
    "TokenReference": {"env": {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$"}},
    "PolicySettings": {"expiry_warning_days": {"minimum": 0, "maximum": 3650}},
    "MaxTokenAgeRule": {"days": {"minimum": 1, "maximum": 3650}},
}


def settings_schema() -> dict[str, Any]:
    """The JSON Schema of ``authctl.yaml``, from the Settings model, with every field described."""
    from reconciler.workspace import Settings

    schema = Settings.model_json_schema(ref_template="#/$defs/{model}")
    defs = schema.pop("$defs", {})
    defs["Settings"] = schema
    for model, fields in SETTINGS_DESCRIPTIONS.items():
        properties = defs.get(model, {}).get("properties", {})
        for name, text in fields.items():
            if name in properties:
                properties[name].setdefault("description", text)
    for model, fields in _SETTINGS_BOUNDS.items():
        properties = defs.get(model, {}).get("properties", {})
        for name, bounds in fields.items():
            if name in properties:
                properties[name].update(bounds)
    return {
        "$schema": _DRAFT,
        "$id": SETTINGS_SCHEMA_ID,
        "title": "authctl.yaml (authctl workspace settings)",
        "$ref": "#/$defs/Settings",
        "$defs": defs,
    }
